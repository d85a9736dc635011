"""The single-process rewrites: what the recipes run and the trace runs."""

from __future__ import annotations

import pytest

from transpile.model.image import ImageConfig
from transpile.passes import rewrites

pytestmark = pytest.mark.unit


def test_nginx_gets_both_directives_once() -> None:
    out = rewrites.single_process(("/usr/sbin/nginx",))
    assert out.argv == ("/usr/sbin/nginx", "-g", "daemon off; master_process off;")
    stock = rewrites.single_process(("nginx", "-g", "daemon off;"))
    assert stock.argv == ("nginx", "-g", "daemon off; master_process off;")
    assert stock.notes == ("nginx runs single-process: added `master_process off;` to -g",)
    done = rewrites.single_process(stock.argv)
    assert done.argv == stock.argv and done.notes == ()


def test_redis_runs_in_the_foreground() -> None:
    out = rewrites.single_process(("redis-server", "--save", ""))
    assert out.argv[-2:] == ("--daemonize", "no") and len(out.notes) == 1
    assert rewrites.single_process(("redis-server", "--daemonize", "yes")).notes == ()


def test_no_rewrite_depends_on_one_programs_options_or_the_workdir() -> None:
    for argv in (
        ("python3", "-m", "http.server", "8000"),
        ("/usr/local/bin/server",),
        ("/usr/sbin/apache2", "-DFOREGROUND"),
        ("nginx-debug-like-name-not-nginx",),
    ):
        assert rewrites.single_process(argv).argv == argv


def test_recipe_config_puts_the_rewritten_argv_in_the_entrypoint() -> None:
    config = ImageConfig(cmd=("nginx", "-g", "daemon off;"), working_dir="/srv")
    traced, notes = rewrites.recipe_config(config)
    assert traced.argv == ("nginx", "-g", "daemon off; master_process off;") and traced.cmd == ()
    assert traced.working_dir == "/srv" and notes
    same, none = rewrites.recipe_config(ImageConfig(entrypoint=("/app",)))
    assert same == ImageConfig(entrypoint=("/app",)) and none == ()
