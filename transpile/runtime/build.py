"""A cached, atomic build of a kernel from pinned source archives.

A ``BuildSpec`` names the archives it needs (file names of a sources directory that carries
``SOURCES.tsv``: file, repository, ref, commit; and ``SHA256SUMS``), a configuration, the steps that
lay the sources out in a scratch directory and run the build, and the outputs to keep. The cache entry
is ``$XDG_CACHE_HOME/dockuni/kernels/<name>-<key12>/`` where the key is a sha256 over the spec's
version, the archives' hashes and the configuration: the same inputs never build twice.

A build happens in a hidden temporary directory next to the cache entry and becomes the entry by one
``rename``: an entry either is complete (it has ``kernel.json``) or does not exist. A failed build
removes its temporary directory, keeps only its log (``<name>-failed.log``) and raises one line.
Without a sources directory the archives are made from the pinned upstream commits
(transpile/data/unikernel-sources.tsv) with ``git`` (this needs internet access).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO

from transpile.errors import DockuniError

EXIT_ENVIRONMENT = 3
SOURCES_ENV = "DOCKUNI_UNIKERNEL_SOURCES"  # where tests and CI find an offline sources directory
KERNEL_ENV_PREFIX = "DOCKUNI_KERNEL_"


@dataclass(frozen=True)
class SourceInfo:
    file: str  # archive name as SOURCES.tsv lists it
    repository: str  # OWNER/NAME on github.com
    ref: str
    commit: str
    sha256: str


@dataclass(frozen=True)
class BuildSpec:
    name: str  # cache and CLI name: the target's
    version: str  # a human label: name and short commit
    archives: tuple[str, ...]  # file names in the sources directory
    config: str  # configuration text that changes the result (digested into the key)
    steps: Callable[[BuildContext], None] = field(compare=False)
    outputs: tuple[str, ...]  # paths relative to the work dir to keep (files or directories)
    spec_version: int = 1  # bump when the steps change in a way the other inputs do not show

    def key(self, sources: Mapping[str, SourceInfo]) -> str:
        h = hashlib.sha256()
        h.update(f"dockuni-kernel\0{self.name}\0{self.spec_version}\0".encode())
        for a in sorted(self.archives):
            h.update(f"{a}\0{sources[a].sha256}\0".encode())
        h.update(hashlib.sha256(self.config.encode()).digest())
        return h.hexdigest()


@dataclass(frozen=True)
class Kernel:
    """A built (or user-supplied) kernel: a directory holding the spec's outputs."""

    name: str
    version: str
    path: Path
    key: str  # "" for a user-supplied kernel
    origin: str  # "cache" | "env" | "option"
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "key": self.key,
            "origin": self.origin,
            "built_at": self.meta.get("built_at"),
            "build_seconds": self.meta.get("build_seconds"),
        }


