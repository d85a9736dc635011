"""dockuni.sandbox: run an image's entrypoint in fresh namespaces under strace and record what it does.

Public API::

    from transpile.sandbox import run_trace, TraceOptions
    facts = run_trace(rootfs, image_config, TraceOptions(duration_s=8))
    faulty = run_with_injections(rootfs, image_config, [Injection("getppid", error="ENOSYS")])
"""

from transpile.model.trace import FileAccess, Injection, ProcessTrace, SocketUse, TraceFacts
from transpile.sandbox.inject import Bisection, bisect, probe_injections, run_with_injections, still_passes
from transpile.sandbox.runner import TraceOptions, run_trace

__all__ = [
    "Bisection",
    "FileAccess",
    "Injection",
    "ProcessTrace",
    "SocketUse",
    "TraceFacts",
    "TraceOptions",
    "bisect",
    "probe_injections",
    "run_trace",
    "run_with_injections",
    "still_passes",
]
