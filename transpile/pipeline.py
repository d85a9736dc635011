"""`dockuni convert`: the I/O orchestration around the pure passes.

parse -> lower -> check -> acquire (build / engine image / archive / OCI) -> entrypoint + ELF closure ->
trace -> facility graph -> verdicts -> emit recipes (or the container fallback) -> report, written
atomically into one output directory (a temp dir beside it, renamed into place at the end).

Exit codes (docs/convert.md): 0 the requested targets were emitted (auto: at least one unikernel);
1 fell back (auto: no unikernel can run the app, so the hardened container recipe is emitted, next to the
Linux VM when that fits; explicit targets: one of them is blocked) or --verify failed; 2 bad input
(Dockerfile, image without entrypoint, output directory exists); 3 a needed component (the Docker engine,
strace) is missing: the static part is still written and the report says what could not be verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import networkx as nx

from transpile import targets as registry
from transpile.errors import DockuniError, ExitCode
from transpile.image.sources import ImageSource
from transpile.ir import Dockerfile, Finding
from transpile.model.conversion import ConversionFacts, ConvertResult, Recipe, Verification
from transpile.model.image import AcquiredImage, ImageAnalysis, ImageConfig, RuntimeUsage
from transpile.model.static import StaticEvidence
from transpile.model.target import Target
from transpile.model.trace import TraceFacts
from transpile.model.verdict import AssessFacts, TargetVerdict
from transpile.sandbox.runner import TraceOptions
from transpile.syntax.ast import ParsedFile

EXIT_OK = ExitCode.OK
EXIT_FALLBACK = ExitCode.FINDINGS
EXIT_USAGE = ExitCode.USAGE
EXIT_ENVIRONMENT = ExitCode.ENVIRONMENT

Step = Callable[[str], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def quiet(_: str) -> Iterator[None]:
    yield


@dataclass(frozen=True)
class ConvertOptions:
    dockerfile: str | None = None  # None: an image source (image/archive/oci) with its own config
    context: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_target: str | None = None
    image: str | None = None
    archive: str | None = None
    oci: str | None = None
    targets: tuple[str, ...] = ()  # empty: auto
    trace: bool = True
    duration: float = 8.0
    output: str = "dockuni-out"
    force: bool = False
    verify: bool = False
    kernel: str | None = None

    @property
    def auto(self) -> bool:
        return not self.targets




def parse_targets(spec: str) -> tuple[str, ...]:
    """`auto` -> () ; otherwise a validated, de-duplicated tuple in the registry's order."""
    return registry.parse_names(spec)


# --- static part ----------------------------------------------------------------------------------------


def load_dockerfile(path: str, build_args: Mapping[str, str]) -> tuple[Dockerfile, ParsedFile, str]:
    """Read, parse and lower a Dockerfile (errors raise DockuniError with file:line:col)."""
    from transpile.passes.lower import lower
    from transpile.syntax.loader import read_text
    from transpile.syntax.parser import parse_text
    from transpile.syntax.validate import validate

    text = read_text(path)
    parsed = parse_text(text, path)
    validate(parsed)  # BuildKit's instruction parser would fail the build: so does the conversion
    return lower(parsed, build_args, source=text), parsed, text


def _parse_and_check(path: str, build_args: Mapping[str, str]) -> tuple[Dockerfile, tuple[Finding, ...]]:
    """Parse and lower the Dockerfile (errors raise) and run the static rules with the file's config."""
    from transpile.check import check_parsed
    from transpile.config import find_config
    from transpile.rules.registry import all_rules

    df, parsed, text = load_dockerfile(path, build_args)
    config = find_config(Path(path).absolute().parent)
    findings = check_parsed(parsed, text, config, all_rules(), build_args=build_args)
    return df, findings


def _static_from_dockerfile(df: Dockerfile, path: str) -> StaticEvidence:
    rt = df.runtime
    return StaticEvidence(
        argv=rt.argv,
        user=rt.user,
        dockerfile=path,
        user_span=_user_span(df, path),
    )


