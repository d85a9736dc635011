"""Cross-check an image's config against the Dockerfile's lowered runtime config.

The image config is what the engine will actually run, so it wins; every disagreement with the
Dockerfile (an ENTRYPOINT inherited from a base image, an ENV overridden by a build arg, a port
exposed upstream) becomes a ConfigDifference (rule DU901 reports them), located at the Dockerfile line
when the IR knows it.
"""

from __future__ import annotations

from transpile.ir import Dockerfile, Span
from transpile.model.image import ConfigDifference, ImageConfig


def _finding(message: str, span: Span | None, evidence: str) -> ConfigDifference:
    return ConfigDifference(message, span, evidence)


def _norm_dir(path: str) -> str:
    return path.rstrip("/") or "/"


def merge_config(
    image: ImageConfig, dockerfile: Dockerfile | None
) -> tuple[ImageConfig, list[ConfigDifference]]:
    """The effective config (the image's: it is what runs) and where the Dockerfile disagrees with it."""
    if dockerfile is None:
        return image, []
    rt = dockerfile.runtime
    out: list[ConfigDifference] = []
    if rt.argv and tuple(rt.argv) != image.argv:
        out.append(
            _finding(
                f"image runs {list(image.argv)} but the Dockerfile says {list(rt.argv)}",
                rt.entrypoint_span or rt.cmd_span,
                "config: Entrypoint+Cmd",
            )
        )
    elif not rt.argv and image.argv:
        out.append(
            _finding(f"command {list(image.argv)} is inherited from the base image", None, "config: Cmd")
        )
    image_env = image.env_dict()
    for key, value in rt.env:
        if key not in image_env:
            out.append(_finding(f"ENV {key} is not in the image", None, f"config: Env lacks {key}"))
        elif image_env[key] != value:
            out.append(
                _finding(
                    f"ENV {key}={image_env[key]!r} in the image, {value!r} in the Dockerfile",
                    None,
                    f"config: Env {key}",
                )
            )
    if _norm_dir(rt.workdir or "/") != _norm_dir(image.working_dir or "/"):
        out.append(
            _finding(
                f"WORKDIR is {image.working_dir or '/'!r} in the image, {rt.workdir!r} in the Dockerfile",
                None,
                "config: WorkingDir",
            )
        )
    if (rt.user or "") != (image.user or ""):
        out.append(
            _finding(
                f"USER is {image.user!r} in the image, {rt.user!r} in the Dockerfile", None, "config: User"
            )
        )
    if set(rt.expose) != set(image.exposed_ports):
        extra = sorted(str(p) for p in set(image.exposed_ports) - set(rt.expose))
        missing = sorted(str(p) for p in set(rt.expose) - set(image.exposed_ports))
        out.append(
            _finding(
                f"exposed ports differ: only in image {extra}, only in Dockerfile {missing}",
                None,
                "config: ExposedPorts",
            )
        )
    if set(rt.volumes) != set(image.volumes):
        out.append(
            _finding(
                f"volumes differ: image {sorted(image.volumes)}, Dockerfile {sorted(rt.volumes)}",
                None,
                "config: Volumes",
            )
        )
    if rt.stopsignal and rt.stopsignal != image.stop_signal:
        out.append(
            _finding(
                f"STOPSIGNAL is {image.stop_signal!r} in the image, {rt.stopsignal!r} in the Dockerfile",
                None,
                "config: StopSignal",
            )
        )
    return image, out
