"""`dockuni convert`: the I/O orchestration around the pure passes.

parse -> lower -> check -> acquire (build / engine image / archive / OCI) -> entrypoint + ELF closure ->
trace -> facility graph -> verdicts -> emit recipes (or the container fallback) -> report, written
atomically into one output directory (a temp dir beside it, renamed into place at the end).

Exit codes (docs/convert.md): 0 the requested targets were emitted (auto: at least one unikernel);
1 fell back (auto: no unikernel can run the app, so the hardened container recipe is emitted, next to the
microvm when that fits; explicit targets: one of them is blocked) or --verify failed; 2 bad input
(Dockerfile, image without entrypoint, output directory exists); 3 a needed component (the Docker engine,
strace) is missing: the static part is still written and the report says what could not be verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from transpile.errors import DockuniError
from transpile.image.model import ImageConfig
from transpile.ir import TARGETS, Dockerfile, Finding
from transpile.passes import facilities as fac
from transpile.sandbox.facts import TraceFacts
from transpile.syntax.ast import ParsedFile
from transpile.targets.base import ConversionFacts, Recipe, TargetVerdict

EXIT_OK = 0
EXIT_FALLBACK = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3

# Where log-file symlinks point when they redirect to the container's output streams.
_STDIO_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/stdin", "/proc/self/fd/", "/dev/fd/")
_SKIP_WALK = ("proc", "sys", "dev")
MAX_WALK_ENTRIES = 500_000  # stop scanning for log symlinks in absurdly large images

Step = Callable[[str], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def quiet(_: str) -> Iterator[None]:
    yield


@dataclass(frozen=True)
class ConvertOptions:
    dockerfile: str
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


@dataclass(frozen=True)
class ConvertResult:
    facts: ConversionFacts
    graph: dict[str, Any]  # node-link JSON
    ranking: tuple[str, ...]  # ok targets, best first
    emitted: tuple[str, ...]  # folders written (targets, or "container")
    fallback: bool
    unverified: tuple[str, ...]  # what the conversion could not check, and why
    exit_code: int
    output: str  # as the user named it (never a temp path)
    verify: dict[str, Any] | None = None
    notes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per emitted recipe: its notes
    files: tuple[str, ...] = ()  # every file written, relative to the output dir
    static: fac.StaticEvidence | None = None  # what the graph and verdicts rested on besides the trace


def parse_targets(spec: str) -> tuple[str, ...]:
    """`auto` -> () ; otherwise a validated, de-duplicated tuple in TARGETS order."""
    spec = spec.strip()
    if spec in ("", "auto"):
        return ()
    wanted = [t.strip() for t in spec.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in TARGETS]
    if unknown:
        raise DockuniError(
            f"unknown target {', '.join(unknown)!s} (choose auto or from {', '.join(TARGETS)})",
            file="--target",
        )
    return tuple(t for t in TARGETS if t in wanted)


# --- static part ----------------------------------------------------------------------------------------


def load_dockerfile(path: str, build_args: Mapping[str, str]) -> tuple[Dockerfile, ParsedFile, str]:
    """Read, parse and lower a Dockerfile (errors raise DockuniError with file:line:col)."""
    from transpile.passes.lower import lower
    from transpile.syntax.loader import read_text
    from transpile.syntax.parser import parse_text

    text = read_text(path)
    parsed = parse_text(text, path)
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


def _static_from_dockerfile(df: Dockerfile, path: str) -> fac.StaticEvidence:
    rt = df.runtime
    return fac.StaticEvidence(
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


@dataclass(frozen=True)
class ImageFacts:
    reference: str
    config: ImageConfig
    image_bytes: int
    chain: Any
    closure: Any
    static: fac.StaticEvidence
    closure_bytes: int
    runtime_files: tuple[str, ...]
    runtime_dirs: tuple[str, ...]
    symlinks: dict[str, str]
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]


def _walk_stdio_links(rootfs: Path) -> dict[str, str]:
    """Symlinks in the image that point at the container's output streams (log redirects)."""
    found: dict[str, str] = {}
    seen = 0
    for dirpath, dirnames, filenames in os.walk(rootfs):
        if Path(dirpath) == rootfs:
            dirnames[:] = [d for d in dirnames if d not in _SKIP_WALK]
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            seen += 1
            if seen > MAX_WALK_ENTRIES:
                return found
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                continue
            target = os.readlink(full)
            if target.startswith(_STDIO_PREFIXES):
                found["/" + os.path.relpath(full, rootfs)] = target
    return dict(sorted(found.items()))