def _user_span(df: Dockerfile | None, path: str) -> str:
    if df is None or df.final_stage is None:
        return ""
    span = ""
    for ins in df.final_stage.instructions:
        if ins.kind == "USER":
            span = f"{path}:{ins.span.line}:{ins.span.column}"
    return span


# --- image part -----------------------------------------------------------------------------------------


def analyze_image(
    img: AcquiredImage, df: Dockerfile | None, dockerfile_path: str, step: Step
) -> ImageAnalysis:
    """The static passes over an acquired image and the image rules' findings about it."""
    with step("resolving the entrypoint and its libraries"):
        analysis = inspect_analysis(img, df, dockerfile_path)
    if not analysis.config.argv:
        raise DockuniError(
            "the image has no ENTRYPOINT or CMD: nothing to convert", file=dockerfile_path, exit_code=2
        )
    return analysis


def inspect_analysis(img: AcquiredImage, df: Dockerfile | None, dockerfile_path: str) -> ImageAnalysis:
    """The analysis `dockuni inspect` prints: like analyze_image, but an image without a command is
    reported (DU903), not refused."""
    from transpile.passes.analyze import analyze
    from transpile.rules.registry import check_image

    analysis = analyze(img, df, dockerfile_path, _user_span(df, dockerfile_path))
    return replace(analysis, findings=check_image(analysis))


def run_trace_step(rootfs: Path, config: ImageConfig, duration: float, step: Step) -> TraceFacts:
    from transpile.sandbox import TraceOptions, run_trace

    with step(f"tracing the entrypoint in a sandbox ({duration:g} s)"):
        return run_trace(rootfs, config, TraceOptions(duration_s=duration))


def trace_image(
    source: ImageSource, options: TraceOptions, seccomp_path: str | None = None, step: Step = quiet
) -> TraceFacts:
    """`dockuni trace`: acquire the image, trace its entrypoint (the image's own config), and write the
    derived seccomp profile to SECCOMP_PATH atomically when asked."""
    from transpile.image import acquire
    from transpile.passes.seccomp import seccomp_profile
    from transpile.sandbox import run_trace

    with (
        acquire(source) as image,
        step(f"tracing the entrypoint in a sandbox ({options.duration_s:g} s)"),
    ):
        facts = run_trace(image.rootfs, image.config, options)
    if seccomp_path:
        dest = Path(seccomp_path)
        fd, tmp = tempfile.mkstemp(prefix=".seccomp-", dir=dest.parent if str(dest.parent) else ".")
        with os.fdopen(fd, "w") as f:
            json.dump(seccomp_profile(facts), f, indent=2)
            f.write("\n")
        os.replace(tmp, dest)
    return facts


def assess(
    static: StaticEvidence,
    trace: TraceFacts | None,
    findings: Sequence[Finding],
    targets: Sequence[Target],
) -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    """The facility graph and one verdict per target."""
    from transpile.passes import compat
    from transpile.passes import graph as gr

    graph = gr.build_graph(static, trace, [t.capabilities for t in targets])
    facts = AssessFacts(graph, static, trace, tuple(findings))
    return graph, compat.verdicts(facts, targets)


# --- the whole conversion ---------------------------------------------------------------------------


def _emit(target: str, facts: ConversionFacts) -> Recipe:
    return registry.get(target).emit(facts)


def _check_output(output: Path, force: bool) -> None:
    from transpile.outdir import check_output_location

    check_output_location(output, force)


def _write_recipe(dest: Path, recipe: Recipe) -> list[str]:
    written: list[str] = []
    for rel, content in recipe.files:
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise DockuniError(f"recipe for {recipe.target} names an unsafe path {rel!r}")
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        mode = 0o755 if rel in recipe.executable else 0o644
        path.chmod(mode)
        written.append(rel)
    return written


def render_svg(dot_text: str) -> bytes:
    """SVG of a DOT graph through graphviz's `dot` (exit 3 when graphviz is not installed)."""
    from transpile.runtime.graphviz import render

    return render(dot_text, "svg")


