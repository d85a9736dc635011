"""Build a Dockerfile with the engine: BuildKit where the engine and a docker CLI have it, else legacy.

The docker SDK speaks only the legacy builder's API (BuildKit needs a gRPC session the SDK does not
implement), so BuildKit builds go through the docker CLI: a CLI before 23.0 has BuildKit's client built
in (``DOCKER_BUILDKIT=1``), a newer one needs its buildx plugin. The engine has BuildKit from API 1.39
(Docker 18.09). ``DOCKER_BUILDKIT=0`` in the environment asks for the legacy builder, as it does for
``docker build``. Builds use the host network: the engine runs without a bridge, so a build has no
network otherwise.

A build that fails because the builder is older than the Dockerfile's syntax (a ``RUN <<EOF`` heredoc on
Docker 20.10, whose builders both read heredoc bodies as instructions) is reported in one line with the
fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from transpile.errors import DockuniError

Builder = Literal["buildkit", "legacy"]

BUILDKIT_MIN_API = (1, 39)  # Docker 18.09: the engine embeds BuildKit
BUILTIN_BUILDKIT_CLI_BEFORE = 23  # from Docker 23.0 the CLI drives BuildKit only through buildx

FIX = "upgrade the Docker engine, or build the image yourself and pass --image"


@dataclass(frozen=True)
class BuilderChoice:
    builder: Builder
    reason: str  # why this builder, for the report
    cli: str | None = None  # the docker CLI that drives BuildKit


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    builder: Builder
    reason: str


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _run(argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def buildkit_cli() -> tuple[str, str] | None:
    """(path, how) of a docker CLI that can drive BuildKit, or None.

    Looks at ``docker`` on PATH, then /usr/bin/docker (a distribution's CLI may sit behind a newer
    client-only one).
    """
    seen: set[str] = set()
    for candidate in (shutil.which("docker"), "/usr/bin/docker"):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.add(real)
        res = _run([candidate, "--version"])  # "Docker version 20.10.24+dfsg1, build 297e128": no engine call
        if res is None or res.returncode != 0:
            continue
        version = _version_tuple(res.stdout.partition(",")[0])
        if version and version[0] < BUILTIN_BUILDKIT_CLI_BEFORE:
            return candidate, f"docker CLI {'.'.join(map(str, version))} (built-in BuildKit client)"
        res = _run([candidate, "buildx", "version"])
        if res is not None and res.returncode == 0:
            words = res.stdout.split()  # "github.com/docker/buildx v0.14.1 ..."
            return candidate, f"docker buildx {words[1] if len(words) > 1 else ''}".rstrip()
    return None


def choose_builder(client: Any) -> BuilderChoice:
    """BuildKit when the engine has it and a docker CLI can drive it; the legacy builder otherwise."""
    if os.environ.get("DOCKER_BUILDKIT", "").strip().lower() in ("0", "false"):
        return BuilderChoice("legacy", "DOCKER_BUILDKIT=0 in the environment")
    try:
        info = client.version()
    except Exception:  # the SDK raises its own types; the build itself will say what is wrong
        info = {}
    api = _version_tuple(str(info.get("ApiVersion", "0")))
    engine = str(info.get("Version", "?"))
    if api < BUILDKIT_MIN_API or str(info.get("Os", "linux")) != "linux":
        return BuilderChoice("legacy", f"engine {engine} (API {'.'.join(map(str, api))}) has no BuildKit")
    cli = buildkit_cli()
    if cli is None:
        return BuilderChoice(
            "legacy",
            f"engine {engine} has BuildKit but no docker CLI here drives it "
            f"(one before {BUILTIN_BUILDKIT_CLI_BEFORE}.0, or one with the buildx plugin)",
        )
    return BuilderChoice("buildkit", f"engine {engine}, {cli[1]}", cli[0])


def _newer_syntax(dockerfile: Path, log: str) -> DockuniError | None:
    """The one-line error when the build failed on syntax this builder does not know, else None."""
    from transpile.syntax import parse_path

    try:
        parsed = parse_path(str(dockerfile))
    except (DockuniError, OSError, UnicodeDecodeError):
        return None
    heredoc = next((n for n in parsed.nodes if n.heredocs), None)
    # both of Docker 20.10's builders read a heredoc's body as instructions ("unknown instruction: ECHO")
    if heredoc is not None and "dockerfile parse error" in log.lower():
        return DockuniError(
            f"the engine's builder is older than this Dockerfile's syntax: it does not support "
            f"{heredoc.cmd.upper()} heredocs (Dockerfile syntax 1.4, BuildKit 0.10, Docker 23.0): {FIX}",
            file=str(dockerfile),
            line=heredoc.start_line,
            column=heredoc.start_column,
        )
    if "requires BuildKit" in log or "requires buildkit" in log.lower():
        # the legacy builder refusing a BuildKit-only flag (RUN --mount, COPY --chmod, ...)
        what = re.search(r"the (--\S+) option requires BuildKit", log)
        flag = what.group(1) if what else "a BuildKit-only option"
        return DockuniError(
            f"this Dockerfile uses {flag}, which the engine's legacy builder does not support: "
            "build with BuildKit (a docker CLI before 23.0, or one with buildx), "
            "or build the image yourself and pass --image",
            file=str(dockerfile),
        )
    return None


def _failure(dockerfile: Path, message: str, log: str) -> DockuniError:
    newer = _newer_syntax(dockerfile, log)
    if newer is not None:
        return newer
    tail = "\n".join(log.strip().splitlines()[-8:])
    return DockuniError(f"docker build failed: {message}\n{tail}".rstrip(), file=str(dockerfile))


def build_with_buildkit(
    cli: str,
    dockerfile: Path,
    context: Path,
    build_args: Mapping[str, str],
    target: str | None,
) -> str:
    """Build through the docker CLI with BuildKit; return the image id."""
    with tempfile.TemporaryDirectory(prefix="dockuni-build-") as tmp:
        iidfile = Path(tmp) / "iid"
        argv = [cli, "build", "--network", "host", "--progress", "plain", "--iidfile", str(iidfile)]
        argv += ["-f", str(dockerfile.resolve())]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        if target:
            argv += ["--target", target]
        argv.append(str(context))
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        except OSError as err:
            raise DockuniError(f"cannot run {cli}: {err.strerror}", file=str(dockerfile)) from err
        if proc.returncode != 0:
            log = proc.stderr + proc.stdout
            # BuildKit's own summary line ("failed to solve ...", "ERROR: ...") is the message
            lines = [ln for ln in log.splitlines() if ln.strip()]
            summary = next(
                (ln for ln in reversed(lines) if re.match(r"(error|failed to solve)", ln, re.IGNORECASE)),
                lines[-1] if lines else f"exit status {proc.returncode}",
            )
            raise _failure(dockerfile, summary, log)
        image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
    if not image_id:
        raise DockuniError("docker build succeeded but wrote no image id", file=str(dockerfile))
    return image_id


def build_with_legacy(
    client: Any,
    dockerfile: Path,
    context: Path,
    build_args: Mapping[str, str],
    target: str | None,
) -> str:
    """Build through the docker SDK with the engine's legacy builder; return the image id."""
    from docker.errors import APIError, BuildError

    try:
        image, _logs = client.images.build(
            path=str(context),
            dockerfile=str(dockerfile.resolve()),
            buildargs=dict(build_args),
            target=target,
            network_mode="host",
            rm=True,
            forcerm=True,
        )
    except BuildError as err:
        log = "".join(str(e.get("stream", e.get("error", ""))) for e in list(err.build_log)[-8:])
        raise _failure(dockerfile, str(err.msg), log) from err
    except APIError as err:
        raise _failure(dockerfile, str(err.explanation or err), str(err.explanation or err)) from err
    return str(image.id)


def build(
    client: Any,
    dockerfile: Path,
    context: Path,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    builder: Builder | None = None,
) -> BuildResult:
    """Build ``dockerfile`` in ``context`` with ``builder`` (default: :func:`choose_builder`)."""
    args = dict(build_args or {})
    choice = choose_builder(client)
    if builder == "legacy" and choice.builder == "buildkit":
        choice = BuilderChoice("legacy", "the legacy builder was asked for")
    elif builder == "buildkit" and choice.builder != "buildkit":
        raise DockuniError(f"BuildKit is not available: {choice.reason}", file=str(dockerfile), exit_code=3)
    if choice.builder == "buildkit":
        assert choice.cli is not None
        image_id = build_with_buildkit(choice.cli, dockerfile, context, args, target)
    else:
        image_id = build_with_legacy(client, dockerfile, context, args, target)
    return BuildResult(image_id, choice.builder, choice.reason)