def _elf_object(rootfs: Path, path: str, role: str) -> fac.ElfObject | None:
    from transpile.elf import ElfError, is_elf, read_elf
    from transpile.image.paths import resolve_in_root

    host = resolve_in_root(rootfs, path)
    if host is None or not host.is_file() or not is_elf(host):
        return None
    try:
        facts = read_elf(host, path)
    except ElfError:
        return None
    return fac.ElfObject(
        path=path,
        role=role,
        machine="x86_64" if facts.machine in ("EM_X86_64", "x86_64") else facts.machine,
        pie=facts.pie if role == "program" else None,
        static=facts.static,
        interpreter=facts.interpreter,
        needed=(),
        imports=tuple(s.name for s in facts.imported),
        size=facts.size,
    )


def _closure_objects(rootfs: Path, program: str, closure: Any) -> list[fac.ElfObject]:
    """The program and every library of its closure, with resolved DT_NEEDED edges and imports."""
    children: dict[str, list[str]] = {}
    for lib in closure.libraries:
        children.setdefault(lib.needed_by, []).append(lib.file.path)
    objects: list[fac.ElfObject] = []
    prog = _elf_object(rootfs, program, "program")
    if prog is not None:
        prog_ref = closure.program
        keys = {program, *((prog_ref.path, prog_ref.realpath) if prog_ref else ())}
        needed = tuple(sorted({p for k in keys for p in children.get(k, [])}))
        objects.append(replace(prog, needed=needed))
    for lib in closure.libraries:
        lf = lib.facts
        objects.append(
            fac.ElfObject(
                path=lib.file.path,
                role="library",
                machine="x86_64" if lf is None or lf.machine == "EM_X86_64" else lf.machine,
                static=False,
                needed=tuple(sorted(children.get(lib.file.path, []))),
                imports=tuple(s.name for s in lf.imported) if lf is not None else (),
                size=lib.file.size,
            )
        )
    return objects


def image_facts(img: Any, df: Dockerfile | None, dockerfile_path: str, step: Step) -> ImageFacts:
    from transpile.image.merge import merge_config
    from transpile.passes.entrypoint import resolve_entrypoint

    config, merge_findings = merge_config(img.config, df)
    with step("resolving the entrypoint and its libraries"):
        chain = resolve_entrypoint(config, img.rootfs)
        if not config.argv:
            raise DockuniError(
                "the image has no ENTRYPOINT or CMD: nothing to convert", file=dockerfile_path, exit_code=2
            )
        closure: Any = None
        program = chain.program
        objects: list[fac.ElfObject] = []
        closure_bytes = 0
        missing: tuple[str, ...] = ()
        if program is not None:
            from transpile.passes.closure import compute_closure

            prog_path = program.resolved or program.path
            closure = compute_closure(img.rootfs, prog_path, config.env_dict())
            closure_bytes = int(closure.total_bytes)
            objects = _closure_objects(img.rootfs, prog_path, closure)
            missing = tuple(f"{m.name} (needed by {m.needed_by}): {m.reason}" for m in closure.missing)
        steps = []
        all_steps = (*chain.steps, *chain.command_steps)
        for i, s in enumerate(all_steps):
            interp = ""
            if s.kind == "script" and i + 1 < len(all_steps):
                interp = all_steps[i + 1].resolved or all_steps[i + 1].path
            steps.append(fac.ChainStep(path=s.resolved or s.path or s.name, kind=s.kind, interpreter=interp))
    with step("scanning the image for log redirects"):
        symlinks = _walk_stdio_links(img.rootfs)
    static = fac.StaticEvidence(
        argv=config.argv,
        chain=tuple(steps),
        objects=tuple(objects),
        missing_libraries=missing,
        stdio_symlinks=tuple(sorted(symlinks.items())),
        user=config.user,
        architecture=config.architecture,
        dockerfile=dockerfile_path,
        user_span=_user_span(df, dockerfile_path),
    )
    return ImageFacts(
        reference=img.reference,
        config=config,
        image_bytes=int(img.image_bytes),
        chain=chain,
        closure=closure,
        static=static,
        closure_bytes=closure_bytes,
        runtime_files=(),
        runtime_dirs=(),
        symlinks=symlinks,
        findings=(*tuple(merge_findings), *tuple(chain.findings)),
        warnings=tuple(img.warnings),
    )


