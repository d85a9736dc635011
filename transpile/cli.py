"""Command line: argument parsing and output formatting only; every decision lives in the passes.

Imports of the heavy modules happen inside the handlers so that ``dockuni check`` starts fast.

Exit codes (docs/user-guide.md): 0 success / clean, 1 findings at or above the threshold or a
conversion that fell back / failed verification, 2 usage or input error (a missing, unreadable or
invalid file included), 3 a needed component (the Docker engine, strace, QEMU) is not available,
4 an internal error (a bug: please report it).

Messages follow hadolint's and ruff's conventions: ``file:line:col: message`` where there is a
position, ``file: message`` for a whole file, ``dockuni: error: message`` otherwise.
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

_EXIT_CODES = """exit codes:
  0  success{ok}
  1  {one}
  2  usage or input error (a missing, unreadable or invalid file)
  3  a needed component is missing (Docker engine, strace, graphviz, QEMU)
  4  internal error (a bug; DOCKUNI_DEBUG=1 shows the traceback)"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows every meaningful default (argparse's
    ArgumentDefaultsHelpFormatter would also print "default: None" and "default: False")."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "%(default)" not in text
            and default not in (None, False, [], argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


def _epilog(examples: str, *, ok: str = "", one: str = "(not used)") -> str:
    return "examples:\n" + examples.rstrip("\n") + "\n\n" + _EXIT_CODES.format(ok=ok, one=one)


def _add_command(
    sub: Any,
    name: str,
    summary: str,
    description: str,
    examples: str,
    *,
    ok: str = "",
    one: str = "(not used)",
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=_epilog(examples, ok=ok, one=one),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--no-color", action="store_true", help="never colour the output (as NO_COLOR=1 does)")
    return p


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
    p.add_argument("--format", choices=list(choices), default=default, help="output format")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, just that one subcommand (a faster start-up when the
    command is already known, with the same parsing and messages for it)."""
    parser = argparse.ArgumentParser(
        prog="dockuni",
        description="Convert Dockerfiles to unikernel recipes, or say exactly why not.",
        epilog=_epilog(
            "  dockuni check Dockerfile\n"
            "  dockuni convert Dockerfile -o out\n"
            "  dockuni COMMAND --help",
            one="findings at or above the threshold, or a conversion that fell back",
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockuni {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    if only in (None, "parse"):
        p = _add_command(
            sub,
            "parse",
            "parse Dockerfiles as BuildKit does and print the AST",
            "Parse each Dockerfile exactly as BuildKit's parser does and print its instructions: JSON\n"
            "(one object per file, with the error if it failed) or one text line per instruction.",
            "  dockuni parse Dockerfile\n"
            "  dockuni parse --format text Dockerfile other/Dockerfile\n"
            "  cat Dockerfile | dockuni parse -",
        )
        p.add_argument(
            "files", nargs="+", metavar="FILE", help="Dockerfiles to parse; - reads standard input"
        )
        _add_format(p, ("json", "text"), default="json")
        p.set_defaults(handler=_cmd_parse)

    if only in (None, "check"):
        p = _add_command(
            sub,
            "check",
            "static unikernel-compatibility rules (the pre-commit hook)",
            "Check Dockerfiles without building them: validate every instruction as BuildKit does\n"
            "(an error there fails the build, so it exits 2 like a syntax error), then apply the\n"
            "unikernel-compatibility rules (docs/rules/). Inline control: `# dockuni ignore=DU201`\n"
            "above an instruction, `# dockuni global ignore=DU702` anywhere. Findings go to standard\n"
            "output, problems and the summary line to standard error.",
            "  dockuni check Dockerfile services/*/Dockerfile\n"
            "  dockuni check --format sarif Dockerfile > dockuni.sarif\n"
            f"  dockuni check --ignore DU201,DU702 --targets {_example_target('unikernel')} Dockerfile\n"
            "  cat Dockerfile | dockuni check -",
            ok=": no finding at or above the failure threshold",
            one="findings at or above the failure threshold",
        )
        p.add_argument(
            "files", nargs="+", metavar="FILE", help="Dockerfiles to check; - reads standard input"
        )
        _add_format(p, ("text", "json", "sarif"))
        p.add_argument(
            "--config",
            metavar="TOML",
            help="config file (default: the nearest .dockuni.toml or pyproject.toml [tool.dockuni])",
        )
        p.add_argument(
            "--ignore", metavar="RULE", action="append", default=[], help="ignore a rule (repeatable)"
        )
        p.add_argument(
            "--targets", metavar="LIST", help="comma-separated targets to check for (default: all)"
        )
        p.add_argument(
            "--failure-threshold",
            choices=["error", "warning", "info", "style", "none"],
            help="lowest severity that makes the exit code 1 (default: warning, or the config's)",
        )
        p.set_defaults(handler=_cmd_check)

    if only in (None, "inspect"):
        p = _add_command(
            sub,
            "inspect",
            "image config, entrypoint chain, ELF facts and library closure",
            "Read an image (built here, from the engine, a `docker save` tar or an OCI layout) and\n"
            "report its configuration, how its entrypoint resolves, the ELF facts of the program\n"
            "and the exact set of files it loads.",
            "  dockuni inspect --archive app.tar\n"
            "  dockuni inspect --build Dockerfile --format json",
            one="an error finding (e.g. the entrypoint does not exist)",
        )
        _add_image_source(p, required=True)
        _add_format(p, ("text", "json"))
        p.set_defaults(handler=_cmd_inspect)

    if only in (None, "trace"):
        p = _add_command(
            sub,
            "trace",
            "run the entrypoint in a sandbox under a tracer and record its needs",
            "Run the image's entrypoint in fresh namespaces under strace, probe its ports, and record\n"
            "the system calls, files, programs and sockets it used.",
            "  dockuni trace --archive app.tar --duration 5\n"
            "  dockuni trace --image app:latest --seccomp profile.json --format json",
            one="the entrypoint could not start",
        )
        _add_image_source(p, required=True)
        p.add_argument("--duration", type=float, default=8.0, metavar="S", help="seconds to run")
        p.add_argument(
            "--probe", action="append", default=[], metavar="CMD", help="command run in the sandbox's network"
        )
        p.add_argument("--seccomp", metavar="FILE", help="also write the derived Docker seccomp profile here")
        _add_format(p, ("text", "json"))
        p.set_defaults(handler=_cmd_trace)

    if only in (None, "graph"):
        p = _add_command(
            sub,
            "graph",
            "the facility graph of an image (static facts plus a trace)",
            "Build the graph program -> facilities -> per-target support from the image's static\n"
            "facts and a trace, and print it as JSON, Graphviz dot or SVG.",
            "  dockuni graph --archive app.tar --format svg > graph.svg\n"
            "  dockuni graph --image app:latest --trace trace.json --format dot",
        )
        _add_image_source(p, required=True)
        p.add_argument("--dockerfile", metavar="FILE", help="the Dockerfile the image was built from")
        p.add_argument("--trace", metavar="JSON", help="reuse a `dockuni trace --format json` result")
        p.add_argument("--no-trace", action="store_true", help="static facts only")
        p.add_argument(
            "--detail",
            action="store_true",
            help="dot/svg: every node and edge instead of the summary (facilities per target)",
        )
        _add_format(p, ("json", "dot", "svg", "html"), default="json")
        p.set_defaults(handler=_cmd_graph)

    if only in (None, "convert"):
        p = _add_command(
            sub,
            "convert",
            "Dockerfile -> unikernel recipes, or a hardened container",
            "Build (or read) the image, trace it, decide per target what it needs and what is\n"
            "missing, and write the recipes and report.md into the output directory.",
            "  dockuni convert Dockerfile -o out\n"
            "  dockuni convert --image myapp:latest -o out\n"
            f"  dockuni convert Dockerfile --archive app.tar --target {_example_target('unikernel')} -o out"
            " --force\n"
            f"  dockuni convert Dockerfile -o out --target {_example_target('linux-vm')} --verify",
            ok=": the requested recipes were emitted",
            one="the conversion fell back to the container, a listed target is blocked, or --verify failed",
        )
        p.add_argument(
            "dockerfile", metavar="DOCKERFILE", nargs="?", help="optional with --image, --archive or --oci"
        )
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
            help=f"auto, or a comma-separated subset of {','.join(registry.names())}",
        )
        p.add_argument(
            "--no-trace", action="store_true", help="skip the sandboxed trace (static verdicts only)"
        )
        p.add_argument("--duration", type=float, default=8.0, metavar="S", help="trace duration in seconds")
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

    if only in (None, "kernels"):
        p = sub.add_parser("kernels", help="build and list the unikernel runtimes that --verify boots")
        ksub = p.add_subparsers(dest="kernels_command", metavar="ACTION", required=True)
        b = ksub.add_parser("build", help="build the runtimes from pinned sources (cached)")
        b.add_argument(
            "--from", dest="src", metavar="DIR",
            help="a directory of source archives (SOURCES.tsv, SHA256SUMS); default: clone upstream",
        )
        b.add_argument("--only", metavar="LIST", help="comma-separated subset of the runtimes")
        _add_format(b, ("text", "json"))
        b.set_defaults(handler=_cmd_kernels)
        ls = ksub.add_parser("list", help="the runtimes built or configured, their versions and paths")
        _add_format(ls, ("text", "json"))
        ls.set_defaults(handler=_cmd_kernels)

    if only in (None, "scan"):
        p = _add_command(
            sub,
            "scan",
            "scan a fleet of images: readiness per target, blockers, charts",
            "Convert every image of a manifest, a Dockerfile tree or the engine, each into its own folder,\n"
            "and summarise the fleet in scan.json, scan.csv and index.html (docs/fleet.md).",
            "  dockuni scan fleet.csv -o scan-out --jobs 2\n"
            "  dockuni scan --all-images 'registry.local/*' --no-trace\n"
            "  dockuni scan fleet.yaml --scheduler tcp://scheduler.internal:8786",
            ok=": every image was scanned",
            one="an image could not be converted (its record in scan.json says why)",
        )
        what = p.add_mutually_exclusive_group(required=True)
        what.add_argument("manifest", nargs="?", metavar="MANIFEST", help="YAML or CSV manifest of images")
        what.add_argument("--tree", metavar="DIR", help="every Dockerfile under DIR (static unless --build)")
        what.add_argument(
            "--all-images", nargs="?", const="*", metavar="PATTERN", help="the engine's images (filter: glob)"
        )
        p.add_argument("--build", action="store_true", help="with --tree: build and convert each Dockerfile")
        p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="images converted in parallel")
        p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run each image on a Dask cluster")
        p.add_argument("--no-trace", action="store_true", help="skip the sandboxed traces")
        p.add_argument("--duration", type=float, default=8.0, metavar="S", help="trace duration (default 8)")
        p.add_argument("--cache", metavar="DIR", help="result cache (default OUTPUT/.cache)")
        p.add_argument("--no-cache", action="store_true", help="convert every image again")
        p.add_argument("-o", "--output", default="scan-out", metavar="DIR", help="output directory")
        _add_format(p, ("text", "json"))
        p.set_defaults(handler=_cmd_scan)

    return parser


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


# --- handlers: each parses nothing more and decides nothing; it calls one API and formats ---------


def _example_target(kind: str) -> str:
    """A registered target of KIND, for the examples in --help (the registry names them, not the CLI)."""
    from transpile import targets as registry

    kinds = registry.kinds()
    return next((name for name in registry.names() if kinds[name] == kind), "NAME")


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
    return EXIT_USAGE if failed else EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    import gc

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

        targets = registry.parse_names(args.targets, "--targets") or None
        if targets is None:
            raise DockuniError("--targets: name at least one target", file="--targets")
    options = CheckOptions(
        ignore=frozenset(i.strip().upper() for raw in args.ignore for i in raw.split(",") if i.strip()),
        targets=targets,
        failure_threshold=args.failure_threshold,
        config_path=args.config,
    )
    result = run_check(args.files, options)
    for file_result in result.files:
        for warning in file_result.warnings:
            sys.stderr.write(f"{warning}\n")
    for err in result.errors:
        sys.stderr.write(f"{err}\n")
    if args.format == "json":
        sys.stdout.write(report.render_findings_json(result))
    elif args.format == "sarif":
        sys.stdout.write(report.render_findings_sarif(result))
    else:
        sys.stdout.write(report.render_findings_text(result, color=_color(args, sys.stdout)))
        sys.stderr.write(_check_summary(result) + "\n")
    return result.exit_code


def _color(args: argparse.Namespace, stream: Any) -> bool:
    """Colour only on a terminal, never with --no-color or a non-empty NO_COLOR (no-color.org)."""
    return not args.no_color and not os.environ.get("NO_COLOR") and stream.isatty()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"


def _check_summary(result: Any) -> str:
    """ruff-style closing line: ``2 files checked: 1 error, 3 warnings``."""
    checked = len(result.files) - len(result.errors)
    counts: dict[str, int] = {}
    for finding in result.findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    parts = [_plural(counts[s], s) for s in ("error", "warning", "info", "style") if counts.get(s)]
    line = f"{_plural(checked, 'file')} checked: {', '.join(parts) or 'no findings'}"
    if result.errors:
        line += f"; {_plural(len(result.errors), 'file')} could not be checked"
    return line


def _cmd_inspect(args: argparse.Namespace) -> int:
    from transpile.image.sources import acquire, source_from_args
    from transpile.passes.analyze import rootfs_usage
    from transpile.passes.inspect import inspect_facts
    from transpile.pipeline import inspect_analysis

    dockerfile = None
    if args.build:  # built here: the Dockerfile's own runtime config can be compared with the image's
        from transpile.pipeline import load_dockerfile

        dockerfile, _, _ = load_dockerfile(args.build, _build_args(args.build_arg))
    with acquire(source_from_args(args)) as img:
        facts = inspect_facts(inspect_analysis(img, dockerfile, args.build or ""), rootfs_usage(img.rootfs))
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
    from transpile import pipeline
    from transpile.image.sources import source_from_args
    from transpile.sandbox import TraceOptions
    from transpile.sandbox.summary import summary_text

    if args.duration <= 0:
        raise DockuniError(f"--duration must be positive, not {args.duration:g}")
    options = TraceOptions(duration_s=args.duration, probe_commands=tuple(args.probe))
    facts = pipeline.trace_image(source_from_args(args), options, args.seccomp, _steps(args.no_color))
    if args.format == "json":
        _print_json(facts.to_json())
    else:
        sys.stdout.write(summary_text(facts, args.seccomp or ""))
    return EXIT_FINDINGS if facts.exit_reason == "failed-to-start" else EXIT_OK


def _steps(no_color: bool = False) -> Any:
    """Progress for long steps (build, extract, trace) with rich on stderr; silent when not a TTY,
    uncoloured with --no-color (rich itself honours NO_COLOR)."""
    import contextlib

    @contextlib.contextmanager
    def step(message: str) -> Any:
        if not sys.stderr.isatty():
            yield
            return
        from rich.console import Console

        with Console(stderr=True, no_color=no_color or None).status(message):
            yield

    return step


def _build_args(pairs: Sequence[str]) -> dict[str, str]:
    from transpile.image.sources import parse_build_args

    return parse_build_args(pairs)


def _cmd_graph(args: argparse.Namespace) -> int:
    from transpile import graphview, pipeline
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
    graph, verdicts = pipeline.image_graph_verdicts(opts, _steps(args.no_color))
    view = graphview.detail_dot if args.detail else graphview.summary_dot
    if args.format == "json":
        sys.stdout.write(gr.dumps(graph))
    elif args.format == "dot":
        sys.stdout.write(view(graph, verdicts))
    elif args.format == "html":
        sys.stdout.write(graphview.interactive_html(graph, verdicts))
    else:
        svg = pipeline.render_svg(view(graph, verdicts))
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
    result = pipeline.convert(opts, _steps(args.no_color))
    if args.format == "json":
        sys.stdout.write(json.dumps(report.convert_to_json(result), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(report.render_convert_text(result))
    return result.exit_code


def _cmd_kernels(args: argparse.Namespace) -> int:
    from pathlib import Path

    from transpile import targets as registry
    from transpile.runtime import build

    kernels = registry.kernel_runtimes()
    names = list(kernels)
    if getattr(args, "only", None):
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in kernels]
        if unknown:
            raise DockuniError(f"unknown runtime {unknown[0]!r} (known: {', '.join(kernels)})", file="--only")
    rows: list[dict[str, object]] = []
    for name in names:
        spec = kernels[name].build_spec()
        if args.kernels_command == "build":
            src = Path(args.src) if args.src else None
            k = build.build(spec, src, progress=build.default_progress())
        else:
            found = build.find_kernel(spec)
            if found is None:
                rows.append({"name": name, "version": spec.version, "path": None, "origin": "absent"})
                continue
            k = found
        rows.append(k.to_json())
    if args.format == "json":
        _print_json(rows)
    else:
        for r in rows:
            where = r["path"] or "not built (dockuni kernels build --from DIR)"
            secs = f", built in {r['build_seconds']} s" if r.get("build_seconds") is not None else ""
            sys.stdout.write(f"{r['name']:<9} {r['version']}  {where}  [{r['origin']}{secs}]\n")
    return EXIT_OK

def _cmd_scan(args: argparse.Namespace) -> int:
    from transpile import fleet
    from transpile.fleet.progress import Progress

    if args.build and not args.tree:
        raise DockuniError("--build goes with --tree", file="--build")
    if args.duration <= 0:
        raise DockuniError("--duration must be positive", file="--duration")
    if args.manifest:
        specs = fleet.read_manifest(args.manifest)
    elif args.tree:
        specs = fleet.discover_tree(args.tree, build=args.build)
    else:
        specs = fleet.engine_images(args.all_images)
    opts = fleet.ScanOptions(
        output=args.output,
        jobs=args.jobs,
        scheduler=args.scheduler,
        trace=not args.no_trace,
        duration=args.duration,
        cache_dir=args.cache,
        use_cache=not args.no_cache,
    )
    result = fleet.scan(specs, opts, progress=Progress)
    totals = result.document["totals"]
    if args.format == "json":
        _print_json(totals | {"cached": result.cached, "converted": result.converted})
    else:
        ready = ", ".join(f"{t} {n}" for t, n in totals["ready"].items())
        out = [f"scanned {totals['images']} images ({result.cached} from cache): ready {ready}"]
        out += [f"  {b['summary']}" for b in totals["blockers"][:5] if b["summary"]]
        if totals["errors"]:
            out.append(f"  {totals['errors']} image(s) could not be converted (see scan.json)")
        out.append(f"wrote scan.json, scan.csv, index.html to {args.output}/")
        sys.stdout.write("\n".join(out) + "\n")
    return EXIT_FINDINGS if totals["errors"] else EXIT_OK


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
