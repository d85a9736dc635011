"""The fallback target: the original image as a hardened container (run.sh, compose.yaml, seccomp.json).

Each option rests on the trace: ``--read-only`` only when every write the app made lands in
directories a tmpfs can hold; capabilities start from none (``--cap-drop ALL``) and only those the
observed syscalls need come back; ``no-new-privileges`` always; the seccomp profile allows what the
trace saw plus what the runtime needs (``transpile.passes.seccomp``).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, replace
from typing import Any

from transpile import data
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.targets import _common as c
from transpile.targets._base import ContainerTarget

# Syscall -> the capability a process needs to make it succeed in the ways servers use it.
_CAP_BY_SYSCALL: dict[str, str] = {
    "setuid": "SETUID",
    "setreuid": "SETUID",
    "setresuid": "SETUID",
    "setfsuid": "SETUID",
    "setgid": "SETGID",
    "setregid": "SETGID",
    "setresgid": "SETGID",
    "setfsgid": "SETGID",
    "setgroups": "SETGID",
    "chown": "CHOWN",
    "fchown": "CHOWN",
    "lchown": "CHOWN",
    "fchownat": "CHOWN",
    "chroot": "SYS_CHROOT",
    "mknod": "MKNOD",
    "mknodat": "MKNOD",
}


@dataclass(frozen=True)
class RunOptions:
    """The hardening decided for one image; rendered both as ``docker run`` flags and as compose."""

    image: str
    read_only: bool
    tmpfs: tuple[str, ...]
    cap_add: tuple[str, ...]
    network: str  # "" (the default network) or "none"
    publish: tuple[tuple[int, str], ...]  # (port, protocol)
    seccomp: bool
    reasons: tuple[str, ...]  # one line per decision, with the evidence

    def docker_args(self, seccomp_path: str) -> tuple[str, ...]:
        args: list[str] = []
        if self.read_only:
            args.append("--read-only")
        for d in self.tmpfs:
            args += ["--tmpfs", d]
        args += ["--cap-drop", "ALL"]
        for cap in self.cap_add:
            args += ["--cap-add", cap]
        args += ["--security-opt", "no-new-privileges"]
        if self.seccomp:
            args += ["--security-opt", f"seccomp={seccomp_path}"]
        if self.network:
            args += ["--network", self.network]
        for port, proto in self.publish:
            args += ["-p", f"{port}:{port}" + ("" if proto == "tcp" else f"/{proto}")]
        return tuple(args)


def as_run(facts: ConversionFacts) -> ConversionFacts:
    """The facts of the image as it is: the container runs its own argv, not the unikernels' rewrite."""
    if facts.image_trace is None:
        return facts
    return replace(facts, trace=facts.image_trace)


