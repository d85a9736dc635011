"""What a scan runs over: a manifest (YAML or CSV), a directory tree of Dockerfiles, or engine images."""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from transpile.errors import DockuniError, ExitCode

SourceKind = Literal["image", "archive", "oci", "build", "static"]
_SOURCES: tuple[SourceKind, ...] = ("image", "archive", "oci", "build")
_COLUMNS = ("name", "dockerfile", "image", "archive", "oci", "context")


@dataclass(frozen=True)
class ImageSpec:
    """One image of the fleet: its name in the reports and where it comes from."""

    name: str
    kind: SourceKind  # build: a Dockerfile built by the engine; static: the Dockerfile alone
    ref: str  # engine image name, archive path, OCI path, or the Dockerfile for build/static
    dockerfile: str | None = None  # the Dockerfile the image was built from, when known
    context: str | None = None  # build context (build only)

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "kind": self.kind, "ref": self.ref, "dockerfile": self.dockerfile}


def _spec(row: dict[str, Any], where: str, base: Path) -> ImageSpec:
    def text(key: str) -> str | None:
        value = row.get(key)
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip()

    unknown = sorted(k for k in row if k not in _COLUMNS)
    if unknown:
        raise DockuniError(f"unknown field {unknown[0]!r} (fields: {', '.join(_COLUMNS)})", file=where)
    name = text("name")
    if name is None:
        raise DockuniError("every image needs a `name`", file=where)
    given: list[SourceKind] = [k for k in _SOURCES if k != "build" and text(k)]
    context = text("context")
    if context is not None:
        given.append("build")
    if len(given) != 1:
        raise DockuniError(
            f"image {name!r}: give exactly one of image, archive, oci or context (build), not {len(given)}",
            file=where,
        )
    kind = given[0]

    def local(value: str | None) -> str | None:  # paths in a manifest are relative to the manifest
        return None if value is None else str(base / value)

    dockerfile = local(text("dockerfile"))
    if kind == "build":
        ctx = local(context)
        assert ctx is not None
        return ImageSpec(name, "build", dockerfile or str(Path(ctx) / "Dockerfile"), None, ctx)
    ref = text(kind)
    assert ref is not None
    return ImageSpec(name, kind, ref if kind == "image" else str(local(ref)), dockerfile)


def _unique(specs: list[ImageSpec], where: str) -> tuple[ImageSpec, ...]:
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise DockuniError(f"image name {s.name!r} appears twice", file=where)
        seen.add(s.name)
    if not specs:
        raise DockuniError("the manifest names no image", file=where)
    return tuple(specs)


def read_manifest(path: str) -> tuple[ImageSpec, ...]:
    """A YAML manifest (a list of mappings, or {images: [...]}) or a CSV one (header row; `name` and one
    of image/archive/oci/context; `dockerfile` optional)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or err
        raise DockuniError(f"cannot read manifest: {reason}", file=path) from err
    base = p.parent
    if p.suffix.lower() == ".csv":
        return _unique(_read_csv(text, path, base), path)
    return _unique(_read_yaml(text, path, base), path)


def _read_csv(text: str, path: str, base: Path) -> list[ImageSpec]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "name" not in reader.fieldnames:
        raise DockuniError("a CSV manifest needs a header row with `name`", file=path, line=1, column=1)
    specs = []
    for row in reader:
        if None in row:  # DictReader files surplus values under None
            raise DockuniError("more values than the header names", file=path, line=reader.line_num, column=1)
        fields = {k: v for k, v in row.items() if v not in (None, "")}
        if not fields:
            continue
        specs.append(_spec(fields, f"{path}:{reader.line_num}:1", base))
    return specs


def _read_yaml(text: str, path: str, base: Path) -> list[ImageSpec]:
    try:
        import yaml
    except ImportError as err:
        raise DockuniError(
            "YAML manifests need PyYAML (pip install 'dockuni[fleet]'), or use a CSV manifest",
            file=path, exit_code=ExitCode.ENVIRONMENT,
        ) from err  # fmt: skip
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = getattr(err, "problem", err)
        raise DockuniError(f"not valid YAML: {problem}", file=path, line=line, column=col) from err
    if isinstance(data, dict) and "images" in data:
        data = data["images"]
    if not isinstance(data, list):
        raise DockuniError("a YAML manifest is a list of images (or a mapping with `images:`)", file=path)
    specs = []
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DockuniError(f"image {i + 1} is not a mapping", file=path)
        specs.append(_spec(row, f"{path}: image {i + 1}", base))
    return specs


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "image"


def discover_tree(root: str, build: bool = False) -> tuple[ImageSpec, ...]:
    """Every Dockerfile under ROOT (files named Dockerfile, Dockerfile.*, *.Dockerfile), sorted; each is
    checked statically, or built by the engine with BUILD."""
    top = Path(root)
    if not top.is_dir():
        raise DockuniError("not a directory", file=root)
    found = sorted(
        p
        for p in top.rglob("*")
        if p.is_file()
        and (p.name == "Dockerfile" or p.name.startswith("Dockerfile.") or p.name.endswith(".Dockerfile"))
    )
    specs = []
    for p in found:
        rel = p.relative_to(top)
        name = str(rel.parent) if p.name == "Dockerfile" and str(rel.parent) != "." else str(rel)
        kind: SourceKind = "build" if build else "static"
        specs.append(ImageSpec(name, kind, str(p), str(p), str(p.parent) if build else None))
    if not specs:
        raise DockuniError("no Dockerfile found under this directory", file=root)
    return tuple(specs)


def engine_images(pattern: str = "*") -> tuple[ImageSpec, ...]:
    """The local engine's tagged images whose `repo:tag` matches the shell PATTERN."""
    from transpile.image.sources import docker_client

    client = docker_client()
    tags = sorted({t for img in client.images.list() for t in img.tags if fnmatch.fnmatchcase(t, pattern)})
    if not tags:
        raise DockuniError(f"no image in the engine matches {pattern!r}", file="--all-images")
    return tuple(ImageSpec(t, "image", t) for t in tags)


def folder_name(name: str, taken: set[str]) -> str:
    """A folder name for NAME that is safe on any filesystem and unique among TAKEN."""
    base = _slug(name)
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base}-{n}"
    taken.add(out)
    return out
