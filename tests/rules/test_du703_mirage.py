"""DU703: MirageOS builds are recognised, and the other rules stay quiet about their build stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from transpile import ir
from transpile.check import check_parsed
from transpile.config import Config
from transpile.passes.lower import lower
from transpile.rules.du703_mirage import detect
from transpile.rules.registry import all_rules
from transpile.syntax import parse_text

pytestmark = pytest.mark.unit

MIRAGE = Path(__file__).resolve().parents[2] / "fixtures" / "rules" / "mirage"


def run(text: str) -> list[tuple[str, int, int]]:
    findings = check_parsed(parse_text(text, "Dockerfile"), text, Config(), all_rules())
    return [(f.rule, f.span.line, f.span.column) for f in findings if f.span]


EXPECTED = {
    # the build stage's USER, VOLUME and CMD (the unikernel image itself) are not reported
    "single-stage-hvt": [("DU703", 8, 25)],
    "config-ml-dune": [("DU703", 7, 18)],
    # the final stage runs an ordinary program through a shell and a supervisor: still checked
    "tender-runs-shell": [("DU703", 5, 21), ("DU201", 8, 1), ("DU203", 8, 5)],
    # the unix target is an ordinary process: every rule applies
    "unix-target": [("DU703", 6, 18), ("DU401", 7, 6), ("DU201", 8, 1), ("DU204", 8, 5)],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in MIRAGE.glob("*.Dockerfile")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    assert run((MIRAGE / f"{name}.Dockerfile").read_text()) == EXPECTED[name]


def test_the_build_stage_findings_exist_without_the_mirage_build() -> None:
    """The quiet single-stage fixture is quiet because of DU703: without its mirage line the
    same stage gets the USER, VOLUME and shell-form CMD findings."""
    text = (MIRAGE / "single-stage-hvt.Dockerfile").read_text()
    without = "\n".join(line for line in text.splitlines() if "mirage" not in line) + "\n"
    assert sorted({rule for rule, _, _ in run(without)}) == ["DU201", "DU301", "DU401"]


def test_ignoring_du703_keeps_the_build_stage_quiet() -> None:
    text = (MIRAGE / "single-stage-hvt.Dockerfile").read_text()
    parsed = parse_text(text, "Dockerfile")
    findings = check_parsed(parsed, text, Config(ignore=frozenset({"DU703"})), all_rules())
    assert findings == ()


def test_targets_messages_and_evidence() -> None:
    text = (MIRAGE / "single-stage-hvt.Dockerfile").read_text()
    (build,) = detect(_lower(text))
    assert (build.targets, build.unikernel, build.word) == (("spt",), True, "mirage")
    unix = (MIRAGE / "unix-target.Dockerfile").read_text()
    (build,) = detect(_lower(unix))
    assert (build.targets, build.unikernel) == (("unix",), False)
    findings = check_parsed(parse_text(unix, "Dockerfile"), unix, Config(), all_rules())
    du703 = next(f for f in findings if f.rule == "DU703")
    assert "ordinary process" in du703.message and "-t hvt" in du703.hint


BASE = "FROM ocaml/opam:debian-12-ocaml-4.14\n"


@pytest.mark.parametrize(
    ("body", "targets"),
    [
        ("RUN mirage configure\n", ("unix",)),  # mirage's default target
        ("RUN mirage configure -t xen && make\n", ("xen",)),
        ("RUN mirage configure --target=virtio\n", ("virtio",)),
        ("RUN mirage configure -thvt\n", ("hvt",)),
        ("RUN opam config exec -- mirage configure --target unikraft-qemu\n", ("unikraft-qemu",)),
        ('RUN ["opam", "exec", "--", "mirage", "configure", "-t", "spt"]\n', ("spt",)),
        ("ENV MODE=muen\nRUN mirage configure -t ${MODE}\n", ("muen",)),
        ("RUN opam install -y mirage.4.5.1\n", ()),
        ("RUN opam install mirage && mirage build\n", ()),
        ("COPY config.ml /src/\nRUN make -C /src\n", ()),
    ],
)
def test_recognised(body: str, targets: tuple[str, ...]) -> None:
    (build,) = detect(_lower(BASE + body))
    assert build.targets == targets


@pytest.mark.parametrize(
    "body",
    [
        "",  # the OCaml image alone is any OCaml program
        "COPY . /src\nRUN opam exec -- dune build @install\n",  # no config.ml: an ordinary OCaml build
        "RUN echo mirage configure -t hvt\n",  # words, not a command
        "RUN opam install -y mirage-crypto dream\n",  # libraries, not the mirage tool
        "COPY config.ml /src/\n",  # a config.ml that nothing builds
    ],
)
def test_not_recognised(body: str) -> None:
    assert detect(_lower(BASE + body)) == []


def _lower(text: str) -> ir.Dockerfile:
    return lower(parse_text(text, "Dockerfile"), {}, source=text)
