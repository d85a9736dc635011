"""`dockuni convert`: the I/O orchestration around the pure passes.

parse -> lower -> check -> acquire (build / engine image / archive / OCI) -> entrypoint + ELF closure ->
trace -> facility graph -> verdicts -> emit recipes (or the container fallback) -> report, written
atomically into one output directory (a temp dir beside it, renamed into place at the end).

Exit codes (docs/convert.md): 0 the requested targets were emitted (auto: at least one unikernel);
1 fell back (auto: no unikernel can run the app, so the hardened container recipe is emitted, next to the
Linux VM when that fits; explicit targets: one of them is blocked or unknown) or --verify failed; 2 bad
input (Dockerfile, image without entrypoint, output directory exists); 3 a needed component (the Docker
engine, strace) is missing: the static part is still written and every verdict is unknown.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from transpile import targets as registry
from transpile.errors import DockuniError, ExitCode
from transpile.image.sources import ImageSource
from transpile.ir import Dockerfile, Finding
from transpile.model.conversion import ConversionFacts, ConvertResult, JsonObject, Recipe, Verification
from transpile.model.image import AcquiredImage, ImageAnalysis, ImageConfig, RuntimeUsage
from transpile.model.static import StaticEvidence
from transpile.model.target import Target
from transpile.model.trace import TraceFacts
from transpile.model.verdict import AssessFacts, ProbeOutcome, TargetVerdict
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
    probe_budget: int = 12  # fault-injection runs per conversion (0: no active probing)

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
    *,
    probes: Mapping[str, ProbeOutcome] | None = None,
    image: bool = True,
) -> tuple[nx.DiGraph, tuple[TargetVerdict, ...]]:
    """The facility graph and one verdict per target (PROBES: fault-injection results by injection key)."""
    from transpile.passes import compat
    from transpile.passes import graph as gr

    graph = gr.build_graph(static, trace, [t.capabilities for t in targets])
    facts = AssessFacts(graph, static, trace, tuple(findings), dict(probes or {}), image)
    return graph, compat.verdicts(facts, targets)


# --- active probing (Loupe's method) ---------------------------------------------------------------------


def _probe_cache_dir() -> Path:
    """DOCKUNI_PROBE_CACHE, else $XDG_CACHE_HOME/dockuni/probes."""
    if os.environ.get("DOCKUNI_PROBE_CACHE"):
        return Path(os.environ["DOCKUNI_PROBE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dockuni" / "probes"


def probe_cache_key(img: AcquiredImage, config: ImageConfig, duration: float) -> str:
    """The image's identity (layer digests, else its id) plus what the sandbox runs."""
    import hashlib

    ident = {
        "image": list(img.layers) or [img.reference],
        "config": config.to_json(),
        "duration": duration,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def _describe_failure(baseline: TraceFacts, run: TraceFacts) -> str:
    failed = sorted(
        f"{p.get('kind')} {p.get('target')}" for p in run.probes if not p.get("ok")
    ) or sorted(f"{k} {t}" for k, t in baseline.passed_probes - run.passed_probes)
    how = run.exit_reason + (f" with status {run.exit_status}" if run.exit_reason == "exited" else "")
    what = f"the app {how}" + (f"; probe failed: {', '.join(failed)}" if failed else "")
    tail = run.stderr_tail.strip().splitlines()[-1:] if run.stderr_tail.strip() else []
    return what + (f"; stderr: {tail[0][:160]}" if tail else "")


def run_probe_step(
    rootfs: Path,
    config: ImageConfig,
    baseline: TraceFacts,
    injections: Sequence[Any],
    budget: int,
    cache_key: str,
    duration: float,
    step: Step,
) -> tuple[dict[str, ProbeOutcome], JsonObject]:
    """Bisect INJECTIONS on the real app (at most BUDGET runs); results cached under the image's key."""
    import time

    from transpile.passes import compat
    from transpile.sandbox import TraceOptions
    from transpile.sandbox.inject import bisect, run_with_injections, still_passes

    keys = sorted(i.key for i in injections)
    cache = _probe_cache_dir() / f"{cache_key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(cache.read_text(encoding="utf-8"))
        summary_ = stored["summary"]
        # a smaller budget's result is reused only when it left nothing untested
        if stored.get("keys") == keys and (summary_.get("budget") == budget or not summary_.get("untested")):
            outcomes = {
                k: ProbeOutcome(k, v["result"], v.get("detail", "")) for k, v in stored["outcomes"].items()
            }
            return outcomes, dict(summary_) | {"cached": True}
    opts = TraceOptions(duration_s=duration)
    failures: list[tuple[frozenset[str], str]] = []

    def passes(batch: tuple[Any, ...]) -> bool:
        run = run_with_injections(rootfs, config, batch, opts)
        ok = still_passes(baseline, run)
        if not ok:
            failures.append((frozenset(i.key for i in batch), _describe_failure(baseline, run)))
        return ok

    started = time.monotonic()
    with step(f"probing {len(injections)} item(s) by fault injection (at most {budget} runs)"):
        found = bisect(list(injections), passes, budget)
    seconds = round(time.monotonic() - started, 1)
    outcomes = compat.probe_outcomes(found.needed, found.harmless, found.untested)
    for inj in found.needed:  # the smallest failing run that held the item says how the app failed
        held = [(len(k), d) for k, d in failures if inj.key in k]
        if held:
            outcomes[inj.key] = ProbeOutcome(inj.key, "needed", min(held)[1])
    summary: JsonObject = {
        "budget": budget,
        "runs": found.runs,
        "seconds": seconds,
        "cached": False,
        "injections": list(keys),
        "needed": [i.key for i in found.needed],
        "harmless": [i.key for i in found.harmless],
        "untested": [i.key for i in found.untested],
    }
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        body = {
            "keys": keys,
            "outcomes": {k: {"result": o.result, "detail": o.detail} for k, o in outcomes.items()},
            "summary": summary,
        }
        tmp.write_text(json.dumps(body, sort_keys=True))
        tmp.replace(cache)
    return outcomes, summary


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
    from transpile.passes import compat, evidence, rewrites, seccomp
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
        trace_config: ImageConfig | None = None
        rewrite_notes: tuple[str, ...] = ()
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
            # the recipes run the single-process rewrite of argv: trace (and judge) that program
            trace_config, rewrite_notes = rewrites.recipe_config(config)
            if trace_facts is not None:
                trace = trace_facts
            elif opts.trace:
                try:
                    trace = run_trace_step(img.rootfs, trace_config, opts.duration, step)
                except DockuniError as err:
                    if err.exit_code != EXIT_ENVIRONMENT:
                        raise
                    exit_env = True
                    unverified.append(f"no trace: {err.message}")
            else:
                unverified.append("no trace (--no-trace): syscalls come from imported symbols only")
        # the container fallback runs the image's own argv: with a rewrite, trace that program too
        as_is = trace
        if img is not None and trace is not None and rewrite_notes and trace_facts is None:
            as_is = run_trace_step(img.rootfs, config, opts.duration, step)
        usage = RuntimeUsage((), (), 0)
        if img is not None and trace is not None:
            usage = evidence.runtime_usage(img.rootfs, trace, analysis.closure if analysis else None)

        with step("building the facility graph and the verdicts"):
            graph, verdicts = assess(static, trace, findings, targets, image=img is not None)
        probing: JsonObject | None = None
        if img is not None and trace is not None and trace_config is not None:
            probing = _probe(opts, img, trace_config, trace, verdicts, unverified, step)
            if probing is not None:
                graph, verdicts = assess(
                    static, trace, findings, targets, probes=_outcomes_of(probing), image=True
                )
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
            seccomp_profile=seccomp.seccomp_profile(as_is) if as_is is not None else None,
            rewrites=rewrite_notes,
            image_trace=as_is if as_is is not trace else None,
        )

        recipes: list[Recipe] = []
        to_emit: tuple[str, ...] = ()
        fallback = False
        if img is not None:
            with step("emitting recipes"):
                to_emit = ranking if opts.auto else tuple(t for t in opts.targets if t in ranking)
                kinds = registry.kinds()
                unikernels = [t for t in to_emit if kinds.get(t) == "unikernel"]
                # auto: a Linux VM is offered when it fits, but without any unikernel the conversion has
                # fallen back; the hardened container is the drop-in recipe that always runs.
                fallback = not to_emit or (opts.auto and not unikernels)
                recipes = [_emit(t, facts) for t in to_emit]
                if fallback:
                    recipes.append(registry.fallback().emit(facts))
        code = exit_code_for(opts, exit_env, fallback, to_emit)

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
            probing=probing,
        )
        result = replace(result, story=story(result, opts.auto))
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


