"""What executes things for dockuni: the container engine's builds (and, later, QEMU and compilers)."""