class BuildContext:
    """What the steps get: the scratch work dir, the archives, and a logged command runner."""

    def __init__(self, work: Path, archives: Mapping[str, Path], log: IO[str]) -> None:
        self.work = work
        self.archives = archives
        self.log = log

    def unpack(self, archive: str, dest: str) -> Path:
        """Unpack ARCHIVE (one top folder, stripped) into WORK/DEST; a .zip is copied, not unpacked."""
        target = self.work / dest
        target.mkdir(parents=True, exist_ok=True)
        src = self.archives[archive]
        with tarfile.open(src) as tf:
            members = []
            for m in tf.getmembers():
                parts = m.name.split("/", 1)
                if len(parts) < 2 or not parts[1]:
                    continue
                m.name = parts[1]
                members.append(m)
            tf.extractall(target, members=members, filter="tar")
        print(f"unpacked {archive} -> {dest or '.'}", file=self.log, flush=True)
        return target

    def copy(self, archive: str, dest: str) -> Path:
        target = self.work / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.archives[archive], target)
        return target

    def run(self, argv: Sequence[str], cwd: str = "", env: Mapping[str, str] | None = None) -> None:
        """Run ARGV in WORK/CWD, output to the build log; a non-zero exit fails the build."""
        where = self.work / cwd
        print(f"$ (cd {cwd or '.'} && {' '.join(argv)})", file=self.log, flush=True)
        # PWD too: Makefiles that use $(PWD) must see the step's directory, not ours
        full_env = {**os.environ, "LC_ALL": "C", "PWD": str(where), **(env or {})}
        proc = subprocess.run(
            list(argv), cwd=where, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            env=full_env, check=False,
        )
        if proc.returncode != 0:
            raise _StepFailed(f"`{' '.join(argv)}` exited with {proc.returncode}")

    def git_snapshot(self, cwd: str = "", tag: str = "") -> None:
        """Make WORK/CWD a git work tree with one commit (builds that read `git describe` need it)."""
        ident = {"GIT_AUTHOR_NAME": "dockuni", "GIT_AUTHOR_EMAIL": "dockuni@localhost",
                 "GIT_COMMITTER_NAME": "dockuni", "GIT_COMMITTER_EMAIL": "dockuni@localhost"}
        self.run(["git", "init", "-q"], cwd)
        self.run(["git", "add", "-A"], cwd)
        self.run(["git", "commit", "-q", "--no-gpg-sign", "-m", "snapshot"], cwd, env=ident)
        if tag:
            self.run(["git", "tag", tag], cwd)


class _StepFailed(Exception):
    pass


# --- locations -----------------------------------------------------------------------------------


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dockuni" / "kernels"


def entry_dir(spec: BuildSpec, key: str) -> Path:
    return cache_root() / f"{spec.name}-{key[:12]}"


# --- sources -------------------------------------------------------------------------------------


