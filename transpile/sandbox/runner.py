"""Run an image's entrypoint in a throwaway sandbox under strace, probe it, stop it, clean up.

Host side of the sandbox (the inside is ``_inner.py``). Layout of one run::

    sh (joins the cgroups) -> unshare --mount --pid --net --ipc --uts --fork
        -> _inner.py setup   (pid 1 of the new pid namespace: mounts, loopback)
        -> exec strace -f    (stays pid 1: the namespace's init)
            -> _inner.py exec (pivot_root, caps, user, rlimits) -> execve(entrypoint)

Limits: wall clock (``duration_s`` + ``grace_s``), cgroup v1 ``pids.max`` and
``memory.limit_in_bytes`` on a child group made for this run, a tmpfs for every writable place (its
size is the disk limit) and RLIMIT_FSIZE. Afterwards every process of the cgroup is killed, the
cgroups are removed and the temp dir deleted; mounts lived only in the dead mount namespace.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from transpile.errors import DockuniError, ExitCode
from transpile.model.image import ImageConfig
from transpile.model.trace import Injection, TraceFacts
from transpile.sandbox.resolve import Launch, plan_launch
from transpile.sandbox.strace import ParsedTrace, parse_strace

INNER = Path(__file__).with_name("_inner.py")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_ROOT_ENV = "DOCKUNI_CGROUP_ROOT"  # another cgroup v1 root (e.g. a delegated one)
EXIT_HIDE_FAILED = 124  # _inner.py: a path injection could not be applied
EXIT_ENVIRONMENT = ExitCode.ENVIRONMENT


@dataclass(frozen=True)
class TraceOptions:
    duration_s: float = 8.0  # longest the app runs before we stop it
    settle_s: float = 1.0  # after the probes answered, keep tracing this long, then stop
    grace_s: float = 3.0  # after the stop signal, before SIGKILL
    probe: bool = True  # built-in TCP/HTTP/HTTPS probes of listening ports
    probe_commands: tuple[str, ...] = ()  # host shell commands run in the sandbox's network namespace
    probe_repeat: int = 0  # extra HTTP GETs per port (load for the overhead benchmark)
    memory_bytes: int = 512 << 20
    pids_max: int = 256
    disk_bytes: int = 256 << 20  # tmpfs under the overlay's writable layer
    tmp_bytes: int = 64 << 20
    shm_bytes: int = 64 << 20
    fsize_bytes: int = 128 << 20  # RLIMIT_FSIZE
    trace_bytes: int = 256 << 20  # cap on strace's output kept on the host
    strace_string_size: int = 256  # strace -s: long enough for argv, short for read/write buffers
    trace: bool = True  # False: run the same sandbox without strace (overhead measurement)
    workdir: Path | None = None  # parent of the run's temp dir (default: the system temp dir)
    tail_bytes: int = 8192
    injections: tuple[Injection, ...] = ()  # faults injected into the app (active probing)
    cgroup_root: Path | None = None  # cgroup v1 root; default $DOCKUNI_CGROUP_ROOT or /sys/fs/cgroup


class _Tail:
    """Keep the last ``limit`` bytes of a stream read in a thread (a chatty app cannot fill a disk)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.buf = bytearray()
        self.limit = limit
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream: IO[bytes]) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            self.buf += chunk
            if len(self.buf) > 2 * self.limit:
                del self.buf[: len(self.buf) - self.limit]
        stream.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        return bytes(self.buf[-self.limit :]).decode("utf-8", "replace")


class _Sink:
    """Copy strace's output from a pipe into a file, up to ``limit`` bytes (the rest is counted)."""

    def __init__(self, fd: int, path: Path, limit: int) -> None:
        self.fd = fd
        self.path = path
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.path.open("wb") as out:
            while chunk := os.read(self.fd, 1 << 16):
                room = self.limit - self.written
                if room > 0:
                    out.write(chunk[:room])
                    self.written += min(room, len(chunk))
                self.dropped += max(0, len(chunk) - max(room, 0))
        os.close(self.fd)


