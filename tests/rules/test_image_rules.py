"""Image rules (DU9xx): modules like the Dockerfile rules, reading the analysed image's facts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from transpile import data
from transpile.ir import Span
from transpile.model.chain import ChainProblem, ChainStep, EntrypointChain
from transpile.model.closure import Closure, FileRef, Library, Missing
from transpile.model.elf import ElfFacts
from transpile.model.image import ConfigDifference, ImageAnalysis, ImageConfig
from transpile.model.static import StaticEvidence
from transpile.rules.registry import IMAGE_RULE_MODULES, check_image, image_rules

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
PROGRAM = FileRef("/app", "/app", (), 1000)


def _analysis(**kw: object) -> ImageAnalysis:
    chain = EntrypointChain(("/app",), "/bin", "/", (ChainStep("/app", "/app", "/app", "elf"),))
    base: dict[str, object] = {
        "source": "archive:x.tar",
        "reference": "x",
        "config": ImageConfig(entrypoint=("/app",)),
        "image_bytes": 1000,
        "chain": chain,
        "closure": None,
        "static": StaticEvidence(argv=("/app",)),
    }
    return ImageAnalysis(**(base | kw))  # type: ignore[arg-type]


def _closure(**kw: object) -> Closure:
    base: dict[str, object] = {
        "program": PROGRAM,
        "loader": "glibc",
        "interpreter": None,
        "libraries": (),
        "missing": (),
        "cycles": (),
        "errors": (),
        "cache": "ld.so.cache",
    }
    return Closure(**(base | kw))  # type: ignore[arg-type]


def test_image_rules_declare_metadata_and_have_pages() -> None:
    assert len(image_rules()) == len(IMAGE_RULE_MODULES)
    for name in IMAGE_RULE_MODULES:
        module = importlib.import_module(f"transpile.rules.{name}")
        assert name[:5].upper() == module.ID and module.TITLE and module.HINT
        assert module.NEED == "" or module.NEED in data.facilities()
        assert not hasattr(module, "TARGETS")
        page = DOCS / f"{module.ID}.md"
        assert page.read_text().startswith(f"# {module.ID}")
        assert f"[{module.ID}]({module.ID}.md)" in (DOCS / "README.md").read_text()


def test_a_clean_image_has_no_findings() -> None:
    assert check_image(_analysis(closures=(_closure(),))) == ()


def test_each_fact_gives_its_finding() -> None:
    span = Span("Dockerfile", 4, 1, 4, 20)
    elf32 = ElfFacts("/lib/arm.so", 10, 32, "EM_ARM", "ET_DYN", "", True)
    lib = Library("libx.so", FileRef("/opt/libx.so", "/opt/libx.so", (), 5), "ld.so.conf", "/app")
    analysis = _analysis(
        differences=(ConfigDifference("USER differs", span, "config: User"),),
        chain=EntrypointChain(("/app",), "/bin", "/", (), problems=(ChainProblem("app not found", "/app"),)),
        closures=(
            _closure(
                missing=(Missing("libz.so.1", "/app", ("/lib",)),),
                errors=("/lib/bad.so: truncated",),
                cycles=(("/lib/a.so", "b.so"),),
                libraries=(lib,),
            ),
        ),
        elfs=(elf32,),
        unreadable=(("/bin/tool", "/bin/tool: not an ELF file"),),
        warnings=("skipped /dev/sda (device node)",),
    )
    found = check_image(analysis)
    by_rule: dict[str, list[str]] = {}
    for f in found:
        by_rule.setdefault(f.rule, []).append(f.message)
    assert sorted(by_rule) == ["DU901", "DU903", "DU904", "DU905", "DU906", "DU907", "DU908", "DU909"]
    assert len(by_rule["DU905"]) == 2  # the unreadable step and the closure's error
    du901 = next(f for f in found if f.rule == "DU901")
    assert du901.span == span and du901.severity == "info"
    du906 = next(f for f in found if f.rule == "DU906")
    assert du906.need == "arch.foreign" and "microvm" in du906.targets
    assert all(f.targets for f in found)  # every finding names the targets it affects
