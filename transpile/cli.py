"""Command line: argument parsing and output formatting only; every decision lives in the passes.

Imports of the heavy modules happen inside the handlers so that ``dockuni check`` starts fast.

Exit codes (docs/user-guide.md): 0 success / clean, 1 findings at or above the threshold or a
conversion that fell back / failed verification, 2 usage or input error, 3 a needed component
(the Docker engine, strace, QEMU) is not available.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from transpile import __version__
from transpile.errors import DockuniError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


def _add_image_source(p: argparse.ArgumentParser, *, required: bool) -> None:
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--build", metavar="DOCKERFILE", help="build this Dockerfile with the Docker engine")
    src.add_argument("--image", metavar="NAME", help="an image already in the local Docker engine")
    src.add_argument("--archive", metavar="TAR", help="a `docker save` tar (no engine needed)")
    src.add_argument("--oci", metavar="PATH", help="an OCI image layout directory or oci-archive tar")
    _add_build_options(p)


def _add_build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--context", metavar="DIR", help="build context (default: the Dockerfile's directory)")
    p.add_argument(
        "--build-arg", metavar="K=V", action="append", default=[], help="build argument (repeatable)"
    )
    p.add_argument("--build-target", metavar="STAGE", help="build up to this stage")


def _add_format(p: argparse.ArgumentParser, choices: Sequence[str], default: str = "text") -> None:
    p.add_argument("--format", choices=list(choices), default=default, help=f"output format (default {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockuni",
        description="Convert Dockerfiles to unikernel recipes, or say exactly why not.",
    )
    parser.add_argument("--version", action="version", version=f"dockuni {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("parse", help="parse Dockerfiles as BuildKit does and print the AST")
    p.add_argument("files", nargs="+", metavar="FILE")
    _add_format(p, ("json", "text"), default="json")
    p.set_defaults(handler=_cmd_parse)

    p = sub.add_parser("check", help="static unikernel-compatibility rules (the pre-commit hook)")
    p.add_argument("files", nargs="+", metavar="FILE")
    _add_format(p, ("text", "json", "sarif"))
    p.add_argument("--config", metavar="TOML", help="config file (default: .dockuni.toml or pyproject.toml)")
    p.add_argument("--ignore", metavar="RULE", action="append", default=[], help="ignore a rule (repeatable)")
    p.add_argument("--targets", metavar="LIST", help="comma-separated targets to check for")
    p.add_argument(
        "--failure-threshold",
        choices=["error", "warning", "info", "style", "none"],
        help="lowest severity that makes the exit code 1",
    )
    p.add_argument("--no-color", action="store_true", help="never colour the output")
    p.set_defaults(handler=_cmd_check)

    p = sub.add_parser("inspect", help="image config, entrypoint chain, ELF facts and library closure")
    _add_image_source(p, required=True)
    _add_format(p, ("text", "json"))
    p.set_defaults(handler=_cmd_inspect)

    p = sub.add_parser("trace", help="run the entrypoint in a sandbox under a tracer and record its needs")
    _add_image_source(p, required=True)
    p.add_argument("--duration", type=float, default=8.0, metavar="S", help="seconds to run (default 8)")
    p.add_argument(
        "--probe", action="append", default=[], metavar="CMD", help="command run in the sandbox's network"
    )
    p.add_argument("--seccomp", metavar="FILE", help="also write the derived Docker seccomp profile here")
    _add_format(p, ("text", "json"))
    p.set_defaults(handler=_cmd_trace)

    p = sub.add_parser("graph", help="the facility graph of an image (static facts plus a trace)")
    _add_image_source(p, required=True)
    p.add_argument("--dockerfile", metavar="FILE", help="the Dockerfile the image was built from")
    p.add_argument("--trace", metavar="JSON", help="reuse a `dockuni trace --format json` result")
    p.add_argument("--no-trace", action="store_true", help="static facts only")
    _add_format(p, ("json", "dot", "svg"), default="json")
    p.set_defaults(handler=_cmd_graph)

    p = sub.add_parser("convert", help="Dockerfile -> unikernel recipes, or a hardened container")
    p.add_argument("dockerfile", metavar="DOCKERFILE")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", metavar="NAME", help="use this engine image instead of building")
    src.add_argument("--archive", metavar="TAR", help="use this `docker save` tar instead of building")
    src.add_argument("--oci", metavar="PATH", help="use this OCI layout/archive instead of building")
    _add_build_options(p)
    p.add_argument(
        "--target",
        default="auto",
        metavar="LIST",
        help="auto, or a comma-separated subset of unikraft,nanos,osv,microvm (default auto)",
    )
    p.add_argument("--no-trace", action="store_true", help="skip the sandboxed trace (static verdicts only)")
    p.add_argument("--duration", type=float, default=8.0, metavar="S", help="trace duration (default 8)")
    p.add_argument("--verify", action="store_true", help="boot the microVM and probe the app")
    p.add_argument("--kernel", metavar="BZIMAGE", help="kernel for --verify (default: build or stock)")
    p.add_argument("-o", "--output", default="dockuni-out", metavar="DIR", help="output directory")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    _add_format(p, ("text", "json"))
    p.set_defaults(handler=_cmd_convert)

    return parser


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


# --- handlers: each parses nothing more and decides nothing; it calls one API and formats ---------


def _cmd_parse(args: argparse.Namespace) -> int:
    raise DockuniError("parse is not implemented yet")


def _cmd_check(args: argparse.Namespace) -> int:
    raise DockuniError("check is not implemented yet")


def _cmd_inspect(args: argparse.Namespace) -> int:
    raise DockuniError("inspect is not implemented yet")


def _cmd_trace(args: argparse.Namespace) -> int:
    raise DockuniError("trace is not implemented yet")


def _cmd_graph(args: argparse.Namespace) -> int:
    raise DockuniError("graph is not implemented yet")


def _cmd_convert(args: argparse.Namespace) -> int:
    raise DockuniError("convert is not implemented yet")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.handler(args)
        return code
    except DockuniError as err:
        sys.stderr.write(f"{err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("dockuni: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
