"""Command line: argument parsing and output formatting only; every decision lives in the passes.

Imports of the heavy modules happen inside the handlers so that ``dockuni check`` starts fast.

Exit codes (docs/user-guide.md): 0 success / clean, 1 findings at or above the threshold or a
conversion that fell back / failed verification, 2 usage or input error, 3 a needed component
(the Docker engine, strace, QEMU) is not available, 4 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from transpile import __version__
from transpile.errors import DockuniError, ExitCode

EXIT_OK = ExitCode.OK
EXIT_FINDINGS = ExitCode.FINDINGS
EXIT_USAGE = ExitCode.USAGE
EXIT_ENVIRONMENT = ExitCode.ENVIRONMENT
EXIT_INTERNAL = ExitCode.INTERNAL


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
    p.add_argument(
        "--format", choices=list(choices), default=default, help=f"output format (default {default})"
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, just that one subcommand (a faster start-up when the
    command is already known, with the same parsing and messages for it)."""
    parser = argparse.ArgumentParser(
        prog="dockuni",
        description="Convert Dockerfiles to unikernel recipes, or say exactly why not.",
    )
    parser.add_argument("--version", action="version", version=f"dockuni {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    if only in (None, "parse"):
        p = sub.add_parser("parse", help="parse Dockerfiles as BuildKit does and print the AST")
        p.add_argument("files", nargs="+", metavar="FILE")
        _add_format(p, ("json", "text"), default="json")
        p.set_defaults(handler=_cmd_parse)

    if only in (None, "check"):
        p = sub.add_parser("check", help="static unikernel-compatibility rules (the pre-commit hook)")
        p.add_argument("files", nargs="+", metavar="FILE")
        _add_format(p, ("text", "json", "sarif"))
        p.add_argument(
            "--config", metavar="TOML", help="config file (default: .dockuni.toml or pyproject.toml)"
        )
        p.add_argument(
            "--ignore", metavar="RULE", action="append", default=[], help="ignore a rule (repeatable)"
        )
        p.add_argument("--targets", metavar="LIST", help="comma-separated targets to check for")
        p.add_argument(
            "--failure-threshold",
            choices=["error", "warning", "info", "style", "none"],
            help="lowest severity that makes the exit code 1",
        )
        p.add_argument("--no-color", action="store_true", help="never colour the output")
        p.set_defaults(handler=_cmd_check)

    if only in (None, "inspect"):
        p = sub.add_parser("inspect", help="image config, entrypoint chain, ELF facts and library closure")
        _add_image_source(p, required=True)
        _add_format(p, ("text", "json"))
        p.set_defaults(handler=_cmd_inspect)

    if only in (None, "trace"):
        p = sub.add_parser(
            "trace", help="run the entrypoint in a sandbox under a tracer and record its needs"
        )
        _add_image_source(p, required=True)
        p.add_argument("--duration", type=float, default=8.0, metavar="S", help="seconds to run (default 8)")
        p.add_argument(
            "--probe", action="append", default=[], metavar="CMD", help="command run in the sandbox's network"
        )
        p.add_argument("--seccomp", metavar="FILE", help="also write the derived Docker seccomp profile here")
        _add_format(p, ("text", "json"))
        p.set_defaults(handler=_cmd_trace)

    if only in (None, "graph"):
        p = sub.add_parser("graph", help="the facility graph of an image (static facts plus a trace)")
        _add_image_source(p, required=True)
        p.add_argument("--dockerfile", metavar="FILE", help="the Dockerfile the image was built from")
        p.add_argument("--trace", metavar="JSON", help="reuse a `dockuni trace --format json` result")
        p.add_argument("--no-trace", action="store_true", help="static facts only")
        _add_format(p, ("json", "dot", "svg"), default="json")
        p.set_defaults(handler=_cmd_graph)

    if only in (None, "convert"):
        p = sub.add_parser("convert", help="Dockerfile -> unikernel recipes, or a hardened container")
        p.add_argument("dockerfile", metavar="DOCKERFILE")
        src = p.add_mutually_exclusive_group()
        src.add_argument("--image", metavar="NAME", help="use this engine image instead of building")
        src.add_argument("--archive", metavar="TAR", help="use this `docker save` tar instead of building")
        src.add_argument("--oci", metavar="PATH", help="use this OCI layout/archive instead of building")
        _add_build_options(p)
        from transpile import targets as registry

        p.add_argument(
            "--target",
            default="auto",
            metavar="LIST",
            help=f"auto, or a comma-separated subset of {','.join(registry.names())} (default auto)",
        )
        p.add_argument(
            "--no-trace", action="store_true", help="skip the sandboxed trace (static verdicts only)"
        )
        p.add_argument("--duration", type=float, default=8.0, metavar="S", help="trace duration (default 8)")
        p.add_argument(
            "--probe-budget",
            type=int,
            default=12,
            metavar="N",
            help="fault-injection runs testing stubbed or missing items on the app (0: none; default 12)",
        )
        p.add_argument("--verify", action="store_true", help="boot the VM recipe and probe the app")
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
    from transpile.syntax import parse_path

    results: list[dict[str, object]] = []
    failed = False
    for path in args.files:
        try:
            parsed = parse_path(path)
        except DockuniError as err:
            failed = True
            if args.format == "json":
                results.append({"file": path, "instructions": [], "error": err.to_json()})
            else:
                sys.stderr.write(f"{err}\n")
            continue
        if args.format == "json":
            results.append({"file": path, "instructions": [n.to_json() for n in parsed.nodes], "error": None})
            continue
        for n in parsed.nodes:
            words = [n.cmd.upper()] + ([n.sub_cmd.upper()] if n.sub_cmd else [])
            words += [*n.flags, *n.sub_flags]
            words += [json.dumps(v, ensure_ascii=False) for v in n.value]
            words += [f"<<{h.name}" for h in n.heredocs]
            sys.stdout.write(f"{path}:{n.start_line}:{n.start_column} {' '.join(words)}\n")
    if args.format == "json":
        _print_json(results)
    return EXIT_FINDINGS if failed else EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    import gc
    import os

    from transpile import report
    from transpile.check import CheckOptions, run_check
    from transpile.passes import lower  # noqa: F401
    from transpile.rules.registry import all_rules

    all_rules()
    if not gc.get_freeze_count():
        # Everything loaded so far lives as long as the process: keep it out of the cyclic garbage
        # collector, which otherwise walks it again at every full collection while files are checked
        # (and, as the gc documentation advises, before check forks its child).
        gc.freeze()

    targets = None
    if args.targets:
        from transpile import targets as registry

        targets = registry.parse_names(args.targets) or None
        if targets is None:
            raise DockuniError("--targets: name at least one target", file="--targets")
    options = CheckOptions(
        ignore=frozenset(i.strip().upper() for raw in args.ignore for i in raw.split(",") if i.strip()),
        targets=targets,
        failure_threshold=args.failure_threshold,
        config_path=args.config,
    )
    result = run_check(args.files, options)
    for err in result.errors:
        sys.stderr.write(f"{err}\n")
    if args.format == "json":
        sys.stdout.write(report.render_findings_json(result))
    elif args.format == "sarif":
        sys.stdout.write(report.render_findings_sarif(result))
    else:
        color = not args.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
        sys.stdout.write(report.render_findings_text(result, color=color))
    return result.exit_code


def _cmd_inspect(args: argparse.Namespace) -> int:
    from transpile.image.sources import acquire, source_from_args
    from transpile.passes.inspect import inspect_image

    dockerfile = None
    if args.build:  # built here: the Dockerfile's own runtime config can be compared with the image's
        from transpile.pipeline import load_dockerfile

        dockerfile, _, _ = load_dockerfile(args.build, _build_args(args.build_arg))
    with acquire(source_from_args(args)) as img:
        facts = inspect_image(img, dockerfile)
    if args.format == "json":
        _print_json(facts.to_json())
    else:
        sys.stdout.write(_inspect_text(facts))
    return EXIT_FINDINGS if any(f.severity == "error" for f in facts.findings) else EXIT_OK


def _inspect_text(facts: Any) -> str:
    from transpile.report import human_size as _size

    cfg = facts.config
    out = [f"image      {facts.reference}  ({facts.source})"]
    out.append(f"argv       {json.dumps(list(cfg.argv))}")
    out.append(f"workdir    {cfg.working_dir or '/'}   user {cfg.user or 'root'}")
    if cfg.exposed_ports:
        out.append("ports      " + " ".join(str(p) for p in cfg.exposed_ports))
    env = " ".join(f"{k}={v}" for k, v in cfg.env if k != "PATH")
    if env:
        out.append(f"env        {env}")
    out.append("entrypoint")
    for step in (*facts.entrypoint.steps, *facts.entrypoint.command_steps):
        via = f" -> {step.resolved}" if step.resolved and step.resolved != step.path else ""
        extra = f"  #!{step.shebang}" if step.shebang else ""
        out.append(f"  {step.kind:<14} {step.path or step.name}{via}{extra}")
    by_path = {elf.path: elf for elf in facts.elfs}
    for closure in facts.closures:
        prog = closure.program.path if closure.program else "?"
        elf = by_path.get(closure.program.realpath) if closure.program else None
        if elf is not None:
            pie = "PIE" if elf.pie else ("not PIE" if elf.type == "ET_EXEC" else elf.type)
            out.append(
                f"elf        {elf.path}: {elf.machine} {pie} {elf.linkage}"
                f" interp={elf.interpreter or '-'} hints={','.join(elf.hints) or '-'}"
            )
        out.append(f"closure    {prog} ({closure.loader}, {closure.cache}): {len(closure.files)} files")
        for lib in closure.libraries:
            out.append(f"  {lib.name:<28} {lib.file.realpath}  {_size(lib.file.size)}  via {lib.via}")
        for miss in closure.missing:
            out.append(f"  {miss.name:<28} NOT FOUND ({miss.reason}), needed by {miss.needed_by}")
    out.append(
        f"size       closure {_size(facts.closure_bytes)} of image {_size(facts.image_bytes)}"
        f" ({100 * facts.ratio:.2f}%), rootfs {_size(facts.rootfs_bytes)} in {facts.rootfs_files} files"
    )
    for f in facts.findings:
        out.append(f"{f.severity:<10} {f.rule} {f.message}")
    return "\n".join(out) + "\n"


def _cmd_trace(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path
    from typing import Literal

    from transpile.image import ImageSource, acquire
    from transpile.passes.seccomp import seccomp_profile
    from transpile.sandbox import TraceOptions, run_trace
    from transpile.sandbox.summary import summary_text

    if args.duration <= 0:
        raise DockuniError(f"--duration must be positive, not {args.duration:g}")
    kinds: tuple[Literal["build", "image", "archive", "oci"], ...] = ("build", "image", "archive", "oci")
    kind = next(k for k in kinds if getattr(args, k))
    build_args = _build_args(args.build_arg)
    source = ImageSource(
        kind=kind, ref=getattr(args, kind), context=args.context, build_args=build_args,
        target=args.build_target,
    )  # fmt: skip
    options = TraceOptions(duration_s=args.duration, probe_commands=tuple(args.probe))
    with acquire(source) as image:
        facts = run_trace(image.rootfs, image.config, options)
    if args.seccomp:
        # write next to the destination, then rename: never a half-written profile
        dest = Path(args.seccomp)
        fd, tmp = tempfile.mkstemp(prefix=".seccomp-", dir=dest.parent if str(dest.parent) else ".")
        with os.fdopen(fd, "w") as f:
            json.dump(seccomp_profile(facts), f, indent=2)
            f.write("\n")
        os.replace(tmp, dest)
    if args.format == "json":
        _print_json(facts.to_json())
    else:
        sys.stdout.write(summary_text(facts, args.seccomp or ""))
    return EXIT_FINDINGS if facts.exit_reason == "failed-to-start" else EXIT_OK


def _steps() -> Any:
    """Progress for long steps (build, extract, trace) with rich on stderr; silent when not a TTY."""
    import contextlib

    @contextlib.contextmanager
    def step(message: str) -> Any:
        if not sys.stderr.isatty():
            yield
            return
        from rich.console import Console

        with Console(stderr=True).status(message):
            yield

    return step


def _build_args(pairs: Sequence[str]) -> dict[str, str]:
    from transpile.image.sources import parse_build_args

    return parse_build_args(pairs)


def _cmd_graph(args: argparse.Namespace) -> int:
    from transpile import pipeline
    from transpile.passes import graph as gr

    kind, ref = next((k, getattr(args, k)) for k in ("build", "image", "archive", "oci") if getattr(args, k))
    if args.trace and args.no_trace:
        raise DockuniError("--trace and --no-trace exclude each other", file="--trace")
    opts = pipeline.GraphOptions(
        kind=kind,
        ref=ref,
        context=args.context,
        build_args=_build_args(args.build_arg),
        build_target=args.build_target,
        dockerfile=args.dockerfile,
        trace_json=args.trace,
        trace=not args.no_trace,
    )
    graph = pipeline.image_graph(opts, _steps())
    if args.format == "json":
        sys.stdout.write(gr.dumps(graph))
    elif args.format == "dot":
        sys.stdout.write(gr.to_dot(graph))
    else:
        svg = pipeline.render_svg(gr.to_dot(graph))
        sys.stdout.buffer.write(svg)
        sys.stdout.flush()
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from transpile import pipeline, report

    opts = pipeline.ConvertOptions(
        dockerfile=args.dockerfile,
        context=args.context,
        build_args=_build_args(args.build_arg),
        build_target=args.build_target,
        image=args.image,
        archive=args.archive,
        oci=args.oci,
        targets=pipeline.parse_targets(args.target),
        trace=not args.no_trace,
        duration=args.duration,
        output=args.output,
        force=args.force,
        verify=args.verify,
        kernel=args.kernel,
        probe_budget=args.probe_budget,
    )
    if opts.probe_budget < 0:
        raise DockuniError("--probe-budget must be 0 or more", file="--probe-budget")
    if opts.duration <= 0:
        raise DockuniError("--duration must be positive", file="--duration")
    result = pipeline.convert(opts, _steps())
    if args.format == "json":
        sys.stdout.write(json.dumps(report.convert_to_json(result), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(report.render_convert_text(result))
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # `check` is the pre-commit hook, run often: skip building the other subcommands' parsers.
    parser = build_parser("check" if args_list[:1] == ["check"] else None)
    args = parser.parse_args(args_list)
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
    except Exception as exc:  # a bug of ours: one line for the user, the traceback only on request
        if os.environ.get("DOCKUNI_DEBUG"):
            raise
        sys.stderr.write(
            f"dockuni: internal error: {type(exc).__name__}: {exc} (DOCKUNI_DEBUG=1 shows the traceback)\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