def _runtime_files(
    rootfs: Path, trace: TraceFacts, closure: Any
) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """Regular files the app read and directories it listed, as found in the image; and the bytes of
    those the loader's closure does not already count (the program itself is both executed and mapped)."""
    from transpile.image.paths import resolve_in_root

    files: set[str] = set()
    dirs: set[str] = set()
    total = 0
    written = {f.path for f in trace.files if f.write}
    counted = closure.resolved_paths() if closure is not None else frozenset()
    for access in trace.files:
        path = access.path
        if not access.found or access.write or path in written or not path.startswith("/"):
            continue
        if path.startswith(("/proc/", "/sys/", "/dev/")) or path in ("/proc", "/sys", "/dev", "/"):
            continue
        host = resolve_in_root(rootfs, path)
        if host is None:
            continue
        try:
            st = host.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            real = "/" + str(host.relative_to(rootfs)) if host.is_relative_to(rootfs) else path
            if path not in files and real not in counted:
                total += st.st_size
            files.add(path)
        elif stat.S_ISDIR(st.st_mode):
            dirs.add(path)
    return tuple(sorted(files)), tuple(sorted(dirs)), total


def _trace(rootfs: Path, config: ImageConfig, duration: float, step: Step) -> TraceFacts:
    from transpile.sandbox import TraceOptions, run_trace

    with step(f"tracing the entrypoint in a sandbox ({duration:g} s)"):
        return run_trace(rootfs, config, TraceOptions(duration_s=duration))


