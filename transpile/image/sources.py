"""Acquire an image from one of four sources and unpack it into a root filesystem.

* ``build``: a Dockerfile built by the local Docker engine (BuildKit where it has it, see
  :mod:`transpile.image.build`), then exported as ``image``;
* ``image``: an image in the local engine, exported with ``docker save`` (SDK stream, spooled to disk);
* ``archive``: a ``docker save`` tar, read without any engine (the legacy layout and the newer one
  that is also an OCI layout both carry ``manifest.json``);
* ``oci``: an OCI image layout directory or an oci-archive tar (``index.json`` -> manifest -> config
  and layers, linux/amd64 picked from an index).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from transpile.errors import DockuniError, ExitCode
from transpile.image import layercache
from transpile.image.config import check_platform, parse_config
from transpile.image.extract import ExtractLimits, ExtractState, apply_layer, remove_tree
from transpile.model.image import AcquiredImage, ImageConfig

if TYPE_CHECKING:
    from transpile.image.build import BuildResult

SourceKind = Literal["build", "image", "archive", "oci"]
EXIT_ENVIRONMENT = ExitCode.ENVIRONMENT
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


@dataclass(frozen=True)
class ImageSource:
    kind: SourceKind
    ref: str
    context: str | None = None  # build context (build only; default: the Dockerfile's directory)
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None  # build target stage


# --- reading files from a directory or a tar, by name ------------------------------------------------


class _Store:
    """Named files inside a directory or a tar (random access), never resolved on the host FS."""

    def __init__(self, path: Path):
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        try:
            self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by close()
            for m in self._tar.getmembers():
                self._members[m.name.removeprefix("./")] = m
        except (tarfile.TarError, EOFError, OSError) as err:
            reason = str(err).splitlines()[0].rstrip(":")
            raise DockuniError(f"not a readable tar archive ({reason})", file=str(path)) from err

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def has(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file() and _inside(self.path, name)
        m = self._members.get(name)
        return m is not None and m.isreg()

    def open(self, name: str) -> IO[bytes]:
        if not self.has(name):
            raise DockuniError(
                f"the image names {name!r}, which the archive does not contain", file=str(self.path)
            )
        if self._tar is None:
            return open(self.path / name, "rb")
        f = self._tar.extractfile(self._members[name])
        assert f is not None
        return f

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise DockuniError(f"{name} is larger than {limit} bytes", file=str(self.path))
        return data

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (ValueError, UnicodeDecodeError) as err:
            raise DockuniError(f"{name} is not valid JSON: {err}", file=str(self.path)) from err


def _inside(root: Path, name: str) -> bool:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return ".." not in parts and not name.startswith("/")


def _blob(digest: object, where: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise DockuniError(f"invalid blob digest {digest!r}", file=where)
    alg, _, hexd = digest.partition(":")
    return f"blobs/{alg}/{hexd}"


@dataclass(frozen=True)
class _Plan:
    config: ImageConfig
    config_name: str
    layers: tuple[str, ...]  # names inside the store
    diff_ids: tuple[str, ...]
    reference: str
    warnings: tuple[str, ...] = ()


def _plan_docker_save(store: _Store, where: str) -> _Plan:
    manifest = store.json("manifest.json")
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise DockuniError("manifest.json does not describe any image", file=where)
    warnings: list[str] = []
    if len(manifest) > 1:
        warnings.append(f"archive holds {len(manifest)} images; using the first")
    entry = manifest[0]
    config_name = entry.get("Config")
    layers = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layers, list):
        raise DockuniError("manifest.json entry lacks Config or Layers", file=where)
    config, diff_ids = parse_config(store.read(config_name), f"{where}:{config_name}")
    tags = entry.get("RepoTags") or []
    ref = tags[0] if tags else "sha256:" + Path(config_name).name.removesuffix(".json")
    return _Plan(config, config_name, tuple(str(x) for x in layers), diff_ids, str(ref), tuple(warnings))


def _pick_manifest(store: _Store, desc: dict[str, Any], where: str, depth: int = 0) -> dict[str, Any]:
    if depth > 4:
        raise DockuniError("image index nests too deeply", file=where)
    doc = store.json(_blob(desc.get("digest"), where))
    media = doc.get("mediaType") or desc.get("mediaType") or ""
    if media in _INDEX_TYPES or "manifests" in doc:
        return _pick_from_index(store, doc, where, depth + 1)
    if not isinstance(doc, dict):
        raise DockuniError("manifest is not a JSON object", file=where)
    return doc


def _pick_from_index(store: _Store, index: Any, where: str, depth: int = 0) -> dict[str, Any]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise DockuniError("OCI index lists no manifests", file=where)
    with_platform = [m for m in manifests if isinstance(m, dict) and isinstance(m.get("platform"), dict)]
    if with_platform:
        amd = [
            m
            for m in with_platform
            if m["platform"].get("os") == "linux" and m["platform"].get("architecture") == "amd64"
        ]
        if not amd:
            found = ", ".join(
                f"{m['platform'].get('os')}/{m['platform'].get('architecture')}" for m in with_platform
            )
            raise DockuniError(f"no linux/amd64 image in the index (found {found})", file=where)
        return _pick_manifest(store, amd[0], where, depth)
    return _pick_manifest(store, manifests[0], where, depth)


def _plan_oci(store: _Store, where: str, tag: str | None) -> _Plan:
    index = store.json("index.json")
    if tag is not None and isinstance(index, dict):
        named = [
            m
            for m in index.get("manifests") or []
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag
        ]
        if not named:
            raise DockuniError(f"no image tagged {tag!r} in the OCI layout", file=where)
        index = dict(index, manifests=named)
    manifest = _pick_from_index(store, index, where)
    cdesc = manifest.get("config") or {}
    config_name = _blob(cdesc.get("digest"), where)
    config, diff_ids = parse_config(store.read(config_name), f"{where}:{config_name}")
    layers = []
    for layer in manifest.get("layers") or []:
        media = str(layer.get("mediaType", ""))
        if "zstd" in media:
            raise DockuniError(
                f"layer {layer.get('digest')} is zstd-compressed ({media}); not supported", file=where
            )
        if "nondistributable" in media or "foreign" in media:
            raise DockuniError(
                f"layer {layer.get('digest')} is not included in the layout ({media})", file=where
            )
        layers.append(_blob(layer.get("digest"), where))
    return _Plan(config, config_name, tuple(layers), diff_ids, str(cdesc.get("digest")))


def _unpack(
    store: _Store, plan: _Plan, where: str, source: str, workdir: Path, limits: ExtractLimits
) -> AcquiredImage:
    check_platform(plan.config, where)
    if plan.diff_ids and len(plan.diff_ids) != len(plan.layers):
        raise DockuniError(
            f"config lists {len(plan.diff_ids)} layers but the manifest names {len(plan.layers)}", file=where
        )
    for name in plan.layers:
        if not store.has(name):
            raise DockuniError(f"manifest names layer {name!r}, which is missing from the image", file=where)
    # unpack into a temporary sibling, renamed into place only when complete
    staging = Path(tempfile.mkdtemp(prefix=".rootfs-", dir=workdir))
    rootfs = workdir / "rootfs"
    try:
        os.chmod(staging, 0o755)
        state = ExtractState(dest=staging, limits=limits)
        digests: list[str] = []
        cache = layercache.current() if plan.diff_ids else None  # verified layers only
        start = cache.restore(plan.diff_ids, state) if cache is not None else 0
        digests.extend(plan.diff_ids[:start])
        for i, name in enumerate(plan.layers):
            if i < start:
                continue
            with store.open(name) as f:
                try:
                    digests.append(
                        apply_layer(f, state, i, name, plan.diff_ids[i] if plan.diff_ids else None)
                    )
                except DockuniError as err:
                    if err.file == "-":
                        err.file = where
                    raise
            if cache is not None:
                cache.applied += 1
                if i < len(plan.layers) - 1:  # a lower layer another image may share
                    cache.store(plan.diff_ids[: i + 1], state)
        if rootfs.exists():
            remove_tree(rootfs)
        staging.rename(rootfs)
    except BaseException:
        remove_tree(staging)
        raise
    warnings = list(plan.warnings)
    warnings += [f"skipped {s}" for s in state.skipped]
    warnings += [f"stripped setuid/setgid from {p}" for p in state.stripped]
    return AcquiredImage(
        source=source,
        reference=plan.reference,
        config=plan.config,
        rootfs=rootfs,
        image_bytes=state.tar_bytes,
        layers=tuple(digests),
        warnings=tuple(warnings),
    )


def unpack_archive(
    path: Path, workdir: Path, limits: ExtractLimits, source: str | None = None
) -> AcquiredImage:
    where = str(path)
    if not path.exists():
        raise DockuniError("no such file", file=where)
    store = _Store(path)
    try:
        if store.has("manifest.json"):
            plan = _plan_docker_save(store, where)
        elif store.has("index.json"):
            plan = _plan_oci(store, where, None)
        else:
            raise DockuniError("not a docker-save archive (no manifest.json)", file=where)
        return _unpack(store, plan, where, source or f"archive:{path}", workdir, limits)
    finally:
        store.close()


def unpack_oci(ref: str, workdir: Path, limits: ExtractLimits) -> AcquiredImage:
    path, tag = Path(ref), None
    if not path.exists() and ":" in ref:
        base, _, tag = ref.rpartition(":")
        path = Path(base)
    where = str(path)
    if not path.exists():
        raise DockuniError("no such OCI layout or archive", file=where)
    store = _Store(path)
    try:
        if not store.has("oci-layout") and not store.has("index.json"):
            raise DockuniError("not an OCI image layout (no oci-layout / index.json)", file=where)
        plan = _plan_oci(store, where, tag)
        return _unpack(store, plan, where, f"oci:{ref}", workdir, limits)
    finally:
        store.close()


# --- the Docker engine ---------------------------------------------------------------------------------


def docker_client() -> Any:
    """A docker SDK client, or DockuniError(exit 3) when no engine answers."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise DockuniError(f"the docker SDK is not installed: {err}", exit_code=EXIT_ENVIRONMENT) from err
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (DockerException, OSError) as err:
        raise DockuniError(
            f"cannot reach the Docker engine ({err.__class__.__name__}); start dockerd or set DOCKER_HOST",
            exit_code=EXIT_ENVIRONMENT,
        ) from err
    return client


