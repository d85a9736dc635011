"""Nanos target: an ops ``config.json`` plus a local ops package (``NAME_VERSION/``) assembled from the image.

Facts this rests on (ops documentation, configuration.md and PACKAGES.md): a package is a directory
``NAME_VERSION`` holding the program, a ``package.manifest`` (JSON: ``Program`` relative to the
packages directory, ``Args`` starting with the program name, ``Version``) and a ``sysroot/`` tree
merged at the guest's ``/``. ``config.json`` carries ``Args``, ``Env`` (a map), ``Mounts`` (host
directory -> guest path, 9P on-prem), ``RunConfig.Ports``/``UDPPorts``, ``Klibs`` and
``ManifestPassthrough`` (``cwd`` sets the working directory). Nanos runs one process (threads are
fine), has no users and runs non-PIE binaries; fork, vfork and execve return ENOSYS.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from transpile import data
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.targets import _common as c
from transpile.targets import _verify
from transpile.targets._base import KernelRuntime, UnikernelTarget
from transpile.targets.nanos import runtime

VERSION = "latest"


def package_name(facts: ConversionFacts) -> str:
    return f"{c.app_name(facts)}_{VERSION}"


def app_argv(facts: ConversionFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return c.single_process_argv(c.program_argv(facts))


def klibs(facts: ConversionFacts) -> tuple[str, ...]:
    """Kernel libraries the trace shows a need for (syslog: the app logs to /dev/log)."""
    if facts.trace is None:
        return ()
    out: set[str] = set()
    for sock in facts.trace.sockets:
        if sock.family == "AF_UNIX" and "/dev/log" in (sock.connected_to, sock.bound):
            out.add("syslog")
    return tuple(sorted(out))


def config_json(facts: ConversionFacts) -> dict[str, Any]:
    argv, _ = app_argv(facts)
    pkg = package_name(facts)
    prog = posixpath.basename(argv[0]) if argv else ""
    config: dict[str, Any] = {
        "Program": f"{pkg}/{prog}",
        "Args": list(argv[1:]),  # the package's own Args hold the program name (argv[0])
        "Env": dict(c.environment(facts)),
    }
    if facts.config.volumes:
        config["Mounts"] = {f"volumes{c.clean_path(v)}": c.clean_path(v) for v in facts.config.volumes}
    ports = c.listening_ports(facts)
    run: dict[str, Any] = {}
    tcp = [str(p) for p, t in ports if t == "tcp"]
    udp = [str(p) for p, t in ports if t == "udp"]
    if tcp:
        run["Ports"] = tcp
    if udp:
        run["UDPPorts"] = udp
    run["Memory"] = "512M"
    config["RunConfig"] = run
    if c.workdir(facts) != "/":
        config["ManifestPassthrough"] = {"cwd": c.workdir(facts)}
    if klibs(facts):
        config["Klibs"] = list(klibs(facts))
    return config


def package_manifest(facts: ConversionFacts) -> dict[str, Any]:
    argv, _ = app_argv(facts)
    prog = posixpath.basename(argv[0]) if argv else ""
    return {
        "Program": f"{package_name(facts)}/{prog}",
        "Args": [prog],
        "Version": VERSION,
        "Env": dict(c.environment(facts)),
    }


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def emit(facts: ConversionFacts) -> Recipe:
    argv, rewrite_notes = app_argv(facts)
    pkg = package_name(facts)
    prog = posixpath.basename(argv[0]) if argv else ""
    files: dict[str, str | bytes] = {
        "config.json": _json(config_json(facts)),
        f"{pkg}/package.manifest": _json(package_manifest(facts)),
        "files.txt": c.files_manifest(facts, header=f"files of {pkg}/sysroot, read by assemble.sh"),
        "assemble.sh": c.assemble_script(
            facts.image_reference,
            f"{pkg}/sysroot",
            what=f"the ops package {pkg} (sysroot/ and the program)",
            program=argv[0] if argv else "",
            program_copy=f"{pkg}/{prog}",
        ),
    }
    files["payload.json"] = _verify.payload_json(facts)  # what run.sh and --verify boot
    notes = list(c.verdict_notes(facts, "nanos")) + list(rewrite_notes)
    notes.extend(c.dropped_user_note(facts, "Nanos"))
    if facts.config.volumes:
        notes.append("VOLUME paths are ops Mounts from ./volumes (create those directories first)")
    ports = " ".join(f"-p {p}" for p, t in c.listening_ports(facts) if t == "tcp")
    return c.recipe(
        "nanos",
        files,
        executable=("assemble.sh",),
        notes=notes,
        build_command=(
            f"./assemble.sh && mkdir -p ~/.ops/local_packages && cp -r {pkg} ~/.ops/local_packages/"
        ),
        run_command=f"ops pkg load -l {pkg} -c config.json {ports}".strip(),
    )


TARGET = UnikernelTarget(
    data.capabilities("nanos"),
    emit,
    kernel=KernelRuntime(runtime.build_spec, runtime.boot, runtime.package),
)
