"""OSv recipes from real fixture facts: usr.manifest syntax, the boot command line, the verdict gate."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.realfacts import facts_for, write_recipe
from transpile.model.verdict import TargetVerdict
from transpile.targets import osv

pytestmark = pytest.mark.engine

_LINE = re.compile(r"^(/[^:]+): \$\{MODULE_DIR\}/rootfs(/.+)$")


def test_manifest_maps_each_shipped_file_into_the_module_rootfs() -> None:
    facts = facts_for("python-http")
    files = dict(osv.emit(facts).files)
    lines = files["usr.manifest"].decode().splitlines()
    assert lines[0] == "[manifest]"
    mapped = {}
    for line in lines[1:]:
        m = _LINE.match(line)
        assert m, line
        assert m.group(1) == m.group(2)
        mapped[m.group(1)] = line
    assert {f.path for f in facts.closure.files} <= set(mapped)
    assert set(facts.runtime_files) <= set(mapped)
    listed = {line for line in files["files.txt"].decode().splitlines() if not line.startswith("#")}
    assert set(mapped) <= listed


def test_cmdline_sets_env_and_cwd_before_the_program() -> None:
    facts = facts_for("python-http")
    line = dict(osv.emit(facts).files)["cmdline.txt"].decode().strip()
    words = shlex.split(line)
    assert words[0].startswith("--env=PATH=/usr/local/sbin")
    assert "--cwd=/srv" in words
    assert words[words.index("--cwd=/srv") + 1 :] == ["/usr/bin/python3", "-m", "http.server", "8000"]


def test_cmdline_quotes_semicolons_and_spaces() -> None:
    line = osv.cmdline(facts_for("nginx"))
    # ';' separates commands on OSv's command line: nginx's -g value must stay one quoted word
    assert line.endswith('/usr/sbin/nginx -g "daemon off; master_process off;"')
    assert osv.quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert osv.quote("plain/path-1.0") == "plain/path-1.0"


def test_negative_verdict_emits_no_recipe() -> None:
    facts = facts_for("forking-server")
    blocked = TargetVerdict("osv", False, (), ("trace: pid 2 fork(): OSv has one address space",))
    recipe = osv.emit(dataclasses.replace(facts, verdicts=(blocked,)))
    assert recipe.files == ()
    assert any("fork" in n for n in recipe.notes)
    allowed = TargetVerdict("osv", True, (), ())
    assert dict(osv.emit(dataclasses.replace(facts, verdicts=(allowed,))).files)["usr.manifest"]


def test_assemble_fills_the_module_rootfs(tmp_path: Path) -> None:
    facts = facts_for("static-server")
    out = write_recipe(osv.emit(facts), tmp_path)
    env = {**os.environ, "DOCKER": engine.DOCKER}
    proc = subprocess.run(["./assemble.sh"], cwd=out, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    httpd = out / "rootfs" / "httpd"
    assert httpd.is_file() and httpd.stat().st_size == facts.closure.files[0].size