def _save_engine_image(
    client: Any, ref: str, workdir: Path, limits: ExtractLimits, source: str
) -> AcquiredImage:
    from docker.errors import APIError, ImageNotFound

    try:
        image = client.images.get(ref)
    except ImageNotFound as err:
        raise DockuniError(f"no image {ref!r} in the local Docker engine", file=ref) from err
    except APIError as err:
        raise DockuniError(f"the engine refused: {err}", file=ref, exit_code=EXIT_ENVIRONMENT) from err
    # docker save puts manifest.json last, so layers cannot be applied in order while streaming;
    # spool the stream to disk (bounded memory) and read it as an archive.
    tar_path = workdir / "image.tar"
    try:
        with open(tar_path, "wb") as out:
            for chunk in image.save(chunk_size=1 << 20, named=False):
                out.write(chunk)
        acquired = unpack_archive(tar_path, workdir, limits, source=source)
    finally:
        tar_path.unlink(missing_ok=True)
    tags = image.tags
    return AcquiredImage(
        source=acquired.source,
        reference=tags[0] if tags else str(image.id),
        config=acquired.config,
        rootfs=acquired.rootfs,
        image_bytes=acquired.image_bytes,
        layers=acquired.layers,
        warnings=acquired.warnings,
    )


def build_image(src: ImageSource) -> tuple[Any, BuildResult]:
    """Build ``src.ref`` (a Dockerfile path) with the engine; return (client, what was built and how).

    BuildKit where the engine and a docker CLI have it, the legacy builder otherwise
    (:mod:`transpile.image.build`).
    """
    from transpile.image.build import build

    dockerfile = Path(src.ref)
    if not dockerfile.is_file():
        raise DockuniError("no such Dockerfile", file=src.ref)
    context = Path(src.context) if src.context else dockerfile.parent
    if not context.is_dir():
        raise DockuniError("build context is not a directory", file=str(context))
    client = docker_client()
    return client, build(client, dockerfile, context, src.build_args, src.target)


