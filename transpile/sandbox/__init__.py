"""dockuni.sandbox: run an image's entrypoint in fresh namespaces under strace and record what it does.

Public API::

    from transpile.sandbox import run_trace, TraceOptions
    facts = run_trace(rootfs, image_config, TraceOptions(duration_s=8))
"""

from transpile.model.trace import FileAccess, ProcessTrace, SocketUse, TraceFacts
from transpile.sandbox.runner import TraceOptions, run_trace

__all__ = ["FileAccess", "ProcessTrace", "SocketUse", "TraceFacts", "TraceOptions", "run_trace"]