class _Cgroups:
    """A child group in the v1 ``pids`` and ``memory`` hierarchies for one run.

    A controller that is missing or cannot be written (a read-only /sys/fs/cgroup in a container) is
    left out and named in :attr:`failed`; the runner then sets rlimits in its place.
    """

    def __init__(self, name: str, memory_bytes: int, pids_max: int, root: Path) -> None:
        self.dirs: dict[str, Path] = {}
        self.failed: dict[str, str] = {}  # controller -> why its limit could not be set
        self.pidns = ""  # the sandbox's pid namespace: finds its processes when no cgroup holds them
        limits = {"pids": {"pids.max": pids_max}, "memory": {"memory.limit_in_bytes": memory_bytes}}
        for ctrl, files in limits.items():
            try:
                self._make(root, ctrl, name, files)
            except OSError as err:
                self.failed[ctrl] = err.strerror or str(err)
                if ctrl in self.dirs:
                    self._rmdir(self.dirs.pop(ctrl))
        if "memory" in self.dirs:
            with contextlib.suppress(OSError):  # no memsw file without swap accounting; the limit holds
                (self.dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))

    def _make(self, root: Path, ctrl: str, name: str, files: dict[str, int]) -> None:
        base = root / ctrl
        if not (base / "cgroup.procs").exists():
            raise FileNotFoundError(errno.ENOENT, f"cgroup v1 controller {ctrl} is not mounted at {base}")
        d = base / _own_cgroup(ctrl).lstrip("/") / name
        if not d.parent.is_dir() or not os.access(d.parent, os.W_OK):
            d = base / name  # our own group is not delegated to us: use the top level
        d.mkdir()
        self.dirs[ctrl] = d
        if not (d / "cgroup.procs").exists():  # a plain directory, not a cgroup file system
            raise FileNotFoundError(errno.ENOENT, f"{base} is not a cgroup v1 hierarchy")
        for fname, value in files.items():
            (d / fname).write_text(str(value))

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                out |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
        if "pids" not in self.dirs and self.pidns:
            out |= _pids_in_namespace(self.pidns)
        return out

    def stats(self) -> dict[str, int]:
        st: dict[str, int] = {}
        try:
            for line in (self.dirs["pids"] / "pids.events").read_text().splitlines():
                key, val = line.split()
                st[f"pids_events_{key}"] = int(val)
        except (OSError, ValueError, KeyError):
            pass
        if "memory" not in self.dirs:
            return st
        mem = self.dirs["memory"]
        for name in ("memory.failcnt", "memory.max_usage_in_bytes"):
            with contextlib.suppress(OSError, ValueError):
                st[name.replace(".", "_")] = int((mem / name).read_text())
        try:
            for line in (mem / "memory.oom_control").read_text().splitlines():
                key, val = line.split()
                if key == "oom_kill":
                    st["memory_oom_kill"] = int(val)
        except (OSError, ValueError):
            pass
        return st

    def kill_all(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.pids()
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        for d in self.dirs.values():
            self._rmdir(d)

    @staticmethod
    def _rmdir(d: Path) -> None:
        for _ in range(100):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)  # the last task is still being reaped


def _pids_in_namespace(pidns: str) -> set[int]:
    """Host pids of the processes whose pid namespace is ``pidns`` (a /proc/PID/ns/pid link)."""
    out: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/pid") == pidns:
                    out.add(int(entry))
    return out


def _cgroup_root(opts: TraceOptions) -> Path:
    if opts.cgroup_root is not None:
        return opts.cgroup_root
    return Path(os.environ.get(CGROUP_ROOT_ENV) or CGROUP_ROOT)


def _fallback_rlimits(cgroups: _Cgroups, opts: TraceOptions) -> tuple[dict[str, int], str]:
    """rlimits standing in for the cgroup limits that could not be set, and the one-line finding."""
    rlimits: dict[str, int] = {}
    said = []
    if "pids" in cgroups.failed:
        rlimits["RLIMIT_NPROC"] = opts.pids_max
        said.append(
            f"pids.max ({cgroups.failed['pids']}): RLIMIT_NPROC={opts.pids_max} instead, "
            "which does not stop root"
        )
    if "memory" in cgroups.failed:
        rlimits["RLIMIT_AS"] = opts.memory_bytes
        said.append(
            f"memory.limit_in_bytes ({cgroups.failed['memory']}): RLIMIT_AS={opts.memory_bytes >> 20} MiB"
            " of address space instead"
        )
    if not said:
        return rlimits, ""
    return rlimits, "cgroup limits not set: " + "; ".join(said)