@contextlib.contextmanager
def acquire(
    src: ImageSource, workdir: Path | None = None, limits: ExtractLimits | None = None
) -> Iterator[AcquiredImage]:
    """Unpack ``src`` into ``WORKDIR/rootfs`` and yield it; the rootfs is removed on exit.

    ``workdir`` defaults to a fresh temporary directory (removed on exit as well).
    """
    limits = limits or ExtractLimits()
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="dockuni-")) if workdir is None else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    acquired: AcquiredImage | None = None
    try:
        if src.kind == "archive":
            acquired = unpack_archive(Path(src.ref), work, limits)
        elif src.kind == "oci":
            acquired = unpack_oci(src.ref, work, limits)
        elif src.kind == "image":
            acquired = _save_engine_image(docker_client(), src.ref, work, limits, f"image:{src.ref}")
        elif src.kind == "build":
            client, built = build_image(src)
            acquired = _save_engine_image(client, built.image_id, work, limits, f"build:{src.ref}")
            acquired = dataclasses.replace(acquired, builder=built.builder, builder_reason=built.reason)
        else:
            raise DockuniError(f"unknown image source kind {src.kind!r}")
        yield acquired
    finally:
        if acquired is not None:
            remove_tree(acquired.rootfs)
        if own:
            shutil.rmtree(work, ignore_errors=True)


def parse_build_args(items: Iterable[str]) -> dict[str, str]:
    """--build-arg values as `docker build` reads them: KEY=VALUE, or KEY alone to take it from the
    environment (unset: an empty value)."""
    build_args: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise DockuniError(f"--build-arg {item!r}: expected KEY=VALUE or KEY", file="--build-arg")
        build_args[key] = value if sep else os.environ.get(key, "")
    return build_args


def source_from_args(args: Any) -> ImageSource:
    """The ImageSource named by the CLI's --build/--image/--archive/--oci options (shared by commands)."""
    build_args = parse_build_args(getattr(args, "build_arg", None) or [])
    for kind in ("build", "image", "archive", "oci"):
        ref = getattr(args, kind, None)
        if ref:
            return ImageSource(
                kind=kind,
                ref=str(ref),
                context=getattr(args, "context", None),
                build_args=build_args,
                target=getattr(args, "build_target", None),
            )
    raise DockuniError("give one of --build, --image, --archive or --oci")