def capabilities(facts: ConversionFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(capabilities to add back, reasons)."""
    facts = as_run(facts)
    caps: dict[str, str] = {}
    if facts.trace is not None:
        names = facts.trace.syscall_names
        for name in sorted(names):
            cap = _CAP_BY_SYSCALL.get(name)
            if cap and cap not in caps:
                caps[cap] = f"{cap}: the trace shows {name}()"
        children = [p for p in facts.trace.processes if p.parent and not p.is_thread]
        if "SETUID" in caps and children:
            # a root parent signalling children that switched uid (nginx's master at shutdown)
            caps["KILL"] = f"KILL: {len(children)} child process(es) and setuid(): signals cross uids"
        # netlink sockets are SOCK_RAW too but need no capability
        raw = [
            s
            for s in facts.trace.sockets
            if s.family == "AF_PACKET" or (s.type == "SOCK_RAW" and s.family in ("AF_INET", "AF_INET6"))
        ]
        if raw:
            caps["NET_RAW"] = f"NET_RAW: the trace opened a {raw[0].family} raw socket"
    low = sorted(p for p, _ in c.listening_ports(facts) if p < 1024)
    if low:
        # Docker lowers ip_unprivileged_port_start in its own netns, other runtimes may not.
        caps["NET_BIND_SERVICE"] = f"NET_BIND_SERVICE: binds port {', '.join(map(str, low))} (< 1024)"
    return tuple(sorted(caps)), tuple(caps[k] for k in sorted(caps))


def tmpfs_dirs(facts: ConversionFacts) -> tuple[tuple[str, ...], bool, str]:
    """(tmpfs directories, read-only possible, reason)."""
    facts = as_run(facts)
    if facts.trace is None:
        return (), False, "no trace: writes unknown, so the root filesystem stays writable"
    vols = [c.clean_path(v) for v in facts.config.volumes]
    dirs = [d for d in c.written_dirs(facts, skip=c.log_redirects(facts)) if not c.under(d, vols)]
    if "/" in dirs:
        return (), False, "the app writes at the top of the filesystem: no tmpfs can hold that"
    if not dirs:
        return (), True, "read-only: the trace shows no writes outside volumes"
    return tuple(dirs), True, "read-only with tmpfs for the directories the app wrote: " + ", ".join(dirs)


def network(facts: ConversionFacts) -> tuple[str, str]:
    facts = as_run(facts)
    if facts.trace is None:
        return "", "no trace: default network"
    inet = [s for s in facts.trace.sockets if s.family in ("AF_INET", "AF_INET6")]
    if not inet and not facts.trace.listening_ports:
        return "none", "network none: the trace opened no IP socket"
    return "", "default network: the app uses IP sockets"


def seccomp_profile(facts: ConversionFacts) -> tuple[dict[str, Any] | None, str]:
    """The profile the pipeline derived, else the seccomp pass's own derivation from the trace; without
    a trace, none (Docker's default profile applies)."""
    facts = as_run(facts)
    from transpile.passes import seccomp

    profile: dict[str, Any]
    if facts.seccomp_profile is not None:
        profile = dict(facts.seccomp_profile)
    elif facts.trace is not None and facts.trace.syscalls:
        profile = seccomp.seccomp_profile(facts.trace)
    else:
        return None, "seccomp: Docker's default profile (no trace to derive one from)"
    allowed = seccomp.profile_stats(profile, ())["allowed"]
    return (
        profile,
        f"seccomp: {allowed} syscalls allowed (what the trace saw plus the runtime's), the rest denied",
    )


def options(facts: ConversionFacts) -> RunOptions:
    caps, cap_reasons = capabilities(facts)
    tmpfs, read_only, ro_reason = tmpfs_dirs(facts)
    net, net_reason = network(facts)
    profile, sec_reason = seccomp_profile(facts)
    publish = () if net == "none" else c.listening_ports(facts)
    return RunOptions(
        image=facts.image_reference or f"dockuni/{c.app_name(facts)}",
        read_only=read_only,
        tmpfs=tmpfs,
        cap_add=caps,
        network=net,
        publish=publish,
        seccomp=profile is not None,
        reasons=(ro_reason, "cap-drop ALL", *cap_reasons, "no-new-privileges", sec_reason, net_reason),
    )


def run_sh(facts: ConversionFacts, opts: RunOptions) -> str:
    lines = [
        "#!/bin/sh",
        "# Generated by dockuni: run the image as a hardened container.",
        "# Extra `docker run` options may be passed as arguments (e.g. -d --name web).",
        *(f"#   {r}" for r in opts.reasons),
        "set -eu",
        'here=$(cd "$(dirname "$0")" && pwd)',
        "docker=${DOCKER:-docker}",
    ]
    if not facts.image_reference and facts.dockerfile_path:
        ctx = posixpath.dirname(facts.dockerfile_path) or "."
        lines.append(
            f'"$docker" build -t {c.sh_words([opts.image])} -f {c.sh_words([facts.dockerfile_path, ctx])}'
        )
    words = [
        '"seccomp=$here/seccomp.json"' if f == "seccomp=SECCOMP" else c.sh_words([f])
        for f in opts.docker_args("SECCOMP")
    ]
    groups: list[str] = []
    for w in words:  # one option (and its value) per line
        if groups and groups[-1].startswith("-") and " " not in groups[-1] and not w.startswith("-"):
            groups[-1] += " " + w
        else:
            groups.append(w)
    rendered = " \\\n    ".join(groups)
    lines.append(f'exec "$docker" run --rm "$@" \\\n    {rendered} \\\n    {c.sh_words([opts.image])}')
    return "\n".join(lines) + "\n"


def compose_yaml(facts: ConversionFacts, opts: RunOptions) -> str:
    y = c.yaml_str
    lines = ["# Generated by dockuni: the same hardening as run.sh.", "services:", f"  {c.app_name(facts)}:"]
    lines.append(f"    image: {y(opts.image)}")
    if not facts.image_reference and facts.dockerfile_path:
        lines.append("    build:")
        lines.append(f"      context: {y(posixpath.dirname(facts.dockerfile_path) or '.')}")
        lines.append(f"      dockerfile: {y(posixpath.basename(facts.dockerfile_path))}")
    lines.append(f"    read_only: {'true' if opts.read_only else 'false'}")
    if opts.tmpfs:
        lines.append(f"    tmpfs: {c.yaml_list(opts.tmpfs)}")
    lines.append(f"    cap_drop: {c.yaml_list(['ALL'])}")
    if opts.cap_add:
        lines.append(f"    cap_add: {c.yaml_list(opts.cap_add)}")
    sec = ["no-new-privileges:true"] + (["seccomp:./seccomp.json"] if opts.seccomp else [])
    lines.append(f"    security_opt: {c.yaml_list(sec)}")
    if opts.network:
        lines.append(f"    network_mode: {y(opts.network)}")
    if opts.publish:
        ports = [f"{p}:{p}" + ("" if t == "tcp" else f"/{t}") for p, t in opts.publish]
        lines.append(f"    ports: {c.yaml_list(ports)}")
    return "\n".join(lines) + "\n"


def emit(facts: ConversionFacts) -> Recipe:
    opts = options(facts)
    profile, _ = seccomp_profile(facts)
    files: dict[str, str | bytes] = {"run.sh": run_sh(facts, opts), "compose.yaml": compose_yaml(facts, opts)}
    if profile is not None:
        files["seccomp.json"] = json.dumps(profile, indent=2, sort_keys=True) + "\n"
    notes = list(opts.reasons)
    redirects = c.log_redirects(facts)
    if redirects:
        notes.append("log symlinks to the console stay as they are: " + ", ".join(redirects))
    return c.recipe(
        "container",
        files,
        executable=("run.sh",),
        notes=notes,
        run_command="./run.sh",
        build_command="",
    )


TARGET = ContainerTarget(data.capabilities("container"), emit)