def _probe(
    opts: ConvertOptions,
    img: AcquiredImage,
    config: ImageConfig,
    trace: TraceFacts,
    verdicts: tuple[TargetVerdict, ...],
    unverified: list[str],
    step: Step,
) -> JsonObject | None:
    """Fault injection for the items that would block a unikernel or that it would stub or fake."""
    from transpile.passes import compat

    kinds = registry.kinds()
    # targets that a stub cannot save (a forking server, a non-PIE program on a PIE-only loader) are
    # not probed: the budget goes to the verdicts the runs can decide
    candidates = [
        v for v in verdicts if kinds.get(v.target) == "unikernel" and compat.probing_can_change(v)
    ]
    plan = compat.probe_plan(candidates, trace)
    if not plan:
        return None
    if opts.probe_budget <= 0:
        unverified.append(
            f"not probed (--probe-budget 0): {len(plan)} stubbed, faked or missing item(s) rest on tables "
            "and Loupe's data instead of this app's own runs"
        )
        return None
    if not trace.app_ran:
        unverified.append("not probed: the app did not keep running in the sandbox, so no run compares")
        return None
    key = probe_cache_key(img, config, opts.duration)
    try:
        outcomes, summary = run_probe_step(
            img.rootfs, config, trace, plan, opts.probe_budget, key, opts.duration, step
        )
    except DockuniError as err:
        unverified.append(f"not probed: {err.message}")
        return None
    untested = summary.get("untested")
    if isinstance(untested, list) and untested:
        unverified.append(
            f"probe budget ({opts.probe_budget} runs) spent before {len(untested)} item(s) were tried: "
            "raise --probe-budget to decide them"
        )
    summary["outcomes"] = {k: [o.result, o.detail] for k, o in sorted(outcomes.items())}
    return summary


