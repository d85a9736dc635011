"""What executes things: cached kernel builds from pinned sources and QEMU boots.

Targets describe (what to build, how to pack and boot a payload); this package runs it.
"""
