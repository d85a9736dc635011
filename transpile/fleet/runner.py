"""Run the scan: cache look-ups, the per-image conversions (in process, in --jobs worker processes, or
as tasks on a Dask cluster), then scan.json, scan.csv and index.html."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transpile import __version__
from transpile import targets as registry
from transpile.errors import DockuniError, ExitCode
from transpile.fleet import records
from transpile.fleet.cache import ResultCache, image_digest
from transpile.fleet.manifest import ImageSpec, folder_name
from transpile.fleet.progress import Progress


@dataclass(frozen=True)
class ScanOptions:
    output: str = "scan-out"
    jobs: int = 1
    scheduler: str | None = None  # tcp://HOST:PORT of a Dask scheduler
    trace: bool = True
    duration: float = 8.0
    cache_dir: str | None = None  # default OUTPUT/.cache
    use_cache: bool = True  # the result cache
    layer_cache: bool = True  # the layer cache (CACHE_DIR/layers)

    def settings(self) -> str:
        """What changes a record besides the image and the version (part of the cache key)."""
        return json.dumps({"trace": self.trace, "duration": self.duration}, sort_keys=True)


@dataclass(frozen=True)
class Job:
    """One image's conversion, sent to a worker (picklable)."""

    spec: ImageSpec
    folder: str  # absolute output folder of this image
    trace: bool
    duration: float
    layer_cache: str | None = None  # directory of the layer cache (transpile.image.layercache)


@dataclass(frozen=True)
class JobStats:
    """What one job cost in layers: unpacked from their tars, or restored from the layer cache."""

    layers_unpacked: int = 0
    layers_reused: int = 0


@dataclass
class ScanResult:
    document: dict[str, Any]  # the scan.json content
    cached: int = 0  # images served from the result cache
    converted: int = 0  # images converted in this run
    layers_unpacked: int = 0  # layers this run unpacked from their tars
    layers_reused: int = 0  # layers this run restored from the layer cache
    files: tuple[str, ...] = ()


def run_job(job: Job) -> tuple[dict[str, Any], JobStats]:
    """Convert one image into its folder; its record and what it cost (never raises for a bad image)."""
    from transpile.image.layercache import use_layer_cache

    if job.layer_cache is None:
        return _convert(job), JobStats()
    with use_layer_cache(Path(job.layer_cache)) as cache:
        record = _convert(job)
    return record, JobStats(cache.applied, cache.reused)


def _convert(job: Job) -> dict[str, Any]:
    from transpile import pipeline

    spec = job.spec
    start = time.monotonic()
    source = {"kind": spec.kind, "ref": spec.ref, "dockerfile": spec.dockerfile}
    fallback = registry.fallback().capabilities.name
    try:
        if spec.kind == "static":
            return _static_record(spec, source, fallback, start)
        opts = pipeline.ConvertOptions(
            dockerfile=spec.dockerfile,
            context=spec.context,
            image=spec.ref if spec.kind == "image" else None,
            archive=spec.ref if spec.kind == "archive" else None,
            oci=spec.ref if spec.kind == "oci" else None,
            trace=job.trace,
            duration=job.duration,
            output=job.folder,
            force=True,
        )
        result = pipeline.convert(opts)
        report = json.loads((Path(job.folder) / "report.json").read_text(encoding="utf-8"))
        del result
        return records.record_from_report(spec.name, source, report, fallback, time.monotonic() - start)
    except DockuniError as err:
        return records.error_record(spec.name, source, str(err), err.exit_code, time.monotonic() - start)


def _static_record(spec: ImageSpec, source: dict[str, Any], fallback: str, start: float) -> dict[str, Any]:
    """A Dockerfile without an image: the verdicts its static rules alone support."""
    from transpile import pipeline
    from transpile.passes import compat
    from transpile.report import convert_to_json  # noqa: F401 - same JSON vocabulary as a report

    df, findings = pipeline._parse_and_check(spec.ref, {})
    static = pipeline._static_from_dockerfile(df, spec.ref)
    findings = registry.attach(findings)
    _, verdicts = pipeline.assess(static, None, findings, list(registry.convertible()))
    report = {
        "image": "",
        "targets": [
            {
                "target": v.target,
                "ok": v.ok,
                "items": [
                    {"item": it.item, "support": it.support, "rule": it.rule, "evidence": list(it.evidence)}
                    for it in v.items
                ],
            }
            for v in verdicts
        ],
        "ranking": [v.target for v in compat.rank(verdicts)],
        "fallback": not any(registry.kinds().get(v.target) == "unikernel" and v.ok for v in verdicts),
        "unverified": ["static check only: no image was built or given"],
        "exit_code": 0,
    }
    record = records.record_from_report(spec.name, source, report, fallback, time.monotonic() - start)
    # the Dockerfile alone can show what blocks a target, never that the image runs on it
    record["verdicts"] = {
        t: records.UNVERIFIED if v == records.READY else v for t, v in record["verdicts"].items()
    }
    record["best_target"] = None
    return record


