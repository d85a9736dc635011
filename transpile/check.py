"""``dockuni check``: read, parse, lower, run the rules, apply ignores and configuration.

Inline control, in Dockerfile comments::

    # dockuni ignore=DU201,DU305     on the line(s) right above an instruction: not for that one
    # dockuni global ignore=DU702    anywhere: not for this file

An id no rule has is reported as a warning (a typo would silently ignore nothing).

A file that cannot be read, parsed, validated (``transpile.syntax.validate``: what BuildKit's
instruction parser rejects fails the build) or lowered gives a ``DockuniError`` in its result;
the other files are still checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from transpile import ir
from transpile.config import Config, fails, find_config, load_config
from transpile.errors import DockuniError
from transpile.rules.base import Rule
from transpile.syntax.ast import ParsedFile

_IGNORE = re.compile(r"^\s*dockuni\s+(global\s+)?ignore\s*=\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class CheckOptions:
    """What the command line adds to (or overrides in) the configuration file."""

    ignore: frozenset[str] = frozenset()
    targets: tuple[str, ...] | None = None
    failure_threshold: str | None = None
    config_path: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileResult:
    file: str
    findings: tuple[ir.Finding, ...] = ()
    error: DockuniError | None = None
    failure_threshold: str = "warning"
    warnings: tuple[str, ...] = ()  # ``file:line:col: warning: ...`` lines, e.g. unknown ignored rules

    @property
    def failed(self) -> bool:
        return any(fails(f.severity, self.failure_threshold) for f in self.findings)


@dataclass(frozen=True)
class CheckResult:
    files: tuple[FileResult, ...]
    rules: tuple[Rule, ...]

    @property
    def findings(self) -> tuple[ir.Finding, ...]:
        return tuple(f for r in self.files for f in r.findings)

    @property
    def errors(self) -> tuple[DockuniError, ...]:
        return tuple(r.error for r in self.files if r.error is not None)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings at or above the threshold, 2 a file could not be checked."""
        if self.errors:
            return 2
        return 1 if any(r.failed for r in self.files) else 0


def inline_ignores(parsed: ParsedFile) -> tuple[frozenset[str], dict[int, frozenset[str]]]:
    """(global ignores, {instruction start line: ignores}) from ``# dockuni ... ignore=`` comments."""
    global_ids: set[str] = set()
    by_comment_line: dict[int, set[str]] = {}
    for line, text in parsed.comments:
        match = _IGNORE.match(text)
        if not match:
            continue
        ids = {part.strip().upper() for part in re.split(r"[,\s]+", match.group(2)) if part.strip()}
        if match.group(1):
            global_ids |= ids
        else:
            by_comment_line.setdefault(line, set()).update(ids)
    comment_lines = {line for line, _ in parsed.comments}
    per_instruction: dict[int, frozenset[str]] = {}
    for node in parsed.nodes:
        above: set[str] = set()
        line = node.start_line - 1
        # the comment block directly above the instruction (no blank line in between)
        while line in comment_lines:
            above |= by_comment_line.get(line, set())
            line -= 1
        if above:
            for covered in range(node.start_line, node.end_line + 1):
                per_instruction[covered] = frozenset(above)
    return frozenset(global_ids), per_instruction


def unknown_inline_ignores(parsed: ParsedFile, text: str, known: frozenset[str]) -> tuple[str, ...]:
    """A warning for each rule id in a ``# dockuni ... ignore=`` comment that no rule has (a typo
    would otherwise silently ignore nothing; ``--ignore`` makes the same mistake a usage error)."""
    out: list[str] = []
    lines = text.splitlines()
    for line, comment in parsed.comments:
        match = _IGNORE.match(comment)
        if not match:
            continue
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        for part in re.split(r"[,\s]+", match.group(2)):
            rule = part.strip().upper()
            if not rule or rule in known:
                continue
            at = re.search(rf"(?<![A-Z0-9]){re.escape(rule)}(?![A-Z0-9])", source.upper())
            col = at.start() + 1 if at else 1
            out.append(
                f"{parsed.file}:{line}:{col}: warning: unknown rule {part.strip()} in a `dockuni ignore=`"
                " comment: it ignores nothing"
            )
    return tuple(out)


