"""Manifests (CSV and YAML), directory trees: parsed specs and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from transpile.errors import DockuniError
from transpile.fleet.manifest import discover_tree, folder_name, read_manifest

pytestmark = pytest.mark.unit


def test_csv_with_only_name_and_image(tmp_path: Path) -> None:
    m = tmp_path / "fleet.csv"
    m.write_text("name,image\nweb,example/web:1\napi,example/api:2\n")
    specs = read_manifest(str(m))
    assert [(s.name, s.kind, s.ref, s.dockerfile) for s in specs] == [
        ("web", "image", "example/web:1", None),
        ("api", "image", "example/api:2", None),
    ]


def test_yaml_sources_and_paths_relative_to_the_manifest(tmp_path: Path) -> None:
    m = tmp_path / "fleet.yaml"
    m.write_text(
        "images:\n"
        "  - {name: a, image: x/a, dockerfile: a/Dockerfile}\n"
        "  - {name: b, archive: b.tar}\n"
        "  - {name: c, oci: layouts/c}\n"
        "  - {name: d, context: d}\n"
    )
    specs = {s.name: s for s in read_manifest(str(m))}
    assert specs["a"].dockerfile == str(tmp_path / "a" / "Dockerfile")
    assert (specs["b"].kind, specs["b"].ref) == ("archive", str(tmp_path / "b.tar"))
    assert (specs["c"].kind, specs["c"].ref) == ("oci", str(tmp_path / "layouts" / "c"))
    assert (specs["d"].kind, specs["d"].context, specs["d"].ref) == (
        "build", str(tmp_path / "d"), str(tmp_path / "d" / "Dockerfile"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,image\nweb,a\nweb,b\n", "appears twice"),
        ("image\nx\n", "header row with `name`"),
        ("name,image,archive\nweb,a,b.tar\n", "exactly one of"),
        ("name,color\nweb,red\n", "unknown field 'color'"),
        ("name,image\n", "names no image"),
        ("name,image\nweb,a,b\n", "more values than the header"),
    ],
)
def test_bad_csv_is_one_located_error(tmp_path: Path, text: str, message: str) -> None:
    m = tmp_path / "fleet.csv"
    m.write_text(text)
    with pytest.raises(DockuniError) as err:
        read_manifest(str(m))
    assert message in str(err.value)
    assert str(err.value).startswith(str(m))


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    m = tmp_path / "fleet.yaml"
    m.write_text("- name: a\n  image: [unclosed\n")
    with pytest.raises(DockuniError) as err:
        read_manifest(str(m))
    assert err.value.line >= 2


def test_tree_finds_every_dockerfile(tmp_path: Path) -> None:
    for rel in ("web/Dockerfile", "api/Dockerfile.prod", "tools/x.Dockerfile", "docs/readme.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("FROM scratch\n")
    specs = discover_tree(str(tmp_path))
    assert [(s.name, s.kind) for s in specs] == [
        ("api/Dockerfile.prod", "static"), ("tools/x.Dockerfile", "static"), ("web", "static"),
    ]  # fmt: skip
    assert {s.kind for s in discover_tree(str(tmp_path), build=True)} == {"build"}


def test_folder_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    assert folder_name("registry:5000/team/app:1.2", taken) == "registry-5000-team-app-1.2"
    assert folder_name("../../etc", taken) == "etc"
    assert folder_name("../../etc", taken) == "etc-2"


def test_a_static_tree_scan_blocks_or_leaves_unverified(tmp_path: Path) -> None:
    from transpile.fleet import ScanOptions, scan

    (tmp_path / "src" / "web").mkdir(parents=True)
    (tmp_path / "src" / "web" / "Dockerfile").write_text('FROM debian:bookworm\nCMD ["nginx"]\n')
    (tmp_path / "src" / "job").mkdir()
    (tmp_path / "src" / "job" / "Dockerfile").write_text(
        'FROM debian:bookworm\nRUN useradd app\nUSER app\nCMD ["/bin/sh", "-c", "sleep 1 & wait"]\n'
    )
    result = scan(discover_tree(str(tmp_path / "src")), ScanOptions(output=str(tmp_path / "out")))
    recs = {r["name"]: r for r in result.document["images"]}
    assert set(recs) == {"web", "job"}
    for r in recs.values():
        assert r["error"] is None and r["best_target"] is None
        assert set(r["verdicts"].values()) <= {"unverified", "blocked"}
        assert any("static check only" in u for u in r["unverified"])
    assert "blocked" in recs["job"]["verdicts"].values()  # USER needs users: some target lacks them
    assert set(result.document["totals"]["ready"].values()) == {0}
    assert (tmp_path / "out" / "index.html").is_file()
