"""What executes things: cached kernel builds from pinned sources, QEMU boots, the container engine's
builds and graphviz.

Targets describe (what to build, how to pack and boot a payload); this package runs it.
"""