def read_sources(src_dir: Path) -> dict[str, SourceInfo]:
    """SOURCES.tsv joined with SHA256SUMS of a sources directory."""
    tsv, sums = src_dir / "SOURCES.tsv", src_dir / "SHA256SUMS"
    for f in (tsv, sums):
        if not f.is_file():
            raise DockuniError("not a kernel sources directory (no SOURCES.tsv / SHA256SUMS)",
                               file=str(f), exit_code=EXIT_ENVIRONMENT)
    digests: dict[str, str] = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            digests[name.strip().lstrip("*")] = digest.strip()
    out: dict[str, SourceInfo] = {}
    for n, line in enumerate(tsv.read_text().splitlines()[1:], start=2):
        cols = line.split("\t")
        if len(cols) != 4:
            continue
        file, repo, ref, commit = cols
        if file not in digests:
            raise DockuniError(f"{file} has no sha256 in SHA256SUMS", file=str(tsv), line=n,
                               exit_code=EXIT_ENVIRONMENT)
        out[file] = SourceInfo(file, repo, ref, commit, digests[file])
    for name, digest in digests.items():  # plain files (a defconfig) are checked too
        out.setdefault(name, SourceInfo(name, "", "", "", digest))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_archives(spec: BuildSpec, src_dir: Path, sources: Mapping[str, SourceInfo]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for a in spec.archives:
        path = src_dir / a
        if a not in sources or not path.is_file():
            raise DockuniError(f"{spec.name}: source archive {a} is missing", file=str(src_dir),
                               exit_code=EXIT_ENVIRONMENT)
        got = _sha256(path)
        if got != sources[a].sha256:
            raise DockuniError(
                f"{spec.name}: sha256 mismatch for {a} (expected {sources[a].sha256[:16]}…, "
                f"got {got[:16]}…)", file=str(path), exit_code=EXIT_ENVIRONMENT)
        found[a] = path
    return found


def fetch_sources(spec: BuildSpec, sources: Mapping[str, SourceInfo], dest: Path, log: IO[str]) -> Path:
    """Make SPEC's archives in DEST from the pinned upstream commits (git clone + git archive).

    git checks every object it fetches against the commit's hash, which is the integrity check here.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for a in spec.archives:
        info = sources[a]
        if not info.repository:
            raise DockuniError(f"{spec.name}: {a} has no upstream repository to clone",
                               exit_code=EXIT_ENVIRONMENT)
        top = a.removesuffix(".tar.gz").removesuffix(".zip")
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            repo = Path(tmp) / "repo"
            url = f"https://github.com/{info.repository}.git"
            for argv in (["git", "init", "-q", str(repo)],
                         ["git", "-C", str(repo), "fetch", "-q", "--depth", "1", url, info.commit]):
                print("$ " + " ".join(argv), file=log, flush=True)
                if subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode:
                    raise DockuniError(f"{spec.name}: cannot fetch {url} at {info.commit}",
                                       exit_code=EXIT_ENVIRONMENT)
            fmt = "zip" if a.endswith(".zip") else "tar.gz"
            argv = ["git", "-C", str(repo), "archive", f"--format={fmt}", f"--prefix={top}/",
                    "-o", str(dest / a), info.commit]
            if subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode:
                raise DockuniError(f"{spec.name}: git archive of {info.repository} failed",
                                   exit_code=EXIT_ENVIRONMENT)
    return dest


# --- user-supplied kernels -------------------------------------------------------------------------

_overrides: dict[str, Path] = {}


def set_kernel_override(name: str, path: Path | None) -> None:
    """Use PATH (an existing kernel directory or file, from kraft/ops/capstan) for NAME instead of the
    cache; None removes the override. The environment variable DOCKUNI_KERNEL_<NAME> does the same."""
    if path is None:
        _overrides.pop(name, None)
    else:
        _overrides[name] = path


def override_for(name: str) -> tuple[Path, str] | None:
    if name in _overrides:
        return _overrides[name], "option"
    env = os.environ.get(KERNEL_ENV_PREFIX + name.upper().replace("-", "_"))
    if env:
        return Path(env), "env"
    return None


# --- building --------------------------------------------------------------------------------------


def cached(spec: BuildSpec, sources: Mapping[str, SourceInfo]) -> Kernel | None:
    d = entry_dir(spec, spec.key(sources))
    meta_file = d / "kernel.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    return Kernel(spec.name, spec.version, d, str(meta.get("key", "")), "cache", meta)


def find_kernel(spec: BuildSpec, sources: Mapping[str, SourceInfo] | None = None) -> Kernel | None:
    """The kernel to boot with: an override (option, then environment), else the newest cache entry
    for SPEC (the one matching SOURCES when given), else None."""
    ov = override_for(spec.name)
    if ov is not None:
        path, origin = ov
        if not path.exists():
            raise DockuniError(f"{spec.name} kernel override does not exist", file=str(path),
                               exit_code=EXIT_ENVIRONMENT)
        return Kernel(spec.name, "user-supplied", path, "", origin)
    if sources is not None:
        return cached(spec, sources)
    entries = [k for k in list_cache() if k.name == spec.name]
    entries.sort(key=lambda k: str(k.meta.get("built_at", "")))
    return entries[-1] if entries else None


def list_cache() -> list[Kernel]:
    out: list[Kernel] = []
    root = cache_root()
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        meta_file = d / "kernel.json"
        if d.name.startswith(".") or not meta_file.is_file():
            continue
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            continue
        out.append(Kernel(str(meta.get("name", "")), str(meta.get("version", "")), d,
                          str(meta.get("key", "")), "cache", meta))
    return out


@contextlib.contextmanager
def lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on PATH (created), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Progress:
    """One updating line on a TTY (stderr), plain start/end lines otherwise."""

    def __init__(self, label: str, stream: IO[str] | None) -> None:
        self.label = label
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if self.stream is None:
            return self
        if self.tty:
            self.thread = threading.Thread(target=self._spin, daemon=True)
            self.thread.start()
        else:
            print(f"{self.label}: building…", file=self.stream, flush=True)
        return self

    def _spin(self) -> None:
        assert self.stream is not None
        frames = "|/-\\"
        i = 0
        while not self.stop.wait(0.25):
            el = time.monotonic() - self.t0
            self.stream.write(f"\r{frames[i % 4]} {self.label}: building {int(el) // 60}:{int(el) % 60:02d}")
            self.stream.flush()
            i += 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            assert self.stream is not None
            self.stream.write("\r\033[K")
            self.stream.flush()


def build(
    spec: BuildSpec,
    src_dir: Path | None,
    *,
    progress: IO[str] | None = None,
) -> Kernel:
    """SPEC's kernel: from the cache, else built from SRC_DIR's archives (or the pinned upstream
    commits when SRC_DIR is None) into the cache. Raises DockuniError (exit 3) on any failure."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if src_dir is None:
            fetched = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".fetch-", dir=root)))
            with open(fetched / "fetch.log", "w") as flog, _Progress(f"{spec.name} (cloning)", progress):
                fetch_sources(spec, pinned_sources(), fetched, flog)
            # git checked every object against the pinned commit: the key rests on the commits
            # (a fresh `git archive` need not be byte-identical to a distributed snapshot)
            sources = {a: dataclasses.replace(i, sha256="git:" + i.commit)
                       for a, i in pinned_sources().items()}
            archives = {a: fetched / a for a in spec.archives}
        else:
            sources = read_sources(src_dir)
            archives = check_archives(spec, src_dir, sources)
        key = spec.key(sources)
        final = entry_dir(spec, key)
        with lock(root / f".{spec.name}.lock"):
            hit = cached(spec, sources)
            if hit is not None:
                return hit
            return _build_locked(spec, sources, archives, key, final, progress)
    raise AssertionError("unreachable")


