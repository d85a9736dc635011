"""The strace output parser, on text strace really prints (samples, and strace run on host programs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transpile.sandbox.strace import EXEC_MARKER, parse_sockaddr, parse_strace, split_args, unquote

pytestmark = pytest.mark.unit

# what the sandbox's helper does before the entrypoint: ignored up to the marker and the next execve
PRELUDE = f"""\
4 1700000000.000001 execve("/usr/bin/python3", ["python3", "_inner.py", "exec"], 0x7ffc /* 9 vars */) = 0
4 1700000000.000100 pivot_root(".", ".") = 0
4 1700000000.000200 prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0
4 1700000000.000300 newfstatat(AT_FDCWD, "{EXEC_MARKER}", 0x7ffd, 0) = -1 ENOENT (No such file or directory)
"""


def lines(text: str) -> list[str]:
    return (PRELUDE + text).splitlines(keepends=True)


def test_prelude_is_ignored_and_entrypoint_starts_at_its_execve() -> None:
    t = parse_strace(
        lines(
            '4 1700000000.001 execve("/app", ["/app", "-x"], 0x7ffc /* 3 vars */) = 0\n'
            "4 1700000000.002 brk(NULL) = 0x5555\n"
            "4 1700000000.003 exit_group(0) = ?\n"
            "4 1700000000.004 +++ exited with 0 +++\n"
        )
    )
    assert t.started and t.root_pid == 4
    assert t.syscalls == (("execve", 1), ("brk", 1), ("exit_group", 1))
    assert t.execs == (("/app", "-x"),)
    assert t.root_exit_status == 0
    assert [f.path for f in t.files] == ["/app"]


def test_failed_entrypoint_execve() -> None:
    t = parse_strace(
        lines('4 1.0 execve("/app", ["/app"], 0x1 /* 0 vars */) = -1 ENOEXEC (Exec format error)\n')
    )
    assert not t.started and t.exec_error == "ENOEXEC" and t.syscalls == ()


def test_unfinished_resumed_threads_and_processes() -> None:
    t = parse_strace(
        lines(
            '4 1.0 execve("/srv", ["srv"], 0x1 /* 0 vars */) = 0\n'
            "4 1.1 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM"
            "|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f, parent_tid=0x7f,"
            " exit_signal=0,"
            " stack=0x7f, stack_size=0x7fff00, tls=0x7f} <unfinished ...>\n"
            "5 1.2 set_robust_list(0x7f, 24) = 0\n"
            "4 1.3 <... clone3 resumed> => {parent_tid=[5]}, 88) = 5\n"
            "4 1.4 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD,"
            " child_tidptr=0x7f) = 6\n"
            "6 1.5 vfork( <unfinished ...>\n"
            '7 1.6 execve("/bin/true", ["true"], 0x1 /* 0 vars */) = 0\n'
            "6 1.7 <... vfork resumed>) = 7\n"
            "7 1.8 +++ exited with 0 +++\n"
            "6 1.9 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=7, si_uid=0, si_status=0} ---\n"
            "6 2.0 +++ killed by SIGKILL +++\n"
            "5 2.1 +++ exited with 0 +++\n"
            "4 2.2 +++ killed by SIGTERM +++\n"
        )
    )
    procs = {p.pid: p for p in t.processes}
    assert procs[5].is_thread and procs[5].parent == 4 and "CLONE_THREAD" in procs[5].clone_flags
    assert (
        not procs[6].is_thread and procs[6].clone_flags == "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
    )
    assert procs[7].parent == 6 and "CLONE_VFORK" in procs[7].clone_flags and procs[7].argv == ("true",)
    assert procs[6].killed_by == "SIGKILL" and procs[7].exit_status == 0
    assert t.root_killed_by == "SIGTERM" and not t.daemonized
    assert t.signals == ("SIGCHLD",)
    assert dict(t.syscalls)["clone3"] == 1 and dict(t.syscalls)["vfork"] == 1
    assert t.execs == (("srv",), ("true",))


def test_files_sockets_and_dlopen() -> None:
    t = parse_strace(
        lines(
            '4 1.0 execve("/usr/bin/app", ["app"], 0x1 /* 0 vars */) = 0\n'
            '4 1.1 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3\n'
            '4 1.2 openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3\n'
            "4 1.3 mmap(NULL, 1922136, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0) = 0x7f00\n"
            "4 1.4 mmap(0x7f01, 1396736, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED, 3, 0x26000)"
            " = 0x7f01\n"
            "4 1.5 close(3) = 0\n"
            "4 1.6 rt_sigaction(SIGINT, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0\n"
            '4 1.7 chdir("/srv") = 0\n'
            '4 1.8 openat(AT_FDCWD, "data/x.txt", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3\n'
            '4 1.9 openat(AT_FDCWD, "/usr/lib/mods/ext.so", O_RDONLY|O_CLOEXEC) = 4\n'
            "4 2.0 mmap(NULL, 8192, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_DENYWRITE, 4, 0) = 0x7f02\n"
            '4 2.1 newfstatat(AT_FDCWD, "/nope", 0x7ffd, 0) = -1 ENOENT (No such file or directory)\n'
            "4 2.2 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_TCP) = 5\n"
            "4 2.3 bind(5, {sa_family=AF_INET6, sin6_port=htons(8443), sin6_flowinfo=htonl(0),"
            ' inet_pton(AF_INET6, "::", &sin6_addr), sin6_scope_id=0}, 28) = 0\n'
            "4 2.4 listen(5, 511) = 0\n"
            "4 2.5 socket(AF_UNIX, SOCK_DGRAM, 0) = 6\n"
            '4 2.6 connect(6, {sa_family=AF_UNIX, sun_path="/dev/log"}, 110)'
            " = -1 ENOENT (No such file or directory)\n"
            "4 2.7 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 7\n"
            '4 2.8 connect(7, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("192.0.2.9")}, 16)'
            " = -1 ENETUNREACH (Network is unreachable)\n"
            "4 2.9 umask(000) = 022\n"
        )
    )
    files = {(f.path, f.op): f for f in t.files}
    assert files[("/srv/data/x.txt", "open")].write  # relative to the chdir'd cwd
    assert not files[("/nope", "stat")].found
    assert ("/lib/x86_64-linux-gnu/libc.so.6", "mmap") in files
    assert t.dlopened == ("/usr/lib/mods/ext.so",)  # libc was mapped during start-up: not dlopen
    socks = {s.family: s for s in t.sockets}
    assert socks["AF_INET6"].bound == "[::]:8443" and socks["AF_INET6"].listening
    assert socks["AF_INET6"].type == "SOCK_STREAM"
    assert socks["AF_UNIX"].connected_to == "/dev/log"
    assert t.listening_ports == (8443,)
    assert any("192.0.2.9:443" in f and "ENETUNREACH" in f for f in t.findings)
    assert any("wrote 1 path" in f and "/srv/data/x.txt" in f for f in t.findings)
    assert t.unparsed == 0


def test_daemonized_entrypoint() -> None:
    t = parse_strace(
        lines(
            '4 1.0 execve("/d", ["/d"], 0x1 /* 0 vars */) = 0\n'
            "4 1.1 fork() = 5\n"
            "4 1.2 exit_group(0) = ?\n"
            "4 1.3 +++ exited with 0 +++\n"
            "5 1.4 pause( <unfinished ...>\n"
            "5 9.0 +++ killed by SIGTERM +++\n"
        )
    )
    assert t.daemonized and any("daemonized" in f and "pid 5" in f for f in t.findings)


def test_real_strace_of_host_programs(tmp_path: Path) -> None:
    """strace itself on a host shell that forks, execs and waits (host programs, not image content)."""
    strace, sh = shutil.which("strace"), shutil.which("sh")
    assert strace and sh
    out = tmp_path / "trace"
    # the marker stat comes first, as in the sandbox; then the "entrypoint" execs
    script = f"[ -e {EXEC_MARKER} ]; exec {sh} -c '/bin/true & wait; echo done > {tmp_path}/f'"
    subprocess.run([strace, "-f", "-q", "-ttt", "-s", "256", "-o", str(out), sh, "-c", script], check=True)
    t = parse_strace(out.read_text().splitlines(keepends=True))
    assert t.started and t.unparsed == 0
    assert [e[0] for e in t.execs] == [sh, "/bin/true"]
    kids = [p for p in t.processes if p.parent == t.root_pid]
    assert len(kids) == 1 and not kids[0].is_thread and kids[0].exit_status == 0
    assert t.root_exit_status == 0
    assert any(f.path == f"{tmp_path}/f" and f.write for f in t.files)


def test_sockaddr_forms() -> None:
    assert (
        parse_sockaddr('{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("0.0.0.0")}')
        == "0.0.0.0:80"
    )
    assert parse_sockaddr('{sa_family=AF_UNIX, sun_path=@"abstract"}') == "@abstract"
    assert parse_sockaddr("{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}") == "AF_NETLINK"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12), max_size=5
    )
)
def test_quoted_strings_round_trip(words: list[str]) -> None:
    """What strace would print for these strings splits and unquotes back to them."""

    def quote(s: str) -> str:
        out = []
        for b in s.encode():
            c = chr(b)
            if c in '"\\':
                out.append("\\" + c)
            elif 32 <= b < 127:
                out.append(c)
            else:
                out.append(f"\\{b:03o}" if b % 2 else f"\\x{b:02x}")  # strace uses both forms
        return '"' + "".join(out) + '"'

    text = ", ".join(quote(w) for w in words) + ") = 0"
    args, tail = split_args(text)
    assert [unquote(a) for a in args] == words
    assert tail == " = 0"


def test_phases_and_outcomes() -> None:
    """Calls belong to the phase they were entered in; each keeps its result."""
    t = parse_strace(
        lines(
            '4 10.0 execve("/srv", ["srv"], 0x1 /* 0 vars */) = 0\n'
            '4 10.1 openat(AT_FDCWD, "/sys/devices/system/cpu/online", O_RDONLY|O_CLOEXEC)'
            " = -1 ENOENT (No such file or directory)\n"
            '4 10.2 openat(AT_FDCWD, "/etc/shadow", O_RDONLY) = -1 EACCES (Permission denied)\n'
            '4 10.3 openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3\n'
            "4 10.4 pkey_alloc(0, PKEY_DISABLE_WRITE) = -1 EINVAL (Invalid argument)\n"
            "4 10.5 accept4(3, NULL, NULL, SOCK_CLOEXEC <unfinished ...>\n"
            "4 20.5 <... accept4 resumed>) = 4\n"
            "4 20.6 getppid() = -1 ENOSYS (Function not implemented) (INJECTED)\n"
            "4 20.7 accept4(3, NULL, NULL, SOCK_CLOEXEC <unfinished ...>\n"
            "4 30.1 <... accept4 resumed>) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)\n"
            "4 30.2 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=0, si_uid=0} ---\n"
            "4 30.3 rt_sigreturn({mask=[]}) = 43\n"
            "4 30.4 tgkill(4, 4, SIGTERM) = 0\n"
            "4 30.5 exit_group(0) = ?\n"
            "4 30.6 +++ exited with 0 +++\n"
        ),
        serving_from=20.0,
        stopping_from=30.0,
    )
    assert t.start_ts == 10.0
    assert t.outcomes["startup"]["openat"] == {"ENOENT": 1, "EACCES": 1, "ok": 1}
    assert t.outcomes["startup"]["pkey_alloc"] == {"EINVAL": 1}
    assert t.outcomes["startup"]["accept4"] == {"ok": 1}  # entered before the probes, returned during
    assert t.outcomes["serving"] == {
        "getppid": {"ENOSYS": 1},
        "accept4": {"interrupted": 1},
    }
    assert t.outcomes["shutdown"] == {"rt_sigreturn": {"ok": 1}, "tgkill": {"ok": 1}, "exit_group": {"ok": 1}}
    assert t.injected == (("getppid", 1),)
    files = {f.path: f for f in t.files}
    assert not files["/sys/devices/system/cpu/online"].found
    assert files["/sys/devices/system/cpu/online"].error == "ENOENT"
    shadow = files["/etc/shadow"]
    assert shadow.found and shadow.error == "EACCES" and shadow.phase == "startup"
    assert files["/etc/passwd"].error == ""


def test_without_phase_bounds_everything_is_startup() -> None:
    t = parse_strace(lines('4 1.0 execve("/a", ["a"], 0x1 /* 0 vars */) = 0\n4 2.0 getpid() = 4\n'))
    assert set(t.outcomes) == {"startup"} and t.outcomes["startup"]["getpid"] == {"ok": 1}
