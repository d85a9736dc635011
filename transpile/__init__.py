"""dockuni: a Dockerfile-to-unikernel transpiler."""

__version__ = "0.2.0"