def _outcomes_of(probing: JsonObject) -> dict[str, ProbeOutcome]:
    raw = probing.get("outcomes") or {}
    assert isinstance(raw, dict)
    out: dict[str, ProbeOutcome] = {}
    for k, v in raw.items():
        assert isinstance(v, list)
        out[k] = ProbeOutcome(k, str(v[0]), str(v[1]))  # type: ignore[arg-type]
    return out


def exit_code_for(opts: ConvertOptions, exit_env: bool, fallback: bool, emitted: Sequence[str]) -> int:
    """docs/convert.md's table: 3 a component missing, 1 fell back or a requested target is not emitted,
    0 otherwise."""
    if exit_env:
        return int(EXIT_ENVIRONMENT)
    if fallback or (not opts.auto and len(emitted) < len(opts.targets)):
        return int(EXIT_FALLBACK)
    return int(EXIT_OK)


def _first_reason(v: TargetVerdict) -> str:
    if v.status == "unknown":
        return "unknown"
    if v.details:
        b = v.details[0]
        more = f" (+{len(v.details) - 1} more)" if len(v.details) > 1 else ""
        return f"{b.need}{more}"
    return v.status


def story(result: ConvertResult, auto: bool) -> tuple[str, ...]:
    """The outcome in a few sentences, the same in the console and in report.md; none contradicts
    another, nor the exit code (docs/convert.md)."""
    all_targets = {t.capabilities.name: t.capabilities for t in registry.all_targets()}
    verdicts = result.facts.verdicts
    unikernels = [v for v in verdicts if all_targets[v.target].kind == "unikernel"]
    vms = [v for v in verdicts if all_targets[v.target].kind == "linux-vm"]
    fallback_name = registry.fallback().capabilities.name
    ok_uni = [t for t in result.ranking if all_targets[t].kind == "unikernel" and t in result.emitted]
    lines: list[str] = []
    if not result.facts.image_reference and not result.emitted:
        reasons = next((v.undecided[0] for v in verdicts if v.undecided), "")
        lines.append(f"Undecided: {reasons}." if reasons else "Undecided: no image.")
        lines.append("No recipe was written; the report lists what the Dockerfile alone shows.")
        lines.append(f"Exit code {result.exit_code}.")
        return tuple(lines)
    if ok_uni:
        best = all_targets[ok_uni[0]]
        lines.append(f"{best.title} can run this image (recipe {ok_uni[0]}/, the best-ranked unikernel).")
        if len(result.emitted) > 1:
            lines.append("Emitted, best first: " + ", ".join(f"{t}/" for t in result.emitted) + ".")
    elif auto:
        unknown = [v for v in unikernels if v.status == "unknown"]
        if unknown:
            lines.append(
                "Undecided whether a unikernel can run this image: " + unknown[0].undecided[0] + "."
            )
        else:
            why = "; ".join(f"{v.target}: {_first_reason(v)}" for v in unikernels)
            lines.append(f"No unikernel can run this image ({why}).")
        for vm in vms:
            title = all_targets[vm.target].title
            if vm.target in result.emitted:
                lines.append(
                    f"Recommended: the {title} recipe ({vm.target}/), a specialized Linux VM (not a "
                    "unikernel) that runs the app unchanged."
                )
            else:
                lines.append(f"The {title} cannot run it either: {_first_reason(vm)}.")
    if not auto:
        for name in result.facts.verdicts:
            if name.target not in result.emitted:
                lines.append(
                    f"{name.target} was requested but not emitted: {name.label} ({_first_reason(name)})."
                )
    if result.fallback:
        lines.append(
            f"Drop-in fallback: the hardened container recipe ({fallback_name}/) runs the image as it is."
        )
    lines.append(f"Exit code {result.exit_code}.")
    return tuple(lines)


