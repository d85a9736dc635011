"""The target registry: targets are found by looking, and a new one is its module and its data alone."""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import transpile
from transpile import pipeline
from transpile import targets as registry
from transpile.model.target import Target
from transpile.model.trace import TraceFacts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello"
PACKAGE = Path(transpile.__file__).parent
TARGET_NAMES = ("unikraft", "nanos", "osv", "microvm")
# Words that are also a target's name but mean something else there: QEMU's machine type `-M microvm`.
HOMONYMS = {("runtime/linuxvm.py", "microvm")}

# A complete target: a kernel that implements only what the example's static server needs, emitting a
# one-file recipe. It lives in its own module and reads its own data file, nothing else.
TOY_MODULE = '''
"""A toy target, to show what a new target needs."""

import json
from pathlib import Path

from transpile import data
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.targets._base import UnikernelTarget


def emit(facts: ConversionFacts) -> Recipe:
    body = json.dumps({"argv": list(facts.argv)}, sort_keys=True) + "\\n"
    return Recipe("toy", (("toy.json", body.encode()),), notes=("a toy recipe",))


_RAW = json.loads((Path(__file__).parent / "toy_data.json").read_text())
TARGET = UnikernelTarget(data.capabilities_from(_RAW), emit)
'''

TOY_DATA = {
    "name": "toy",
    "title": "Toy kernel",
    "kind": "unikernel",
    "footprint_rank": 0,
    "single_user": True,
    "syscall_table": None,
    "default_facility": "supported",
    "facilities": {"process.fork": "missing", "process.exec": "missing"},
    "sources": ["tests/targets/test_registry.py"],
}


@pytest.fixture
def toy_target(tmp_path: Path) -> Iterator[str]:
    """A toy target module in a folder added to the targets package's search path."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY_MODULE)
    (folder / "toy_data.json").write_text(json.dumps(TOY_DATA))
    registry.__path__.append(str(folder))
    registry._discovered.cache_clear()
    try:
        yield "toy"
    finally:
        registry.__path__.remove(str(folder))
        registry._discovered.cache_clear()
        sys.modules.pop("transpile.targets.toy", None)


@pytest.mark.unit
def test_the_registry_finds_every_target_module() -> None:
    assert registry.names() == TARGET_NAMES
    assert all(isinstance(t, Target) for t in registry.all_targets())
    assert registry.fallback().capabilities.name == "container"
    assert registry.affected("process.fork") == ("unikraft", "nanos", "osv")
    assert registry.affected("") == TARGET_NAMES


@pytest.mark.unit
def test_a_toy_target_needs_only_its_module_and_data(toy_target: str, tmp_path: Path) -> None:
    assert toy_target in registry.names()
    assert registry.parse_names("nanos,toy") == ("toy", "nanos")  # registry order: footprint rank
    assert "toy" in registry.affected("process.exec")
    opts = pipeline.ConvertOptions(
        dockerfile=str(EXAMPLE / "Dockerfile"),
        archive=str(EXAMPLE / "hello.tar"),
        targets=("toy",),
        trace=False,
        output=str(tmp_path / "out"),
    )
    # a unikernel verdict needs a trace: without one it is unknown and the container is the fallback
    undecided = pipeline.convert(opts)
    assert undecided.emitted == ("container",) and undecided.exit_code == 1
    assert undecided.facts.verdicts[0].status == "unknown"
    # with a (recorded) trace of the hello program it is decided
    hello = TraceFacts(
        argv=("/usr/local/bin/hello",),
        duration_s=0.1,
        exit_reason="exited",
        exit_status=0,
        processes=(),
        syscalls=(("write", 1), ("exit_group", 1)),
        files=(),
        execs=(("/usr/local/bin/hello",),),
        dlopened=(),
        sockets=(),
        signals=(),
        listening_ports=(),
        outcomes={"startup": {"write": {"ok": 1}, "exit_group": {"ok": 1}}},
    )
    opts = replace(opts, output=str(tmp_path / "out2"))
    result = pipeline.convert(opts, trace_facts=hello)
    assert result.emitted == ("toy",) and result.exit_code == 0, result.story
    assert json.loads((tmp_path / "out2" / "toy" / "toy.json").read_text())["argv"][0].endswith("hello")
    report = json.loads((tmp_path / "out2" / "report.json").read_text())
    assert [t["target"] for t in report["targets"]] == ["toy"]


def _string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


@pytest.mark.unit
def test_no_module_outside_targets_and_data_names_a_target() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("targets", "data"):
            continue
        for text in _string_constants(path):
            words = {w.strip(".,:;()[]'\"`").lower() for w in text.replace("/", " ").split()}
            named = {n for n in words & set(TARGET_NAMES) if (str(rel), n) not in HOMONYMS}
            if named:
                offenders.append(f"{rel}: {sorted(named)} in {text[:60]!r}")
        source = path.read_text().lower()
        for name in TARGET_NAMES:
            if (str(rel), name) in HOMONYMS:
                continue
            if f'"{name}"' in source or f"'{name}'" in source:
                offenders.append(f"{rel}: {name!r}")
    assert not offenders, offenders


@pytest.mark.unit
def test_no_import_cycle_between_subpackages() -> None:
    import networkx as nx

    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        here = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] != "transpile":
                    continue
                names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
                for there in names:
                    if there != here:
                        graph.add_edge(here, there)
    assert list(nx.simple_cycles(graph)) == []