def _seccomp_profile(trace: TraceFacts | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    from transpile.passes import seccomp

    return seccomp.seccomp_profile(trace)


# --- the whole conversion ---------------------------------------------------------------------------


def _emit(target: str, facts: ConversionFacts) -> Recipe:
    import importlib

    module = importlib.import_module(f"transpile.targets.{target}")
    recipe: Recipe = module.emit(facts)
    return recipe


def _check_output(output: Path, force: bool) -> None:
    if output.exists() and not force:
        raise DockuniError(
            "output directory exists (use --force to replace it)", file=str(output), exit_code=EXIT_USAGE
        )
    if output.exists() and not output.is_dir():
        raise DockuniError(
            "output path exists and is not a directory", file=str(output), exit_code=EXIT_USAGE
        )
    parent = output.absolute().parent
    if not parent.is_dir():
        raise DockuniError(
            "the output directory's parent does not exist", file=str(parent), exit_code=EXIT_USAGE
        )


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
    from transpile import graphview

    return graphview.render(dot_text, "svg")


def convert(
    opts: ConvertOptions,
    step: Step = quiet,
    *,
    trace_facts: TraceFacts | None = None,
) -> ConvertResult:
    """Run the whole conversion and write OPTS.output atomically. TRACE_FACTS reuses a recorded trace."""
    from transpile.passes import compat
    from transpile.passes import graph as gr

    output = Path(opts.output)
    _check_output(output, opts.force)
    with step("parsing the Dockerfile"):
        df, findings = _parse_and_check(opts.dockerfile, opts.build_args)
    unverified: list[str] = []
    exit_env = False

    with contextlib.ExitStack() as stack:
        img = None
        try:
            img = _acquire(opts, stack, step)
        except DockuniError as err:
            if err.exit_code != EXIT_ENVIRONMENT:
                raise
            exit_env = True
            unverified.append(f"no image: {err.message}; verdicts rest on the Dockerfile alone")
        trace: TraceFacts | None = None
        if img is None:
            static = _static_from_dockerfile(df, opts.dockerfile)
            config = ImageConfig(
                entrypoint=df.runtime.entrypoint,
                cmd=df.runtime.cmd,
                env=df.runtime.env,
                working_dir=df.runtime.workdir,
                user=df.runtime.user,
                exposed_ports=df.runtime.expose,
            )
            imf: ImageFacts | None = None
        else:
            imf = image_facts(img, df, opts.dockerfile, step)
            static, config = imf.static, imf.config
            findings = (*findings, *imf.findings)
            if trace_facts is not None:
                trace = trace_facts
            elif opts.trace:
                try:
                    trace = _trace(img.rootfs, config, opts.duration, step)
                except DockuniError as err:
                    if err.exit_code != EXIT_ENVIRONMENT:
                        raise
                    exit_env = True
                    unverified.append(f"no trace: {err.message}")
            else:
                unverified.append("no trace (--no-trace): syscalls come from imported symbols only")
        runtime_files: tuple[str, ...] = ()
        runtime_dirs: tuple[str, ...] = ()
        runtime_bytes = 0
        if img is not None and trace is not None:
            closure = imf.closure if imf else None
            runtime_files, runtime_dirs, runtime_bytes = _runtime_files(img.rootfs, trace, closure)

        with step("building the facility graph and the verdicts"):
            graph = gr.build_graph(static, trace)
            verdicts = compat.verdicts(graph, static, trace, findings, opts.targets or TARGETS)
        ranking = tuple(v.target for v in compat.rank(verdicts))
        extra: dict[str, Any] = {
            "symlinks": imf.symlinks if imf else {},
            "runtime_dirs": list(runtime_dirs),
            "runtime_bytes": runtime_bytes,
            "attack_surface": compat.attack_surface(trace),
            "unverified": list(unverified),
        }
        profile = _seccomp_profile(trace)
        if profile is not None:
            extra["seccomp_profile"] = profile
        facts = ConversionFacts(
            dockerfile_path=opts.dockerfile,
            dockerfile=df,
            image_reference=imf.reference if imf else "",
            config=config,
            argv=tuple(static.argv),
            chain=imf.chain if imf else None,
            closure=imf.closure if imf else None,
            trace=trace,
            findings=tuple(findings),
            verdicts=verdicts,
            image_bytes=imf.image_bytes if imf else 0,
            closure_bytes=imf.closure_bytes if imf else 0,
            runtime_files=runtime_files,
            extra=extra,
        )

        recipes: list[Recipe] = []
        to_emit: tuple[str, ...] = ()
        fallback = False
        if img is not None:
            with step("emitting recipes"):
                to_emit = ranking if opts.auto else tuple(t for t in opts.targets if t in ranking)
                recipes = [_emit(t, facts) for t in to_emit]
                # auto: a Linux microVM is offered when it fits, but without any unikernel the
                # conversion has fallen back; the hardened container is the recipe that always runs.
                unikernels = [t for t in to_emit if t != "microvm"]
                fallback = not recipes or (opts.auto and not unikernels)
                if fallback:
                    recipes.append(_emit("container", facts))
        if exit_env:
            code = EXIT_ENVIRONMENT
        elif fallback or (not opts.auto and len(to_emit) < len(opts.targets)):
            code = EXIT_FALLBACK
        else:
            code = EXIT_OK
        if img is None:
            unverified.append("no recipes: they need the image's files")
            extra["unverified"] = list(unverified)

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


def _acquire(opts: ConvertOptions, stack: contextlib.ExitStack, step: Step) -> Any:
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
        src = ImageSource(
            kind="build",
            ref=opts.dockerfile,
            context=opts.context,
            build_args=dict(opts.build_args),
            target=opts.build_target,
        )
        what = f"building {opts.dockerfile} with the engine"
    with step(what):
        return stack.enter_context(acquire(src))


def _write_output(
    output: Path,
    opts: ConvertOptions,
    result: ConvertResult,
    graph: Any,
    recipes: Sequence[Recipe],
    img: Any,
    step: Step,
) -> ConvertResult:
    from transpile import graphview, report

    parent = output.absolute().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=parent))
    try:
        for recipe in recipes:
            _write_recipe(tmp / recipe.target, recipe)
        if "microvm" in result.emitted and img is not None:
            result = _microvm_initramfs(tmp / "microvm", img.rootfs, result, step)
        verify_result: dict[str, Any] | None = None
        if opts.verify:
            verify_result = _verify(tmp, result, img, opts, step)
            if not verify_result.get("ok"):
                result = replace(result, exit_code=max(result.exit_code, EXIT_FALLBACK))
            result = replace(result, verify=verify_result)
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
        # every file in the folder, including what --verify built (the microvm's initramfs.cpio)
        files = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
        files.extend(["report.json", "report.md"])
        result = replace(result, files=tuple(sorted(files)))
        (tmp / "report.json").write_text(
            json.dumps(report.convert_to_json(result), indent=2, sort_keys=True) + "\n"
        )
        (tmp / "report.md").write_text(report.render_convert_markdown(result))
        tmp.chmod(0o755)
        if output.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=parent))
            output.rename(trash / output.name)
            tmp.rename(output)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _verify(tmp: Path, result: ConvertResult, img: Any, opts: ConvertOptions, step: Step) -> dict[str, Any]:
    if "microvm" not in result.emitted:
        return {"ok": False, "detail": "--verify boots the microvm recipe, which was not emitted"}
    if img is None:
        return {"ok": False, "detail": "--verify needs the image"}
    from transpile.targets import qemu

    try:
        with step("booting the microVM and probing the app"):
            # the initramfs is already in the recipe (_microvm_initramfs), so no rootfs: no second build
            res = qemu.verify(tmp / "microvm", None, Path(opts.kernel) if opts.kernel else None)
    except DockuniError as err:  # no port to probe, no kernel, no QEMU: a failed verification, reported
        return {"ok": False, "detail": err.message}
    out = res.to_json() if hasattr(res, "to_json") else dict(vars(res))
    console = str(out.pop("console", "") or "")
    if not res.ok:
        # a failed boot is explained by what the guest printed: keep the end of its console log
        out["console_tail"] = console[-_CONSOLE_TAIL:]
    return out | {"ok": bool(res.ok)}


