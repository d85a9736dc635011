"""Entrypoint resolution inside a root filesystem: PATH, symlinks re-rooted, #! chains, shell form."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import unpacked
from transpile.image import AcquiredImage, ImageConfig
from transpile.passes.entrypoint import resolve_entrypoint, resolve_in_root

pytestmark = pytest.mark.engine

ELF = b"\x7fELF" + bytes(60)


def _file(root: Path, path: str, data: bytes, mode: int = 0o755) -> None:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    p.chmod(mode)


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    _file(r, "/usr/bin/python3.11", ELF)
    (r / "usr/bin/python3").symlink_to("python3.11")
    _file(r, "/usr/bin/dash", ELF)
    (r / "bin").symlink_to("usr/bin")
    (r / "usr/bin/sh").symlink_to("/usr/bin/dash")  # absolute: must resolve inside the root
    _file(r, "/usr/bin/env", ELF)
    _file(r, "/app/run.py", b"#!/usr/bin/env python3\nprint(1)\n")
    _file(r, "/app/start.sh", b"#!/bin/sh -e\nexec /app/run.py\n")
    _file(r, "/app/notexec", ELF, mode=0o644)
    _file(r, "/app/data.txt", b"plain text", mode=0o755)
    (r / "app/loop1").symlink_to("loop2")
    (r / "app/loop2").symlink_to("loop1")
    (r / "app/hostpasswd").symlink_to("/etc/passwd")  # the host's file must never be reached
    return r


def test_script_chain_through_env(root: Path) -> None:
    chain = resolve_entrypoint(ImageConfig(entrypoint=("/app/start.sh",), cmd=("x",)), root)
    kinds = [(s.kind, s.path, s.resolved) for s in chain.steps]
    assert kinds == [
        ("script", "/app/start.sh", "/app/start.sh"),
        ("elf", "/bin/sh", "/usr/bin/dash"),
    ]
    assert chain.steps[1].argv == ("/bin/sh", "-e", "/app/start.sh", "x")
    assert chain.steps[1].links == ("/bin", "/usr/bin/sh")
    chain = resolve_entrypoint(
        ImageConfig(cmd=("run.py",), working_dir="/app", env=(("PATH", "/app:/bin"),)), root
    )
    assert [(s.kind, s.resolved) for s in chain.steps] == [
        ("script", "/app/run.py"),
        ("elf", "/usr/bin/env"),
        ("elf", "/usr/bin/python3.11"),
    ]
    assert chain.program is not None and chain.program.resolved == "/usr/bin/python3.11"
    assert chain.steps[-1].argv == ("python3", "/app/run.py")
    assert chain.problems == ()


def test_default_path_and_shell_form(root: Path) -> None:
    chain = resolve_entrypoint(ImageConfig(cmd=("/bin/sh", "-c", "exec python3 -m http.server")), root)
    assert chain.path_env.startswith("/usr/local/sbin:")
    assert chain.steps[-1].resolved == "/usr/bin/dash"
    assert chain.shell_command == "exec python3 -m http.server"
    assert [s.resolved for s in chain.command_steps] == ["/usr/bin/python3.11"]
    complex_cmd = resolve_entrypoint(ImageConfig(cmd=("/bin/sh", "-c", "a | b")), root)
    assert complex_cmd.command_steps == ()


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (("nosuch",), "missing"),
        (("/app/notexec",), "not-executable"),
        (("/app/data.txt",), "unknown-format"),
        (("/app/loop1",), "loop"),
        (("/app",), "directory"),
        (("/app/hostpasswd",), "missing"),
    ],
)
def test_broken_entrypoints_are_findings(root: Path, argv: tuple[str, ...], kind: str) -> None:
    chain = resolve_entrypoint(ImageConfig(entrypoint=argv), root)
    assert chain.steps[-1].kind == kind
    assert len(chain.problems) == 1  # rule DU903 reports it (tests/rules/test_image_rules.py)


def test_no_command_at_all(root: Path) -> None:
    chain = resolve_entrypoint(ImageConfig(), root)
    assert chain.steps == () and "neither ENTRYPOINT nor CMD" in chain.problems[0].message


def test_resolve_in_root_never_leaves_the_root(root: Path) -> None:
    assert resolve_in_root(root, "/app/hostpasswd") is None
    assert resolve_in_root(root, "/app/hostpasswd", follow=False) == root / "app/hostpasswd"
    assert resolve_in_root(root, "/../../../usr/bin/sh") == root / "usr/bin/dash"
    assert resolve_in_root(root, "/app/loop1") is None
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("image\n")
    assert resolve_in_root(root, "/app/hostpasswd") == root / "etc/passwd"
    assert resolve_in_root(root, "python3", cwd="/bin") == root / "usr/bin/python3.11"
    assert os.path.commonpath([str(resolve_in_root(root, "/bin/../../..") or ""), str(root)]) == str(root)


@pytest.fixture(scope="module")
def fixtures(
    docker_client: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, AcquiredImage]]:
    with unpacked(["shell-script", "static-server"], tmp_path_factory.mktemp("ep")) as imgs:
        yield imgs


def test_fixture_images(fixtures: dict[str, AcquiredImage]) -> None:
    img = fixtures["shell-script"]
    chain = resolve_entrypoint(img.config, img.rootfs)
    assert [(s.kind, s.resolved) for s in chain.steps] == [
        ("script", "/usr/local/bin/start.sh"),
        ("elf", "/usr/bin/dash"),
    ]
    img = fixtures["static-server"]
    chain = resolve_entrypoint(img.config, img.rootfs)
    assert [(s.kind, s.resolved, s.argv) for s in chain.steps] == [
        ("elf", "/httpd", ("/httpd", "-p", "8080"))
    ]
