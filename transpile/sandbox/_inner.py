"""The part of the sandbox that runs *inside* the fresh namespaces (a standalone script).

It is started by :mod:`transpile.sandbox.runner` as ``python3 -I -S _inner.py MODE SPEC.json`` and
imports only the standard library, so that it starts fast and never depends on the host package
layout. Two modes and the exec helper:

``setup``
    pid 1 of the new pid namespace (under ``unshare --mount --pid --net --ipc --uts --fork``): builds
    the root (overlayfs over the image rootfs with upper/work on a size-limited tmpfs, fresh /proc,
    read-only /sys, minimal /dev, tmpfs /tmp), makes the paths of path injections absent, brings up
    loopback, forks the exec helper, then *execs strace* attaching to it (``-p``), so that the tracer
    is the namespace's init: signals from the traced processes cannot kill it (the kernel ignores
    SIGKILL sent to a pid namespace's init from inside) and when it dies every traced process dies
    with it.
exec helper (the forked child, no mode of its own)
    pivots into the new root, drops the capability bounding set to Docker's default set, switches
    user, closes inherited descriptors, sets rlimits, starts a session of its own, waits until strace
    has attached, makes one marker ``stat`` so the trace parser knows where the entrypoint's life
    begins, then ``execve``\\ s it. Its own set-up is not traced, so fault injections never hit it.
``probe``
    runs in the sandbox's network namespace (under ``nsenter --net``) and exercises the listening
    ports the way SlimToolkit does: TCP connect, HTTP ``GET /``, then HTTPS, with retries.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import posixpath
import resource
import shutil
import socket
import stat
import struct
import sys
import time
from typing import Any

EXEC_MARKER = "/.dockuni-sandbox-exec"

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_CAPBSET_DROP = 24
SYS_PIVOT_ROOT = 155  # x86_64
CLONE_NEWNS = 0x00020000

# Docker's default capability set (moby oci/caps/defaults.go); everything else leaves the bounding
# set, so a root entrypoint gets no more privilege here than in `docker run`.
DOCKER_DEFAULT_CAPS = {
    0,  # CAP_CHOWN
    1,  # CAP_DAC_OVERRIDE
    3,  # CAP_FOWNER
    4,  # CAP_FSETID
    5,  # CAP_KILL
    6,  # CAP_SETGID
    7,  # CAP_SETUID
    8,  # CAP_SETPCAP
    10,  # CAP_NET_BIND_SERVICE
    13,  # CAP_NET_RAW
    18,  # CAP_SYS_CHROOT
    27,  # CAP_MKNOD
    29,  # CAP_AUDIT_WRITE
    31,  # CAP_SETFCAP
}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    ret = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(ret, f"mount {fstype or 'bind'} on {target}")


def _plain_dir(path: str, mode: int = 0o755) -> None:
    """Make ``path`` a real directory: an image symlink or file there is replaced (in the overlay).

    Before the pivot a symlink such as ``/proc -> /etc`` would make us mount over a *host* path.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.mkdir(path, mode)
        return
    if stat.S_ISDIR(st.st_mode):
        return
    os.unlink(path)
    os.mkdir(path, mode)