def _own_cgroup(ctrl: str) -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if ctrl in ctrls.split(","):
                return path
    except OSError:
        pass
    return "/"


def _listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state in the network namespace of ``pid`` (read from the host's /proc)."""
    ports: set[int] = set()
    try:  # until unshare has run, ``pid`` is still in our own namespace: nothing to see yet
        if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            return ports
    except OSError:
        return ports
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def _signal_number(name: str) -> int:
    name = (name or "SIGTERM").upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        return int(signal.SIGTERM)


def _injection_args(injections: tuple[Injection, ...]) -> tuple[list[str], list[str]]:
    """strace ``-e inject=`` options for the syscall injections, and the paths to make absent."""
    args: list[str] = []
    paths: list[str] = []
    seen: set[str] = set()
    for inj in injections:
        if inj.path:
            paths.append(inj.path)
            continue
        if inj.syscall in seen:
            raise DockuniError(f"injection {inj.key}: {inj.syscall} is injected twice in one run")
        if inj.syscall == "execve":
            raise DockuniError(
                f"injection {inj.key}: the sandbox starts the entrypoint with execve, so it cannot fail"
            )
        seen.add(inj.syscall)
        what = f"error={inj.error}" if inj.error else f"retval={inj.retval}"
        args += ["-e", f"inject={inj.syscall}:{what}"]
    return args, paths


def _require_tools() -> dict[str, str]:
    tools = {}
    for tool in ("strace", "unshare", "nsenter"):
        found = shutil.which(tool)
        if not found:
            raise DockuniError(
                f"{tool} is not installed (needed for the sandboxed trace)", exit_code=EXIT_ENVIRONMENT
            )
        tools[tool] = found
    if os.geteuid() != 0:
        raise DockuniError(
            "the sandboxed trace needs root (namespaces, cgroups, mounts)", exit_code=EXIT_ENVIRONMENT
        )
    return tools


def _limits(opts: TraceOptions) -> dict[str, Any]:
    return {
        "duration_s": opts.duration_s,
        "memory_bytes": opts.memory_bytes,
        "pids_max": opts.pids_max,
        "disk_bytes": opts.disk_bytes,
        "fsize_bytes": opts.fsize_bytes,
    }


def _failed(launch: Launch, reason: str, started: float, opts: TraceOptions) -> TraceFacts:
    return TraceFacts(
        argv=launch.argv,
        duration_s=round(time.monotonic() - started, 3),
        exit_reason="failed-to-start",
        exit_status=None,
        processes=(),
        syscalls=(),
        files=(),
        execs=(),
        dlopened=(),
        sockets=(),
        signals=(),
        listening_ports=(),
        findings=(f"the entrypoint cannot start: {reason}",),
        extra={
            "exec_path": launch.exec_path,
            "user": f"{launch.uid}:{launch.gid}",
            "workdir": launch.workdir,
            "limits": _limits(opts),
        },
    )


def run_trace(rootfs: Path, config: ImageConfig, options: TraceOptions | None = None) -> TraceFacts:
    """Run the image's entrypoint in a sandbox under strace and return what it did.

    ``rootfs`` is never modified (the sandbox writes to an overlay on a tmpfs). Raises
    :class:`DockuniError` (exit code 3) when a needed host component is missing; problems of the
    image itself (missing entrypoint, wrong architecture, crash, fork bomb...) are findings.
    """
    opts = options or TraceOptions()
    started = time.monotonic()
    tools = _require_tools()
    _injection_args(opts.injections)  # bad injections are bad input, before anything starts
    rootfs = Path(rootfs).resolve()
    if not rootfs.is_dir():
        raise DockuniError(f"root filesystem {rootfs} is not a directory", file=str(rootfs))
    launch = plan_launch(rootfs, config)
    if launch.problem:
        return _failed(launch, launch.problem, started, opts)
    parent = opts.workdir or Path(tempfile.gettempdir())
    tmp = Path(tempfile.mkdtemp(prefix="dockuni-trace-", dir=parent))
    cgroups: _Cgroups | None = None
    try:
        cgroups = _Cgroups(tmp.name, opts.memory_bytes, opts.pids_max, _cgroup_root(opts))
        return _run(rootfs, config, opts, launch, tools, tmp, cgroups, started)
    finally:
        if cgroups is not None:
            cgroups.kill_all()
            cgroups.remove()
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    rootfs: Path,
    config: ImageConfig,
    opts: TraceOptions,
    launch: Launch,
    tools: dict[str, str],
    tmp: Path,
    cgroups: _Cgroups,
    started: float,
) -> TraceFacts:
    (tmp / "scratch").mkdir()
    (tmp / "root").mkdir()
    read_fd, write_fd = os.pipe()
    inject_args, hide = _injection_args(opts.injections)
    strace_args = [
        "-f", "-q", "-ttt", "-s", str(opts.strace_string_size), "-o", f"/proc/self/fd/{write_fd}",
        *inject_args,
    ]  # fmt: skip
    rlimits, cgroup_finding = _fallback_rlimits(cgroups, opts)
    spec: dict[str, Any] = {
        "rootfs": str(rootfs),
        "scratch": str(tmp / "scratch"),
        "newroot": str(tmp / "root"),
        "disk_bytes": opts.disk_bytes,
        "tmp_bytes": opts.tmp_bytes,
        "shm_bytes": opts.shm_bytes,
        "fsize_bytes": opts.fsize_bytes,
        "hostname": "dockuni-sandbox",
        "strace": tools["strace"] if opts.trace else "",
        "strace_args": strace_args,
        "argv": list(launch.argv),
        "exec_path": launch.exec_path,
        "env": launch.env,
        "workdir": launch.workdir,
        "uid": launch.uid,
        "gid": launch.gid,
        "groups": list(launch.groups),
        "hide": hide,
        "rlimits": rlimits,
    }
    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps(spec))
    # The shell puts itself into the cgroups, then becomes unshare: every descendant is limited.
    join = "".join(f'echo $$ > "{f}" && ' for f in cgroups.procs_files())
    cmd = [
        "/bin/sh", "-c", f'{join}exec "$@"', "sh",
        tools["unshare"], "--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child",
        "--propagation", "private",
        sys.executable, "-I", "-S", str(INNER), "setup", str(spec_path),
    ]  # fmt: skip
    sink = _Sink(read_fd, tmp / "trace.log", opts.trace_bytes)
    # a session of its own: no signal the app sends to its process group or session reaches us
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
        start_new_session=True,
    )
    os.close(write_fd)
    assert proc.stdout is not None and proc.stderr is not None
    out_tail = _Tail(proc.stdout, opts.tail_bytes)
    err_tail = _Tail(proc.stderr, opts.tail_bytes)
    probes: list[dict[str, Any]] = []
    seen_ports: set[int] = set()
    deadline = started + opts.duration_s
    stop_at = deadline
    stopped_by_us = False
    needed_kill = False
    first_listen: float | None = None
    serving_from: float | None = None  # wall clock (strace -ttt's clock) when the probes began
    stopping_from: float | None = None  # ... and when the stop signal was sent
    try:
        while proc.poll() is None and time.monotonic() < stop_at:
            if not cgroups.pidns:
                cgroups.pidns = _pidns_of_child(proc.pid)
            ports = _listening_ports(proc.pid)
            if ports and first_listen is None:
                first_listen = time.monotonic() - started
                seen_ports = ports
                serving_from = time.time()
                probes = _probe(proc.pid, tools, config, ports, opts)
                stop_at = min(deadline, time.monotonic() + opts.settle_s)
            time.sleep(0.05)
        if proc.poll() is None:
            stopped_by_us = True
            stopping_from = time.time()
            needed_kill = _stop(proc, cgroups, config, opts)
    finally:
        if proc.poll() is None:
            cgroups.kill_all()
            proc.kill()
        proc.wait(timeout=10)
    sink.thread.join(timeout=30)
    stats = cgroups.stats()
    stdout_tail = out_tail.text()
    # strace's own complaints ("Exit of unknown pid ...") share the app's stderr: keep them out
    stderr_tail = "".join(
        ln for ln in err_tail.text().splitlines(keepends=True) if not ln.startswith(tools["strace"] + ":")
    )
    if proc.returncode == EXIT_HIDE_FAILED and "dockuni-sandbox: cannot make" in stderr_tail:
        raise DockuniError(stderr_tail.strip().splitlines()[-1].removeprefix("dockuni-sandbox: "))
    bad = [ln for ln in err_tail.text().splitlines() if ln.startswith(tools["strace"] + ": invalid")]
    if bad:  # e.g. a syscall name this strace does not know
        raise DockuniError(f"injection rejected by strace: {bad[0].removeprefix(tools['strace'] + ': ')}")
    with (tmp / "trace.log").open(errors="replace") as f:
        parsed = parse_strace(f, launch.workdir, serving_from, stopping_from)
    how = (tmp / "rootfs-mode").read_text() if (tmp / "rootfs-mode").exists() else ""
    bounds = {"startup": parsed.start_ts} if parsed.started else {}
    if serving_from is not None:
        bounds["serving"] = serving_from
    if stopping_from is not None:
        bounds["shutdown"] = stopping_from
    facts = _facts(
        launch, opts, parsed, probes, seen_ports, stats, stopped_by_us, needed_kill, first_listen,
        stdout_tail, stderr_tail, sink, time.monotonic() - started, how, proc.returncode, tmp.name,
    )  # fmt: skip
    findings = facts.findings + ((cgroup_finding,) if cgroup_finding else ())
    return replace(
        facts,
        findings=findings,
        outcomes=parsed.outcomes,
        phase_bounds=bounds,
        injections=opts.injections,
        injected=parsed.injected,
    )