def apply_verification(
    result: ConvertResult, boots: Mapping[str, Mapping[str, str]], auto: bool
) -> ConvertResult:
    """Boots are the strongest evidence: fold them into the verdicts, then retell the story."""
    from transpile.passes import compat

    if not boots:
        return result
    verdicts = compat.apply_boots(result.facts.verdicts, boots)
    result = replace(result, facts=replace(result.facts, verdicts=verdicts))
    return replace(result, story=story(result, auto))


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
    boots = {v.target: {"status": v.status, "detail": v.detail} for v in done}
    failed = {v.target for v in done if v.status == "failed"}

    def measured_order(v: Verification) -> tuple[float, int, int]:
        seconds = v.boot_to_reply_s if v.boot_to_reply_s is not None else float("inf")
        return (seconds, v.image_bytes, v.memory_mib)

    answered = sorted((v for v in done if v.status == "answered"), key=measured_order)
    measured = tuple(v.target for v in answered)
    ranking = (*measured, *(t for t in result.ranking if t not in measured and t not in failed))
    code = result.exit_code
    if failed:
        code = max(code, EXIT_FALLBACK)
    # folders in the new order: what answered first, then the rest, what failed last
    emitted = (*(t for t in ranking if t in result.emitted), *(t for t in result.emitted if t not in ranking))
    result = replace(result, ranking=ranking, emitted=emitted, verifications=tuple(done), exit_code=code)
    return apply_verification(result, boots, opts.auto)



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