def _lo_up() -> None:
    """``ip link set lo up`` without running a program: SIOCGIFFLAGS / SIOCSIFFLAGS on a socket."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s.fileno(), siocgifflags, req))[1]
        fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _make_dev(root: str, dev_bytes: int, shm_bytes: int) -> None:
    dev = os.path.join(root, "dev")
    _plain_dir(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, f"mode=755,size={dev_bytes}")
    nodes = {
        "null": (1, 3),
        "zero": (1, 5),
        "full": (1, 7),
        "random": (1, 8),
        "urandom": (1, 9),
        "tty": (5, 0),
    }
    for name, (major, minor) in nodes.items():
        path = os.path.join(dev, name)
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(path, 0o666)
        except OSError:  # no CAP_MKNOD / devices cgroup: bind the host's node instead
            with open(path, "w"):
                pass
            mount(f"/dev/{name}", path, None, MS_BIND)
    for name, target in {
        "fd": "/proc/self/fd",
        "stdin": "/proc/self/fd/0",
        "stdout": "/proc/self/fd/1",
        "stderr": "/proc/self/fd/2",
        "ptmx": "pts/ptmx",
    }.items():
        os.symlink(target, os.path.join(dev, name))
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    with contextlib.suppress(OSError):  # no ptys then; apps that need one will show it in the trace
        mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={shm_bytes}")


def _etc_files(root: str, hostname: str) -> None:
    """What Docker writes for ``--network none``: /etc/hosts and /etc/hostname (in the overlay)."""
    etc = os.path.join(root, "etc")
    if os.path.islink(etc) or not os.path.isdir(etc):
        return  # an image without a real /etc gets none, rather than writing through a link
    for name, text in (
        (
            "hosts",
            f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{hostname}\n",
        ),
        ("hostname", hostname + "\n"),
    ):
        path = os.path.join(etc, name)
        if os.path.islink(path):
            os.unlink(path)
        with open(path, "w") as f:
            f.write(text)


def setup(spec: dict[str, Any]) -> None:
    root = spec["newroot"]
    scratch = spec["scratch"]
    # Nothing we mount may leak back to the host namespace.
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    # The writable layer lives on a tmpfs: its size is the sandbox's disk limit.
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=700,size={spec['disk_bytes']}")
    os.mkdir(os.path.join(scratch, "upper"))
    os.mkdir(os.path.join(scratch, "work"))
    how = "overlay"
    try:
        mount(
            "overlay",
            root,
            "overlay",
            0,
            f"lowerdir={spec['rootfs']},upperdir={scratch}/upper,workdir={scratch}/work",
        )
    except OSError as err:  # e.g. rootfs itself on an overlay that refuses nesting: copy instead
        how = f"copy ({err.strerror})"
        copy = os.path.join(scratch, "copy")
        shutil.copytree(spec["rootfs"], copy, symlinks=True)
        mount(copy, root, None, MS_BIND | MS_REC)
    for name in ("proc", "sys", "tmp"):
        _plain_dir(os.path.join(root, name))
    proc = os.path.join(root, "proc")
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Like Docker: /proc/sys read-only, /proc/sysrq-trigger masked.
    mount(f"{proc}/sys", f"{proc}/sys", None, MS_BIND | MS_REC)
    mount(f"{proc}/sys", f"{proc}/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
    with contextlib.suppress(OSError):
        mount("/dev/null", f"{proc}/sysrq-trigger", None, MS_BIND)
    with contextlib.suppress(OSError):  # a read-only /sys is a convenience, not a requirement
        mount("sysfs", os.path.join(root, "sys"), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _make_dev(root, 1 << 20, spec["shm_bytes"])
    mount(
        "tmpfs",
        os.path.join(root, "tmp"),
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"mode=1777,size={spec['tmp_bytes']}",
    )
    wd = spec["workdir"]
    if wd and wd != "/" and _inside(root, wd):
        # Docker creates a missing WORKDIR; do it in the overlay, and only when no image symlink
        # would lead the host-side mkdir outside the new root.
        os.makedirs(os.path.join(root, wd.lstrip("/")), exist_ok=True)
    _etc_files(root, spec["hostname"])
    for path in spec.get("hide", []):
        hide(root, path)
    _lo_up()
    socket.sethostname(spec["hostname"])
    with open(os.path.join(os.path.dirname(sys.argv[2]), "rootfs-mode"), "w") as f:
        f.write(how)
    sys.stderr.flush()
    if not spec["strace"]:  # untraced run (the overhead baseline): the helper is pid 1
        do_exec(spec, wait_for_tracer=False)
    child = os.fork()
    if child == 0:
        try:
            do_exec(spec, wait_for_tracer=True)
        finally:
            os._exit(126)
    os.execv(spec["strace"], [spec["strace"], *spec["strace_args"], "-p", str(child)])


class HideError(Exception):
    pass


def hide(root: str, path: str) -> None:
    """Make ``path`` absent in the sandbox (a path injection), the image rootfs left untouched.

    In the overlay (and on the sandbox's tmpfs mounts) the entry is removed, which leaves a whiteout
    in the throwaway upper layer. Under /sys and /proc (read-only kernel file systems) its parent
    directory is covered by a tmpfs holding bind mounts of every other entry.
    """
    parts = [p for p in posixpath.normpath(path).split("/") if p]
    if not parts:
        raise HideError(f"cannot make {path} absent: it is the root")
    top, name = parts[0], parts[-1]
    if top in ("proc", "sys") and (
        len(parts) < 3 or (top == "proc" and (parts[1] in ("self", "thread-self") or parts[1].isdigit()))
    ):
        raise HideError(f"cannot make {path} absent: only entries two levels below /{top} can be hidden")
    if top in ("dev", "tmp") and len(parts) == 1:
        raise HideError(f"cannot make {path} absent: it is a mount point of the sandbox")
    parent = os.path.realpath(os.path.join(root, *parts[:-1]))
    if not _inside(root, parent[len(root) :] or "/"):
        raise HideError(f"cannot make {path} absent: its directory leads outside the image")
    target = os.path.join(parent, name)
    if not os.path.lexists(target):
        return
    if top in ("proc", "sys"):
        _cover_without(parent, name)
    elif os.path.isdir(target) and not os.path.islink(target):
        shutil.rmtree(target)
    else:
        os.unlink(target)


def _cover_without(parent: str, name: str) -> None:
    fd = os.open(parent, os.O_PATH | os.O_DIRECTORY)
    try:
        names = os.listdir(parent)
        mount("tmpfs", parent, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=1m")
        for other in names:
            if other == name:
                continue
            src = f"/proc/self/fd/{fd}/{other}"
            dst = os.path.join(parent, other)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            if os.path.isdir(src):
                os.mkdir(dst)
            else:
                with open(dst, "w"):
                    pass
            mount(src, dst, None, MS_BIND | MS_REC)
        mount("none", parent, None, MS_REMOUNT | MS_RDONLY)
    finally:
        os.close(fd)


def _wait_for_tracer(limit_s: float = 30.0) -> None:
    """Return once strace has attached to us (TracerPid in /proc/self/status is set).

    Only the last poll is traced; an injected fault in it (an error, or a faked result without the
    TracerPid line) also means strace is there.
    """
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            fd = os.open("/proc/self/status", os.O_RDONLY)
            try:
                text = os.read(fd, 4096)
            finally:
                os.close(fd)
            line = next((ln for ln in text.splitlines() if ln.startswith(b"TracerPid:")), None)
            if line is None or line.split()[1:] != [b"0"]:
                return
            time.sleep(0.002)
        except (OSError, ValueError, IndexError):
            return
    sys.stderr.write("dockuni-sandbox: the tracer did not attach\n")
    os._exit(125)


def _inside(root: str, path: str) -> bool:
    """True when ``root/path`` resolves (following symlinks) to a place under ``root``."""
    real = os.path.realpath(os.path.join(root, path.lstrip("/")))
    return real == root or real.startswith(root.rstrip("/") + "/")


def do_exec(spec: dict[str, Any], wait_for_tracer: bool) -> None:
    root = spec["newroot"]
    with open("/proc/sys/kernel/cap_last_cap") as f:
        cap_last = int(f.read())
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")  # the memory-limit OOM killer takes the app, never the tracer
    if wait_for_tracer:
        # a mount namespace of our own first: pivot_root moves every process of the namespace whose
        # root is the old one, and the tracer (pid 1, still starting) must keep the host's root
        _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    # pivot_root(".", ".") then detach the old root: the host tree is gone from this namespace.
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    for cap in range(cap_last + 1):
        if cap not in DOCKER_DEFAULT_CAPS:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize_bytes"], spec["fsize_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in spec.get("rlimits", {}).items():  # stand-ins for cgroup limits we could not set
        resource.setrlimit(getattr(resource, name), (value, value))
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    try:
        os.chdir(spec["workdir"] or "/")
    except OSError as err:
        sys.stderr.write(
            f"dockuni-sandbox: cannot enter working directory {spec['workdir']}: {err.strerror}\n"
        )
        os._exit(126)
    os.closerange(3, 65536)
    # a session and process group of its own, as runc gives a container: kill(0, ...) and
    # killpg(getpgrp(), ...) from the app reach only the sandbox
    with contextlib.suppress(OSError):
        os.setsid()
    if wait_for_tracer:
        _wait_for_tracer()
    with contextlib.suppress(OSError):
        os.stat(EXEC_MARKER)
    try:
        os.execve(spec["exec_path"], spec["argv"], spec["env"])
    except OSError as err:
        sys.stderr.write(f"dockuni-sandbox: exec {spec['exec_path']}: {err.strerror}\n")
        os._exit(127 if err.errno == errno.ENOENT else 126)


def _http(port: int, tls: bool, timeout: float) -> tuple[bool, str]:
    import http.client
    import ssl

    conn: http.client.HTTPConnection
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"User-Agent": "dockuni-probe"})
        resp = conn.getresponse()
        body = resp.read(4096)
        return True, f"HTTP {resp.status} {resp.reason}, {len(body)} bytes"
    finally:
        conn.close()


def probe(spec: dict[str, Any]) -> None:
    """Exercise each port; print one JSON record per probe on stdout."""
    out: list[dict[str, Any]] = []
    timeout = float(spec.get("timeout", 2.0))
    for port in spec["ports"]:
        target = f"127.0.0.1:{port}"
        ok, detail, delay = False, "", 0.05
        for _ in range(int(spec.get("retries", 5))):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                    ok, detail = True, "connected"
                break
            except OSError as err:
                detail = err.strerror or str(err)
                time.sleep(delay)
                delay *= 2  # backoff
        out.append({"kind": "tcp", "target": target, "ok": ok, "detail": detail})
        if not ok:
            continue
        for kind, tls in (("http", False), ("https", True)):
            try:
                ok2, detail2 = _http(port, tls, timeout)
            except Exception as err:  # any protocol failure is a probe result, not a crash
                ok2, detail2 = False, f"{type(err).__name__}: {err}"
            out.append({"kind": kind, "target": target, "ok": ok2, "detail": detail2})
            if ok2:
                break  # an HTTP answer: no need to try TLS on the same port
        repeat = int(spec.get("repeat", 0))
        if repeat:  # extra load (the overhead benchmark's workload), timed here inside the netns
            done, t0 = 0, time.perf_counter()
            for _ in range(repeat):
                try:
                    _http(port, False, timeout)
                except Exception:
                    break
                done += 1
            secs = time.perf_counter() - t0
            detail = f"{done} HTTP GETs in {secs:.3f} s"
            out.append(
                {"kind": "load", "target": target, "ok": done == repeat, "detail": detail, "seconds": secs}
            )
    sys.stdout.write(json.dumps(out) + "\n")


def main() -> None:
    mode, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    if mode == "setup":
        try:
            setup(spec)
        except HideError as err:
            sys.stderr.write(f"dockuni-sandbox: {err}\n")
            sys.exit(124)
    elif mode == "probe":
        probe(spec)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