Outcome = tuple[dict[str, Any], JobStats]


def _local(jobs: list[Job], n: int) -> Iterator[Outcome]:
    if n <= 1:
        for job in jobs:
            yield run_job(job)
        return
    pool = ProcessPoolExecutor(max_workers=n)
    futures: list[Future[Outcome]] = []
    try:
        futures = [pool.submit(run_job, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        for fut in futures:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(jobs: list[Job], address: str) -> Iterator[Outcome]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as err:
        raise DockuniError(
            "--scheduler needs Dask (pip install 'dockuni[fleet]')", file="--scheduler",
            exit_code=ExitCode.ENVIRONMENT,
        ) from err  # fmt: skip
    try:
        client = Client(address, timeout=30)
    except OSError as err:
        raise DockuniError(
            f"cannot reach the Dask scheduler: {err}", file=address, exit_code=ExitCode.ENVIRONMENT
        ) from err
    try:
        # pure=False: the same job twice (a rerun after a failure) must run again, not be deduplicated
        futures = [client.submit(run_job, job, pure=False, key=f"dockuni-{i}-{job.spec.name}")
                   for i, job in enumerate(jobs)]  # fmt: skip
        for fut in dask_completed(futures):
            outcome: Outcome = fut.result()
            yield outcome
    finally:
        client.close()


def scan(
    specs: tuple[ImageSpec, ...],
    options: ScanOptions,
    progress: Callable[[int], Progress] | None = None,
) -> ScanResult:
    """Scan SPECS into OPTIONS.output: one folder per image, scan.json, scan.csv, index.html."""
    from transpile.fleet import render

    if options.jobs < 1:
        raise DockuniError("--jobs must be at least 1", file="--jobs")
    out = Path(options.output).absolute()
    if out.exists() and not out.is_dir():
        raise DockuniError("the output exists and is not a directory", file=options.output)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(options.cache_dir).absolute() if options.cache_dir else out / ".cache"
    cache = ResultCache(cache_dir / "results", options.settings())
    layers = str(cache_dir / "layers") if options.layer_cache else None
    bar = progress(len(specs)) if progress is not None else None

    taken: set[str] = set()
    folders = [str(out / "images" / folder_name(s.name, taken)) for s in specs]
    client: Any = None
    if any(s.kind == "image" for s in specs):
        from transpile.image.sources import docker_client

        client = docker_client()
    by_name: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    todo: list[Job] = []
    cached = 0
    for spec, folder in zip(specs, folders, strict=True):
        digest = image_digest(spec, client) if options.use_cache else None
        if digest is not None:
            keys[spec.name] = cache.key(spec, digest)
            hit = cache.get(keys[spec.name])
            if hit is not None and Path(folder).is_dir():
                by_name[spec.name] = hit
                cached += 1
                if bar is not None:
                    bar.update(hit, cached=True)
                continue
        todo.append(Job(spec, folder, options.trace, options.duration, layers))

    (out / "images").mkdir(exist_ok=True)
    stream = _dask(todo, options.scheduler) if options.scheduler else _local(todo, options.jobs)
    unpacked = reused = 0
    for rec, stats in stream:
        unpacked += stats.layers_unpacked
        reused += stats.layers_reused
        by_name[rec["name"]] = rec
        key = keys.get(rec["name"])
        if key is not None and rec["error"] is None:
            cache.put(key, rec)
        if bar is not None:
            bar.update(rec, cached=False)

    ordered = [by_name[s.name] for s in specs]
    for rec, folder in zip(ordered, folders, strict=True):
        rec["output"] = str(Path(folder).relative_to(out)) if Path(folder).is_dir() else None
    names = list(registry.names())
    document = {
        "schema": records.SCHEMA,
        "dockuni": __version__,
        "targets": names,
        "fallback": registry.fallback().capabilities.name,
        "kinds": registry.kinds(),
        "settings": json.loads(options.settings()),
        "images": ordered,
        "totals": records.totals(ordered, names),
    }
    files = render.write_all(out, document)
    return ScanResult(document, cached, len(todo), unpacked, reused, files)