def _pidns_of_child(pid: int) -> str:
    """The pid namespace of ``pid``'s first child (unshare's child is the sandbox's init), or ""."""
    for child in _children(pid):
        with contextlib.suppress(OSError):
            ns = os.readlink(f"/proc/{child}/ns/pid")
            if ns != os.readlink("/proc/self/ns/pid"):
                return ns
    return ""


def _probe(
    unshare_pid: int, tools: dict[str, str], config: ImageConfig, ports: set[int], opts: TraceOptions
) -> list[dict[str, Any]]:
    """Built-in probes then user commands, all inside the sandbox's network namespace."""
    netns = f"--net=/proc/{unshare_pid}/ns/net"
    records: list[dict[str, Any]] = []
    exposed = {p.number for p in config.exposed_ports if p.protocol == "tcp"}
    targets = sorted(ports & exposed) or sorted(ports)
    if opts.probe and targets:
        spec = {"ports": targets, "retries": 5, "timeout": 2.0, "repeat": opts.probe_repeat}
        spec_path = Path(tempfile.mkstemp(prefix="probe-", suffix=".json")[1])
        try:
            spec_path.write_text(json.dumps(spec))
            res = subprocess.run(
                [tools["nsenter"], netns, sys.executable, "-I", "-S", str(INNER), "probe", str(spec_path)],
                capture_output=True,
                text=True,
                timeout=30 + 2 * opts.probe_repeat,
            )
            if res.returncode == 0 and res.stdout.strip():
                records.extend(json.loads(res.stdout.strip().splitlines()[-1]))
            else:
                records.append(
                    {"kind": "tcp", "target": str(targets), "ok": False, "detail": res.stderr[-500:]}
                )
        except subprocess.TimeoutExpired:
            records.append({"kind": "tcp", "target": str(targets), "ok": False, "detail": "probe timed out"})
        finally:
            spec_path.unlink(missing_ok=True)
    for command in opts.probe_commands:
        try:
            res = subprocess.run(
                [tools["nsenter"], netns, "/bin/sh", "-c", command],
                capture_output=True,
                text=True,
                timeout=60,
            )
            ok, detail = res.returncode == 0, f"exit {res.returncode}: {(res.stdout + res.stderr)[-300:]}"
        except subprocess.TimeoutExpired:
            ok, detail = False, "timed out after 60 s"
        records.append({"kind": "command", "target": command, "ok": ok, "detail": detail.strip()})
    return records


