"""``dockuni check`` configuration: ``.dockuni.toml`` or ``[tool.dockuni]`` in ``pyproject.toml``.

Keys (all optional)::

    ignore = ["DU201", "DU702"]        # rules never reported
    targets = ["..."]   # only findings that matter for these targets (`dockuni check --help` lists them)
    failure-threshold = "warning"     # lowest severity that makes the exit code 1 ("none": never)

The file is looked for from the Dockerfile's directory upwards; in each directory
``.dockuni.toml`` wins over ``pyproject.toml``, and a ``pyproject.toml`` without a
``[tool.dockuni]`` table is passed over. ``--config FILE`` names one explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transpile import ir
from transpile.errors import DockuniError

THRESHOLDS: tuple[str, ...] = ("error", "warning", "info", "style", "none")
DEFAULT_THRESHOLD = "warning"
RULE_ID = re.compile(r"^DU[0-9]{3}$")
_KEYS = ("ignore", "targets", "failure-threshold")
# [tool.dockuni], [ tool . "dockuni" ] or dotted keys tool.dockuni.x = ...: worth a TOML parse
_MENTIONS_TABLE = re.compile(r"tool\s*\.\s*[\"']?dockuni\b")


@dataclass(frozen=True)
class Config:
    ignore: frozenset[str] = frozenset()
    targets: tuple[str, ...] = ()  # () means every registered target
    failure_threshold: str = DEFAULT_THRESHOLD
    path: str | None = None  # where it was read from, None for the defaults
    set_keys: frozenset[str] = field(default_factory=frozenset)  # keys the file actually set


def fails(severity: str, threshold: str) -> bool:
    """Whether a finding of ``severity`` makes the run fail under ``threshold``."""
    if threshold == "none":
        return False
    return ir.SEVERITY_ORDER[severity] >= ir.SEVERITY_ORDER[threshold]


def _key_position(text: str, key: str) -> tuple[int, int]:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.MULTILINE)
    match = pattern.search(text)
    if not match:
        return 0, 0
    line = text.count("\n", 0, match.start()) + 1
    col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return line, col + (len(match.group(0)) - len(match.group(0).lstrip()))


def _toml_error(path: str, text: str, err: Exception) -> DockuniError:
    message = str(err)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        clean = message[: match.start()].strip()
        return DockuniError(f"invalid TOML: {clean}", path, int(match.group(1)), int(match.group(2)))
    if "(at end of document)" in message:
        clean = message.replace("(at end of document)", "at the end of the file").strip()
        last = text.rsplit("\n", 1)[-1]
        return DockuniError(f"invalid TOML: {clean}", path, text.count("\n") + 1, len(last) + 1)
    return DockuniError(f"invalid TOML: {message}", path)


def parse_config(text: str, path: str, *, pyproject: bool) -> Config | None:
    """The config in ``text``; None for a pyproject.toml without ``[tool.dockuni]``."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(path, text, err) from None
    table: Any = data
    if pyproject:
        table = data.get("tool", {}).get("dockuni") if isinstance(data.get("tool"), dict) else None
        if table is None:
            return None
    elif isinstance(data.get("tool"), dict) and "dockuni" in data["tool"] and len(data) == 1:
        table = data["tool"]["dockuni"]  # a .dockuni.toml written like a pyproject table
    if not isinstance(table, dict):
        raise DockuniError("[tool.dockuni] must be a table", path, *_key_position(text, "dockuni"))

    def fail(key: str, message: str) -> DockuniError:
        return DockuniError(message, path, *_key_position(text, key))

    for key in table:
        if key not in _KEYS:
            known = ", ".join(_KEYS)
            raise fail(key, f"unknown key {key!r} (known: {known})")
    ignore: frozenset[str] = frozenset()
    if "ignore" in table:
        value = table["ignore"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("ignore", 'ignore must be a list of rule ids, e.g. ["DU201"]')
        bad = [v for v in value if not RULE_ID.match(v.upper())]
        if bad:
            raise fail("ignore", f"ignore: {bad[0]!r} is not a rule id (DU followed by three digits)")
        ignore = frozenset(v.upper() for v in value)
    targets: tuple[str, ...] = ()
    if "targets" in table:
        from transpile import targets as registry

        names = registry.names()
        value = table["targets"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise fail("targets", f"targets must be a non-empty list of {', '.join(names)}")
        unknown = [v for v in value if v not in names]
        if unknown:
            raise fail("targets", f"targets: unknown target {unknown[0]!r} (known: {', '.join(names)})")
        targets = tuple(t for t in names if t in value)
    threshold = DEFAULT_THRESHOLD
    if "failure-threshold" in table:
        value = table["failure-threshold"]
        if value not in THRESHOLDS:
            raise fail("failure-threshold", f"failure-threshold must be one of {', '.join(THRESHOLDS)}")
        threshold = value
    return Config(ignore, targets, threshold, path, frozenset(table))


def load_config(path: str | Path) -> Config:
    """Read an explicitly named config file (``--config``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DockuniError("config file not found", str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DockuniError(f"cannot read config file: {err}", str(path)) from None
    config = parse_config(text, str(path), pyproject=p.name == "pyproject.toml")
    if config is None:
        raise DockuniError("no [tool.dockuni] table in this pyproject.toml", str(path))
    return config


def find_config(start: Path) -> Config:
    """The nearest config from ``start`` (a directory) upwards, or the defaults."""
    directory = start.resolve()
    for candidate_dir in (directory, *directory.parents):
        dotfile = candidate_dir / ".dockuni.toml"
        if dotfile.is_file():
            return load_config(dotfile)
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if not _MENTIONS_TABLE.search(text):
                continue  # cheap: most pyproject files are not ours, skip the TOML parse
            config = parse_config(text, str(pyproject), pyproject=True)
            if config is not None:
                return config
    return Config()