def check_parsed(
    parsed: ParsedFile,
    text: str,
    config: Config,
    rules: Sequence[Rule],
    *,
    extra_ignore: frozenset[str] = frozenset(),
    targets: tuple[str, ...] | None = None,
    build_args: Mapping[str, str] | None = None,
) -> tuple[ir.Finding, ...]:
    """Validate as BuildKit's instruction parser does (its first error raises, as it fails the
    build), lower and run ``rules``; drop ignored findings; keep only the wanted targets."""
    from transpile import targets as registry
    from transpile.passes.lower import lower
    from transpile.syntax.validate import validate

    validate(parsed)
    df = lower(parsed, build_args or {}, source=text)
    wanted = targets or config.targets or registry.names()
    global_ids, per_line = inline_ignores(parsed)
    ignored = config.ignore | extra_ignore | global_ids
    # Lines where a rule says the others do not apply (even when that rule itself is ignored).
    quiet = {
        rule.id: tuple(rule.quiet_lines(df)) for rule in rules if rule.quiet_lines is not None
    }
    out: list[ir.Finding] = []
    for rule in rules:
        if rule.id in ignored or not set(rule.targets) & set(wanted):
            continue
        for found in rule.check(df, parsed):
            if found.span is not None and found.rule in per_line.get(found.span.line, frozenset()):
                continue
            if found.span is not None and any(
                lo <= found.span.line <= hi
                for owner, ranges in quiet.items()
                if owner != rule.id
                for lo, hi in ranges
            ):
                continue
            kept = tuple(t for t in found.targets if t in wanted)
            if not kept:
                continue
            out.append(replace(found, targets=kept) if kept != found.targets else found)
    out.sort(key=lambda f: (f.span.line, f.span.column, f.rule) if f.span else (0, 0, f.rule))
    return tuple(out)


def check_file(
    path: str,
    options: CheckOptions,
    rules: Sequence[Rule],
    config: Config | None = None,
    found: dict[str, Config] | None = None,
) -> FileResult:
    """Check one file; ``found`` caches searched configurations by directory within one run."""
    from transpile.syntax.loader import read_text
    from transpile.syntax.parser import parse_text

    threshold = options.failure_threshold or (config.failure_threshold if config else "warning")
    warnings: tuple[str, ...] = ()
    try:
        if config is None:
            directory = os.path.dirname(path) or "."
            if found is None or directory not in found:
                searched = find_config(Path(directory))
                if found is not None:
                    found[directory] = searched
            config = searched if found is None else found[directory]
            threshold = options.failure_threshold or config.failure_threshold
            unknown = sorted(config.ignore - {rule.id for rule in rules})
            if unknown:
                raise DockuniError(f"ignore: unknown rule {unknown[0]}", config.path or "-")
        text = read_text(path)
        parsed = parse_text(text, path)
        warnings = unknown_inline_ignores(parsed, text, frozenset(rule.id for rule in rules))
        findings = check_parsed(
            parsed,
            text,
            config,
            rules,
            extra_ignore=options.ignore,
            targets=options.targets,
            build_args=options.build_args,
        )
    except DockuniError as err:
        return FileResult(path, (), err, threshold, warnings)
    return FileResult(path, findings, None, threshold, warnings)


def run_check(paths: Sequence[str], options: CheckOptions) -> CheckResult:
    """Check every file; a bad ``--config`` or an unknown rule id is a usage error for all."""
    from transpile.rules.registry import all_rules

    rules = all_rules()
    known = {r.id for r in rules}
    unknown = sorted(options.ignore - known)
    if unknown:
        raise DockuniError(f"--ignore: unknown rule {unknown[0]} (known: {', '.join(sorted(known))})")
    config = load_config(options.config_path) if options.config_path else None
    if config is not None:
        bad = sorted(config.ignore - known)
        if bad:
            raise DockuniError(f"ignore: unknown rule {bad[0]}", config.path or "-")
    return CheckResult(tuple(_check_all(paths, options, rules, config)), rules)


# Below this many files a second process costs more (fork, pickling the results) than it saves.
PARALLEL_MIN_FILES = 64


def _check_all(
    paths: Sequence[str], options: CheckOptions, rules: Sequence[Rule], config: Config | None
) -> list[FileResult]:
    """Every file's result, in order. A large batch is split with one forked child process, as
    hadolint spreads a batch over the cores: checking a file is pure, so the halves are
    independent. Any trouble with the child (no fork, a crash, unreadable results) only means
    its half is checked here instead."""
    if len(paths) < PARALLEL_MIN_FILES or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return _check_all_here(paths, options, rules, config)
    import pickle

    # Load what every file needs before forking, so that the child does not load it again.
    from transpile.passes import lower, shell  # noqa: F401
    from transpile.syntax import loader, parser  # noqa: F401

    shell.analyze("true && true")  # the shell tables
    half = len(paths) // 2
    head, tail = paths[:half], paths[half:]
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return _check_all_here(paths, options, rules, config)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return _check_all_here(paths, options, rules, config)
    if pid == 0:  # the child: check the tail, send the results, leave without any cleanup
        code = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(_check_all_here(tail, options, rules, config), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    results = _check_all_here(head, options, rules, config)
    with os.fdopen(read_fd, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    rest: list[FileResult] | None = None
    if status == 0:
        try:
            loaded = pickle.loads(data)
        except Exception:
            loaded = None
        if isinstance(loaded, list) and len(loaded) == len(tail):
            rest = loaded
    if rest is None:
        rest = _check_all_here(tail, options, rules, config)
    return results + rest


def _check_all_here(
    paths: Sequence[str], options: CheckOptions, rules: Sequence[Rule], config: Config | None
) -> list[FileResult]:
    found: dict[str, Config] = {}
    return [check_file(path, options, rules, config, found) for path in paths]
