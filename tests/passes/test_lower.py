"""AST -> IR lowering: stages, ARG scoping, expansion, runtime config; checked against the engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import engine
from transpile import ir
from transpile.errors import DockuniError
from transpile.passes.lower import DEFAULT_PATH, lower
from transpile.syntax import parse_text

pytestmark = pytest.mark.engine


def low(text: str, build_args: dict[str, str] | None = None) -> ir.Dockerfile:
    return lower(parse_text(text, "Dockerfile"), build_args or {}, source=text)


def env(df: ir.Dockerfile) -> dict[str, str]:
    return dict(df.runtime.env)


# --- ARG scoping and expansion ---------------------------------------------------------------------


def test_global_args_reach_from_lines_only_through_redeclaration() -> None:
    df = low(
        "ARG BASE=debian\nARG TAG=bookworm\nFROM ${BASE}:${TAG} AS build\n"
        "ENV A=${BASE}-x\nARG TAG\nENV B=$TAG\n"
    )
    assert df.stages[0].base == "debian:bookworm"
    assert df.global_args == (("BASE", "debian"), ("TAG", "bookworm"))
    assert env(df) == {"A": "-x", "B": "bookworm"}  # BASE not redeclared: empty in the stage


def test_build_args_override_defaults_and_are_not_expanded() -> None:
    df = low("ARG V=1\nFROM scratch\nARG V\nARG W=$V\nENV V=$V W=$W\n", {"V": "$HOME", "W": "w"})
    assert env(df)["V"] == "$HOME" and env(df)["W"] == "w"


def test_predefined_platform_args() -> None:
    df = low(
        "FROM --platform=$BUILDPLATFORM scratch AS b\nARG TARGETARCH\nARG TARGETOS\n"
        "ENV ARCH=$TARGETARCH OS=$TARGETOS X=${TARGETPLATFORM:-unset}\n"
    )
    assert df.stages[0].platform == "linux/amd64"
    assert {k: v for k, v in env(df).items() if k != "PATH"} == {"ARCH": "amd64", "OS": "linux", "X": "unset"}


def test_env_wins_over_arg_and_pairs_see_the_previous_env() -> None:
    df = low("FROM scratch\nARG X=arg\nENV X=env\nENV Y=$X\nENV A=1 B=${A:-old}\nENV A=2 C=$A\n")
    e = env(df)
    assert e["Y"] == "env"
    assert e["B"] == "old"  # all pairs of one ENV line expand with the env before the line
    assert e["C"] == "1" and e["A"] == "2"


def test_run_cmd_entrypoint_are_never_expanded() -> None:
    df = low('FROM scratch\nENV A=1\nRUN echo $A\nCMD ["echo", "$A"]\nENTRYPOINT run $A\n')
    run = df.stages[0].instructions[2]
    assert run.kind == "RUN" and run.args == ("echo $A",)
    assert df.runtime.entrypoint == ("/bin/sh", "-c", "run $A")


def test_expansion_error_is_located() -> None:
    with pytest.raises(DockuniError) as info:
        low('FROM scratch\n\nENV A="${MISSING?set MISSING}"\n')
    err = info.value
    assert (err.file, err.line, err.column) == ("Dockerfile", 3, 1)
    assert "MISSING: set MISSING" in err.message


# --- stages ----------------------------------------------------------------------------------------


def test_stages_edges_and_inheritance() -> None:
    df = low(
        'FROM debian AS Build\nWORKDIR /src\nENV MODE=release\nCMD ["make"]\n'
        "FROM build AS test\nRUN --mount=type=bind,from=build,target=/b true\n"
        "FROM scratch\nCOPY --from=0 /a /a\nCOPY --from=test /b /b\n"
        "COPY --from=nginx:1.25 /etc/nginx /etc/nginx\n"
    )
    build, test, final = df.stages
    assert (build.name, build.base, build.base_stage) == ("build", "debian", None)
    assert (test.base_stage, test.copy_from) == (0, ("build",))
    assert test.runtime.workdir == "/src" and dict(test.runtime.env)["MODE"] == "release"
    assert test.runtime.cmd == ("make",)
    assert final.copy_from == ("build", "test", "nginx:1.25")
    assert df.runtime.argv == () and dict(df.runtime.env) == {"PATH": DEFAULT_PATH}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no instructions"),
        ("ARG A=1\n", "no FROM"),
        ("RUN true\nFROM scratch\n", "before the first FROM"),
        ("FROM scratch AS a\nCOPY --from=a /x /x\n", "copy from itself"),
        ("FROM scratch\nCOPY --from=3 /x /x\n", "not an earlier stage"),
        ("FROM scratch\nCOPY --from=Not_An_Image! /x /x\n", "no stage of that name"),
        ("FROM scratch AS a\nFROM scratch AS a\n", "duplicate stage name"),
        ("FROM scratch\nEXPOSE 80/http\n", "invalid protocol"),
        ("FROM scratch\nEXPOSE 99999\n", "invalid port range"),
        ("FROM scratch\nHEALTHCHECK --retries=x CMD true\n", "--retries"),
        ("FROM scratch\nSHELL /bin/bash -c\n", "JSON form"),
    ],
)
def test_bad_input_is_a_located_error(text: str, fragment: str) -> None:
    with pytest.raises(DockuniError) as info:
        low(text)
    assert fragment in info.value.message
    assert info.value.file == "Dockerfile" and info.value.line >= 1


# --- runtime config ----------------------------------------------------------------------------------


def test_entrypoint_resets_inherited_cmd_but_not_its_own_stage_cmd() -> None:
    df = low('FROM scratch AS a\nCMD ["x"]\nFROM a\nENTRYPOINT ["/app"]\n')
    assert df.runtime.cmd == () and df.runtime.argv == ("/app",)
    df = low('FROM scratch\nCMD ["x"]\nENTRYPOINT ["/app"]\n')
    assert df.runtime.argv == ("/app", "x")


def test_shell_forms_are_wrapped_and_shell_entrypoint_ignores_cmd() -> None:
    df = low(
        'FROM scratch\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT exec app\nCMD ["ignored"]\n'
    )
    rc = df.runtime
    assert rc.entrypoint == ("/bin/bash", "-o", "pipefail", "-c", "exec app")
    assert rc.entrypoint_shell_form and rc.cmd == ("ignored",)
    assert rc.argv == rc.entrypoint
    assert rc.entrypoint_span is not None and rc.entrypoint_span.line == 3


def test_workdir_user_expose_volume_healthcheck_stopsignal_labels() -> None:
    df = low(
        "FROM scratch\nARG PORT=8080\nWORKDIR app\nWORKDIR ../srv/./x\nUSER ${UID:-1000}:0\n"
        'EXPOSE $PORT 53/udp 9000-9002/tcp 3868/sctp 8080\nVOLUME /data /other\nVOLUME ["/json"]\n'
        'HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD ["/hc", "-q"]\n'
        'STOPSIGNAL SIGQUIT\nLABEL a=1 "b c"="d e"\n'
    )
    rc = df.runtime
    assert rc.workdir == "/srv/x"
    assert rc.user == "1000:0"
    assert [str(p) for p in rc.expose] == [
        "8080/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp", "3868/sctp",
    ]  # fmt: skip
    assert rc.volumes == ("/data", "/other", "/json")
    assert rc.healthcheck is not None
    assert rc.healthcheck.test == ("CMD", "/hc", "-q")
    assert (rc.healthcheck.interval, rc.healthcheck.timeout, rc.healthcheck.retries) == ("5s", "2s", 4)
    assert rc.stopsignal == "SIGQUIT"
    assert dict(rc.labels) == {"a": "1", "b c": "d e"}


def test_onbuild_trigger_keeps_its_flags_unexpanded() -> None:
    df = low("FROM scratch\nONBUILD COPY --from=assets $SRC /app\n")
    onbuild = df.stages[0].instructions[1]
    assert onbuild.kind == "ONBUILD" and onbuild.onbuild is not None
    assert onbuild.onbuild.kind == "COPY"
    assert onbuild.onbuild.flag("from") == "assets"
    assert onbuild.onbuild.args == ("$SRC", "/app")


# --- differential: the real engine's image config ---------------------------------------------------

PROBE = """\
ARG A=x
FROM scratch AS base
ARG A
ARG U
ENV B=${A:-d} C="${U:-def}" D='$A' E=a\\ b F=${A:+set} H="q \\"w\\" \\$A"
LABEL l1="${A}" "l 2"=two
WORKDIR rel
WORKDIR ../w2
USER ${A}:${B}
EXPOSE 80/udp 8000-8001 ${A:+9000}
VOLUME /v1 /v${A}
STOPSIGNAL SIGQUIT
CMD ["a", "b"]
HEALTHCHECK --interval=5s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
FROM base
ENTRYPOINT run me
"""


def _engine_config(client: Any, context: Path, dockerfile: str = "Dockerfile") -> dict[str, Any]:
    tag = f"dockuni-test/lower-{uuid.uuid4().hex[:10]}:latest"
    client.images.build(path=str(context), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True)
    try:
        config: dict[str, Any] = client.images.get(tag).attrs["Config"]
    finally:
        client.images.remove(tag, force=True)
    return config


def _compare(df: ir.Dockerfile, config: dict[str, Any], *, env_known: bool) -> None:
    rc = df.runtime
    assert list(rc.entrypoint) == (config.get("Entrypoint") or [])
    if rc.entrypoint and not rc.cmd:
        assert not config.get("Cmd")
    else:
        assert list(rc.cmd) == (config.get("Cmd") or [])
    assert sorted(str(p) for p in rc.expose) == sorted(config.get("ExposedPorts") or {})
    assert sorted(rc.volumes) == sorted(config.get("Volumes") or {})
    assert rc.stopsignal == (config.get("StopSignal") or "")
    if rc.workdir != "/":
        assert rc.workdir == config.get("WorkingDir")
    assert rc.user == (config.get("User") or "")
    assert dict(rc.labels).items() <= (config.get("Labels") or {}).items()
    if env_known:
        assert [f"{k}={v}" for k, v in rc.env] == config.get("Env")
    else:
        assert set(f"{k}={v}" for k, v in rc.env) <= set(config.get("Env") or [])


def test_probe_matches_the_engine(docker_client: Any, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(PROBE)
    config = _engine_config(docker_client, tmp_path)
    df = low(PROBE)
    _compare(df, config, env_known=True)
    assert df.runtime.healthcheck is not None
    assert list(df.runtime.healthcheck.test) == config["Healthcheck"]["Test"]
    assert df.runtime.healthcheck.retries == config["Healthcheck"]["Retries"]


@pytest.mark.parametrize(
    "name", ["nginx", "python-http", "redis", "shell-script", "static-server", "forking-server"]
)
def test_fixture_images_match_the_engine(name: str, docker_client: Any) -> None:
    tag = engine.fixture_image(name)
    config = docker_client.images.get(tag).attrs["Config"]
    path = engine.IMAGES / name / "Dockerfile"
    df = low(path.read_text())
    # the base image's own config (PATH, ...) is not in the Dockerfile: compare what it sets
    _compare(df, config, env_known=False)
