"""dockuni.targets"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transpile.runtime.build import BuildSpec


def _unikraft() -> BuildSpec:
    from transpile.targets import unikraft_runtime

    return unikraft_runtime.build_spec()


def _nanos() -> BuildSpec:
    from transpile.targets import nanos_runtime

    return nanos_runtime.build_spec()


def _osv() -> BuildSpec:
    from transpile.targets import osv_runtime

    return osv_runtime.build_spec()


# The runtimes `dockuni kernels build` makes, in build order (fastest first).
KERNEL_BUILDS: dict[str, Callable[[], BuildSpec]] = {
    "unikraft": _unikraft,
    "nanos": _nanos,
    "osv": _osv,
}