def convert(
    opts: ConvertOptions,
    step: Step = quiet,
    *,
    trace_facts: TraceFacts | None = None,
) -> ConvertResult:
    """Run the whole conversion and write OPTS.output atomically. TRACE_FACTS reuses a recorded trace."""
    from transpile.passes import compat, evidence, seccomp
    from transpile.passes import graph as gr

    output = Path(opts.output)
    _check_output(output, opts.force)
    df, findings = _load_static(opts, step)
    unverified: list[str] = []
    exit_env = False
    wanted = opts.targets or registry.names()
    targets = [registry.get(name) for name in wanted]

    with contextlib.ExitStack() as stack:
        img: AcquiredImage | None = None
        try:
            img = _acquire(opts, stack, step)
        except DockuniError as err:
            if err.exit_code != EXIT_ENVIRONMENT:
                raise
            if df is None:  # nothing to fall back on: without a Dockerfile the image is all there is
                raise
            exit_env = True
            unverified.append(f"no image: {err.message}; verdicts rest on the Dockerfile alone")
        trace: TraceFacts | None = None
        analysis: ImageAnalysis | None = None
        if img is None:
            assert df is not None and opts.dockerfile is not None  # re-raised above otherwise
            static = _static_from_dockerfile(df, opts.dockerfile)
            config = ImageConfig(
                entrypoint=df.runtime.entrypoint,
                cmd=df.runtime.cmd,
                env=df.runtime.env,
                working_dir=df.runtime.workdir,
                user=df.runtime.user,
                exposed_ports=df.runtime.expose,
            )
        else:
            analysis = analyze_image(img, df, opts.dockerfile or img.reference, step)
            static, config = analysis.static, analysis.config
            findings = (*findings, *analysis.findings)
            if trace_facts is not None:
                trace = trace_facts
            elif opts.trace:
                try:
                    trace = run_trace_step(img.rootfs, config, opts.duration, step)
                except DockuniError as err:
                    if err.exit_code != EXIT_ENVIRONMENT:
                        raise
                    exit_env = True
                    unverified.append(f"no trace: {err.message}")
            else:
                unverified.append("no trace (--no-trace): syscalls come from imported symbols only")
        usage = RuntimeUsage((), (), 0)
        if img is not None and trace is not None:
            usage = evidence.runtime_usage(img.rootfs, trace, analysis.closure if analysis else None)

        with step("building the facility graph and the verdicts"):
            graph, verdicts = assess(static, trace, findings, targets)
        ranking = tuple(v.target for v in compat.rank(verdicts))
        if img is None:
            unverified.append("no recipes: they need the image's files")
        facts = ConversionFacts(
            dockerfile_path=opts.dockerfile,
            dockerfile=df,
            image_reference=analysis.reference if analysis else "",
            config=config,
            argv=tuple(static.argv),
            chain=analysis.chain if analysis else None,
            closure=analysis.closure if analysis else None,
            trace=trace,
            findings=tuple(findings),
            verdicts=verdicts,
            image_bytes=analysis.image_bytes if analysis else 0,
            closure_bytes=analysis.closure_bytes if analysis else 0,
            runtime_files=usage.files,
            runtime_dirs=usage.dirs,
            runtime_bytes=usage.extra_bytes,
            stdio_symlinks=static.stdio_symlinks,
            attack_surface=compat.attack_surface(trace),
            unverified=tuple(unverified),
            seccomp_profile=seccomp.seccomp_profile(trace) if trace is not None else None,
        )

        recipes: list[Recipe] = []
        to_emit: tuple[str, ...] = ()
        fallback = False
        if img is not None:
            with step("emitting recipes"):
                to_emit = ranking if opts.auto else tuple(t for t in opts.targets if t in ranking)
                recipes = [_emit(t, facts) for t in to_emit]
                # auto: a Linux VM is offered when it fits, but without any unikernel the conversion has
                # fallen back; the hardened container is the recipe that always runs.
                kinds = registry.kinds()
                unikernels = [t for t in to_emit if kinds.get(t) == "unikernel"]
                fallback = not recipes or (opts.auto and not unikernels)
                if fallback:
                    recipes.append(registry.fallback().emit(facts))
        if exit_env:
            code = EXIT_ENVIRONMENT
        elif fallback or (not opts.auto and len(to_emit) < len(opts.targets)):
            code = EXIT_FALLBACK
        else:
            code = EXIT_OK

        result = ConvertResult(
            facts=facts,
            graph=gr.to_node_link(graph),
            ranking=ranking,
            emitted=tuple(r.target for r in recipes),
            fallback=fallback,
            unverified=tuple(unverified),
            exit_code=code,
            output=opts.output,
            notes=tuple((r.target, tuple(r.notes)) for r in recipes),
            static=static,
        )
        result = _write_output(output, opts, result, graph, recipes, img, step)
    return result