def pinned_sources() -> dict[str, SourceInfo]:
    """The pinned commits and snapshot hashes shipped with dockuni (transpile/data)."""
    text = resources.files("transpile.data").joinpath("unikernel-sources.tsv").read_text()
    out: dict[str, SourceInfo] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("file\t"):
            continue
        file, repo, ref, commit, digest = line.split("\t")
        out[file] = SourceInfo(file, repo, ref, commit, digest)
    return out


def _build_locked(
    spec: BuildSpec,
    sources: Mapping[str, SourceInfo],
    archives: Mapping[str, Path],
    key: str,
    final: Path,
    progress: IO[str] | None,
) -> Kernel:
    root = final.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    failed_log = root / f"{spec.name}-failed.log"
    try:
        out = tmp / "out"
        out.mkdir()
        log_path = out / "build.log"
        t0 = time.monotonic()
        with open(log_path, "w") as log, _Progress(spec.name, progress):
            print(f"# {spec.version} key {key}", file=log, flush=True)
            ctx = BuildContext(tmp / "work", archives, log)
            ctx.work.mkdir()
            try:
                spec.steps(ctx)
                for rel in spec.outputs:
                    src = ctx.work / rel
                    if not src.exists():
                        raise _StepFailed(f"the build did not produce {rel}")
                    dst = out / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(src, dst)
            except (_StepFailed, OSError, tarfile.TarError) as e:
                print(f"# FAILED: {e}", file=log, flush=True)
                log.close()
                shutil.copyfile(log_path, failed_log)
                raise DockuniError(f"building {spec.name} failed: {e} (the file is its build log)",
                                   file=str(failed_log), exit_code=EXIT_ENVIRONMENT) from None
        seconds = round(time.monotonic() - t0, 1)
        meta = {
            "name": spec.name,
            "version": spec.version,
            "key": key,
            "sources": [{"file": a, "repository": sources[a].repository, "ref": sources[a].ref,
                         "commit": sources[a].commit, "sha256": sources[a].sha256}
                        for a in spec.archives],
            "files": list(spec.outputs),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": seconds,
        }
        (out / "kernel.json").write_text(json.dumps(meta, indent=2) + "\n")
        os.rename(out, final)
        failed_log.unlink(missing_ok=True)
        if progress is not None:
            print(f"{spec.name}: built in {seconds:.0f} s -> {final}", file=progress, flush=True)
        return Kernel(spec.name, spec.version, final, key, "cache", meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def default_progress() -> IO[str]:
    return sys.stderr