_CONSOLE_TAIL = 4000


def _microvm_initramfs(recipe_dir: Path, rootfs: Path, result: ConvertResult, step: Step) -> ConvertResult:
    """Build the microvm recipe's initramfs.cpio from the image, so that its run.sh boots as written."""
    from transpile.targets import qemu

    with step("packing the microVM initramfs"):
        missing = qemu.build_recipe_initramfs(recipe_dir, rootfs)
    if not missing:
        return result
    note = "files the recipe lists but the image lacks (left out of initramfs.cpio): " + ", ".join(missing)
    notes = tuple((t, (*n, note) if t == "microvm" else n) for t, n in result.notes)
    return replace(result, notes=notes)


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


def image_graph(opts: GraphOptions, step: Step = quiet) -> Any:
    """The facility graph of an image (networkx DiGraph), with or without a trace."""
    return image_graph_verdicts(opts, step)[0]


def image_graph_verdicts(opts: GraphOptions, step: Step = quiet) -> tuple[Any, tuple[TargetVerdict, ...]]:
    """The facility graph of an image and the verdicts of every target on it, for the graph's views."""
    from transpile.image import ImageSource, acquire
    from transpile.passes import compat
    from transpile.passes import graph as gr

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
        imf = image_facts(img, df, dockerfile, step)
        trace = recorded
        if trace is None and opts.trace:
            trace = _trace(img.rootfs, imf.config, opts.duration, step)
    graph = gr.build_graph(imf.static, trace)
    verdicts = compat.verdicts(graph, imf.static, trace, (*findings, *imf.findings), TARGETS)
    return graph, verdicts