def _stop(proc: subprocess.Popen[bytes], cgroups: _Cgroups, config: ImageConfig, opts: TraceOptions) -> bool:
    """Stop signal to the entrypoint (or, if it already left, to what it left behind), then SIGKILL.

    Returns True when SIGKILL was needed. The tracer (the namespace's init) is killed last so it
    can flush the trace of everything that died before it.
    """
    sig = _signal_number(config.stop_signal)
    tracer = next(iter(_children(proc.pid)), None)
    apps = _children(tracer) if tracer else []
    for pid in apps:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    try:
        proc.wait(timeout=opts.grace_s)
        return False
    except subprocess.TimeoutExpired:
        pass
    keep = {proc.pid, tracer}
    for pid in cgroups.pids() - keep:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        cgroups.kill_all()
    return True


def _facts(
    launch: Launch,
    opts: TraceOptions,
    parsed: ParsedTrace,
    probes: list[dict[str, Any]],
    seen_ports: set[int],
    stats: dict[str, int],
    stopped_by_us: bool,
    needed_kill: bool,
    first_listen: float | None,
    stdout_tail: str,
    stderr_tail: str,
    sink: _Sink,
    duration: float,
    how: str,
    returncode: int | None,
    sandbox_id: str,
) -> TraceFacts:
    findings = list(parsed.findings)
    if opts.trace and not parsed.started:
        why = parsed.exec_error or "the sandbox did not reach the entrypoint"
        findings.insert(0, f"the entrypoint cannot start: execve {launch.exec_path} failed ({why})")
        exit_reason = "failed-to-start"
    elif stopped_by_us:
        exit_reason = "timeout" if needed_kill else "stopped"
    elif parsed.root_killed_by:
        exit_reason = "killed"
    else:
        exit_reason = "exited"
    if exit_reason == "exited" and parsed.started:
        findings.append(
            f"the entrypoint exited by itself with status {parsed.root_exit_status} "
            f"after {parsed.last_ts - parsed.first_ts:.2f} s"
        )
    if exit_reason == "timeout":
        findings.append(f"ignored the stop signal for {opts.grace_s:g} s and was killed with SIGKILL")
    if stats.get("pids_events_max", 0):
        findings.append(
            f"process limit reached: fork failed {stats['pids_events_max']} time(s) at "
            f"pids.max={opts.pids_max} (a fork bomb or runaway forking was contained)"
        )
    if stats.get("memory_oom_kill", 0) or (
        stats.get("memory_failcnt", 0) and parsed.root_killed_by == "SIGKILL"
    ):
        findings.append(
            f"memory limit reached ({opts.memory_bytes >> 20} MiB): the kernel's OOM killer ended "
            f"{stats.get('memory_oom_kill', 1)} process(es)"
        )
    elif stats.get("memory_failcnt", 0):
        findings.append(f"memory limit reached ({opts.memory_bytes >> 20} MiB): allocations were refused")
    if parsed.started and not seen_ports and not parsed.listening_ports:
        findings.append("never listened on a TCP port")
    if sink.dropped:
        findings.append(
            f"trace truncated: {sink.dropped} bytes of strace output beyond {opts.trace_bytes} dropped"
        )
    exit_status = parsed.root_exit_status
    if not opts.trace:
        exit_status = returncode
    return TraceFacts(
        argv=launch.argv,
        duration_s=round(duration, 3),
        exit_reason=exit_reason,
        exit_status=exit_status,
        processes=parsed.processes,
        syscalls=parsed.syscalls,
        files=parsed.files,
        execs=parsed.execs,
        dlopened=parsed.dlopened,
        sockets=parsed.sockets,
        signals=parsed.signals,
        listening_ports=tuple(sorted(set(parsed.listening_ports) | seen_ports)),
        probes=tuple(probes),
        findings=tuple(findings),
        tracer="strace" if opts.trace else "none",
        stdout_tail=stdout_tail,
        stderr_tail=stderr_tail,
        extra={
            "exec_path": launch.exec_path,
            "user": f"{launch.uid}:{launch.gid}",
            "workdir": launch.workdir,
            "sandbox": sandbox_id,
            "root_pid": parsed.root_pid,
            "killed_by": parsed.root_killed_by,
            "first_listen_s": round(first_listen, 3) if first_listen is not None else None,
            "trace_lines": parsed.lines,
            "trace_unparsed_lines": parsed.unparsed,
            "trace_bytes": sink.written,
            "rootfs_mode": how,
            "cgroup": stats,
            "limits": _limits(opts),
        },
    )
