"""dockuni.image: acquire an image (engine, docker-save tar, OCI layout) and unpack it safely.

Public API::

    from transpile.image import acquire, ImageSource
    with acquire(ImageSource(kind="archive", ref="app.tar")) as img:
        img.config, img.rootfs, img.image_bytes
"""

from transpile.image.extract import ExtractLimits
from transpile.image.merge import merge_config
from transpile.image.paths import image_path, resolve_in_root
from transpile.image.sources import ImageSource, acquire
from transpile.model.image import AcquiredImage, ImageConfig

__all__ = [
    "AcquiredImage",
    "ExtractLimits",
    "ImageConfig",
    "ImageSource",
    "acquire",
    "image_path",
    "merge_config",
    "resolve_in_root",
]