def _load_static(opts: ConvertOptions, step: Step) -> tuple[Dockerfile | None, tuple[Finding, ...]]:
    """The Dockerfile's IR and static findings; (None, ()) when the image alone is converted."""
    if opts.dockerfile is None:
        if not (opts.image or opts.archive or opts.oci):
            raise DockuniError("name a Dockerfile, or an image with --image, --archive or --oci")
        return None, ()
    with step("parsing the Dockerfile"):
        return _parse_and_check(opts.dockerfile, opts.build_args)


def _acquire(opts: ConvertOptions, stack: contextlib.ExitStack[bool | None], step: Step) -> AcquiredImage:
    from transpile.image import ImageSource, acquire

    if opts.archive:
        src = ImageSource(kind="archive", ref=opts.archive)
        what = f"unpacking {opts.archive}"
    elif opts.oci:
        src = ImageSource(kind="oci", ref=opts.oci)
        what = f"unpacking {opts.oci}"
    elif opts.image:
        src = ImageSource(kind="image", ref=opts.image)
        what = f"exporting {opts.image} from the engine"
    else:
        assert opts.dockerfile is not None  # _load_static checked that a source was named
        src = ImageSource(
            kind="build",
            ref=opts.dockerfile,
            context=opts.context,
            build_args=dict(opts.build_args),
            target=opts.build_target,
        )
        what = f"building {opts.dockerfile} with the engine"
    with step(what):
        img: AcquiredImage = stack.enter_context(acquire(src))
        return img


def _write_output(
    output: Path,
    opts: ConvertOptions,
    result: ConvertResult,
    graph: nx.DiGraph,
    recipes: Sequence[Recipe],
    img: AcquiredImage | None,
    step: Step,
) -> ConvertResult:
    from transpile import graphview, report
    from transpile.outdir import atomic_output

    with atomic_output(output, opts.force) as tmp:
        for recipe in recipes:
            _write_recipe(tmp / recipe.target, recipe)
        if img is not None:
            result = _package(tmp, img.rootfs, result, step)
        if opts.verify and img is not None:
            result = _verify(tmp, result, img.rootfs, opts, step)
        dot_text = graphview.summary_dot(graph, result.facts.verdicts)
        try:
            svg: bytes | None = render_svg(dot_text)
        except DockuniError:
            svg = None
        if svg is not None:
            (tmp / "graph.svg").write_bytes(svg)
        else:
            (tmp / "graph.dot").write_text(dot_text)
        (tmp / "graph.html").write_text(graphview.interactive_html(graph, result.facts.verdicts))
        # every file in the folder, including what --verify built (a VM recipe's initramfs.cpio)
        files = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
        files.extend(["report.json", "report.md"])
        result = replace(result, files=tuple(sorted(files)))
        (tmp / "report.json").write_text(
            json.dumps(report.convert_to_json(result), indent=2, sort_keys=True) + "\n"
        )
        (tmp / "report.md").write_text(report.render_convert_markdown(result))
    return result


def _verify(
    tmp: Path, result: ConvertResult, rootfs: Path, opts: ConvertOptions, step: Step
) -> ConvertResult:
    """Boot every emitted recipe whose runtime is present and probe the app as the trace did; rank by
    what was measured. A recipe that failed to boot or answer is no longer recommended: its console's
    telling lines become its blocker, and the next target takes its place."""
    from transpile.model.target import VerifyOptions

    options = VerifyOptions(tmp / "verify", kernel=Path(opts.kernel) if opts.kernel else None)
    done: list[Verification] = []
    for name in result.emitted:
        if name not in registry.names():
            continue  # the container fallback runs the image as it is
        with step(f"booting the {name} recipe and probing the app"):
            done.append(registry.get(name).verify(tmp / name, result.facts, rootfs, options))
    by_target = {v.target: v for v in done}
    failed = {v.target for v in done if v.status == "failed"}
    verdicts = tuple(
        replace(v, ok=False, blockers=(*v.blockers, f"boot: {by_target[v.target].detail} [verify:failed]"))
        if v.target in failed
        else v
        for v in result.facts.verdicts
    )

    def measured_order(v: Verification) -> tuple[float, int, int]:
        seconds = v.boot_to_reply_s if v.boot_to_reply_s is not None else float("inf")
        return (seconds, v.image_bytes, v.memory_mib)

    answered = sorted((v for v in done if v.status == "answered"), key=measured_order)
    measured = tuple(v.target for v in answered)
    ranking = (*measured, *(t for t in result.ranking if t not in measured and t not in failed))
    code = result.exit_code
    if failed:
        code = max(code, EXIT_FALLBACK)
    return replace(
        result,
        facts=replace(result.facts, verdicts=verdicts),
        ranking=ranking,
        verifications=tuple(done),
        exit_code=code,
    )


def _package(tmp: Path, rootfs: Path, result: ConvertResult, step: Step) -> ConvertResult:
    """Let each emitted target complete its recipe with what needs the image (a VM's initramfs)."""
    notes = dict(result.notes)
    for name in result.emitted:
        target = registry.get(name) if name in registry.names() else registry.fallback()
        with step(f"packaging the {name} recipe"):
            more = target.package(tmp / name, rootfs)
        if more:
            notes[name] = (*notes.get(name, ()), *more)
    return replace(result, notes=tuple((t, notes.get(t, ())) for t, _ in result.notes))


def verdict_summary(v: TargetVerdict) -> dict[str, int]:
    counts = {"supported": 0, "faked": 0, "stubbable": 0, "missing": 0}
    for it in v.items:
        counts[it.support] += 1
    return counts


# --- `dockuni graph` ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphOptions:
    kind: str  # build | image | archive | oci
    ref: str
    context: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_target: str | None = None
    dockerfile: str | None = None
    trace_json: str | None = None
    trace: bool = True
    duration: float = 8.0


def load_trace(path: str) -> TraceFacts:
    """A `dockuni trace --format json` result from PATH, or a located error."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise DockuniError(f"cannot read trace: {err.strerror}", file=path) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        line = getattr(err, "lineno", 0)
        col = getattr(err, "colno", 0)
        raise DockuniError(f"not a JSON trace: {err}", file=path, line=line, column=col) from err
    from_json = getattr(TraceFacts, "from_json", None)
    if from_json is None:
        raise DockuniError("this build cannot read recorded traces", file=path)
    try:
        facts: TraceFacts = from_json(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DockuniError(f"not a dockuni trace: {err}", file=path) from err
    return facts


def image_graph_verdicts(
    opts: GraphOptions, step: Step = quiet
) -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    """The facility graph of an image and the verdicts of every target on it, for the graph's views."""
    from transpile.image import ImageSource, acquire

    df: Dockerfile | None = None
    findings: tuple[Finding, ...] = ()
    dockerfile = opts.dockerfile or (opts.ref if opts.kind == "build" else "")
    if dockerfile:
        df, findings = _parse_and_check(dockerfile, opts.build_args)
    recorded = load_trace(opts.trace_json) if opts.trace_json else None
    src = ImageSource(
        kind=opts.kind,  # type: ignore[arg-type]
        ref=opts.ref,
        context=opts.context,
        build_args=dict(opts.build_args),
        target=opts.build_target,
    )
    with contextlib.ExitStack() as stack:
        with step(f"acquiring {opts.ref}"):
            img = stack.enter_context(acquire(src))
        analysis = analyze_image(img, df, dockerfile, step)
        trace = recorded
        if trace is None and opts.trace:
            trace = run_trace_step(img.rootfs, analysis.config, opts.duration, step)
    return assess(analysis.static, trace, (*findings, *analysis.findings), registry.convertible())
