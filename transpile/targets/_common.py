"""Helpers shared by the target emitters: which files a recipe ships, argv rewrites, text formats.

Everything here is pure: it reads ConversionFacts and returns new values, never touches the disk.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping

from transpile.errors import DockuniError
from transpile.model.conversion import ConversionFacts, Recipe
from transpile.model.image import is_root_user
from transpile.passes import rewrites

# Pseudo filesystems the kernel (or the unikernel) provides: never copied into a root filesystem.
VIRTUAL_ROOTS: tuple[str, ...] = ("/proc", "/sys", "/dev")

# Trace operations that read a file's content (stat/access only look at metadata).
CONTENT_OPS: frozenset[str] = frozenset({"open", "exec", "mmap", "readlink"})


def clean_path(path: str) -> str:
    """An absolute, normalised path, or a DockuniError: recipes must never name ``..`` or relative paths."""
    if not path.startswith("/") or "\0" in path or "\n" in path:
        raise DockuniError(f"refusing to put {path!r} into a recipe: not a plain absolute path")
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if any(part == ".." for part in path.split("/")):
        raise DockuniError(f"refusing to put {path!r} into a recipe: it contains '..'")
    return norm


def under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def program_argv(facts: ConversionFacts) -> tuple[str, ...]:
    """The argv the kernel finally runs, with the program as an absolute image path.

    The entrypoint chain's last step is the ELF that execve loads (a script's interpreter, with the
    script as its argument); its ``path`` is the PATH lookup's result. Without a chain, a relative
    ``argv[0]`` is replaced by the closure's program path.
    """
    steps = facts.chain.steps if facts.chain is not None else ()
    if steps and steps[-1].kind == "elf":
        last = steps[-1]
        path = last.path or last.resolved
        if path.startswith("/") and last.argv:
            return (path, *last.argv[1:])
    argv = tuple(facts.argv or facts.config.argv)
    if argv and not argv[0].startswith("/") and facts.closure is not None and facts.closure.program:
        prog = facts.closure.program.path
        if prog.startswith("/"):
            return (prog, *argv[1:])
    return argv


def closure_paths(facts: ConversionFacts) -> tuple[str, ...]:
    """The program, its loader and its exact DT_NEEDED closure, as absolute paths in the image: the
    program, the interpreter (under its PT_INTERP path) and each library under the path the loader
    found it by."""
    closure = facts.closure
    paths: list[str] = []
    argv = program_argv(facts)
    if argv and argv[0].startswith("/"):
        paths.append(argv[0])
    if closure is not None:
        refs = [r for r in (closure.program, closure.interpreter) if r is not None]
        refs += list(closure.files) + [lib.file for lib in closure.libraries]
        paths += [r.path for r in refs]
    return _unique(clean_path(p) for p in paths if p)


def loader_path(facts: ConversionFacts) -> str:
    if facts.closure is not None and facts.closure.interpreter is not None:
        return facts.closure.interpreter.path
    for path in closure_paths(facts):
        if posixpath.basename(path).startswith(("ld-linux", "ld-musl")):
            return path
    return ""


def written_paths(facts: ConversionFacts) -> tuple[str, ...]:
    """Paths the trace saw written, created or removed (outside the pseudo filesystems)."""
    if facts.trace is None:
        return ()
    out = [clean_path(f.path) for f in facts.trace.files if f.write and f.path.startswith("/")]
    return _unique(p for p in out if not under(p, VIRTUAL_ROOTS))


def written_dirs(facts: ConversionFacts, *, skip: Iterable[str] = ()) -> tuple[str, ...]:
    """The smallest set of directories that holds every path the app wrote (minus ``skip``).

    A created directory counts as a write into its parent. "/" in the result means the app writes at
    the top of the filesystem, which no tmpfs or volume can cover.
    """
    skipped = set(skip)
    dirs = {posixpath.dirname(p) for p in written_paths(facts) if p not in skipped}
    return tuple(sorted(d for d in dirs if not any(d != o and under(d, [o]) for o in dirs)))


def symlink_targets(facts: ConversionFacts) -> dict[str, str]:
    """``path -> target`` for the image's symlinks to the container's output streams."""
    return dict(facts.stdio_symlinks)


def log_redirects(facts: ConversionFacts) -> tuple[str, ...]:
    """Files that are symlinks to /dev/stdout, /dev/stderr or /proc/self/fd/*: Unikraft cannot open those."""
    links = symlink_targets(facts)
    return tuple(sorted(p for p, t in links.items() if t.startswith(("/dev/", "/proc/self/fd/"))))


def runtime_paths(facts: ConversionFacts) -> tuple[str, ...]:
    """Files the app read at run time (configs, data, modules, dlopen'ed libraries), never ones it wrote.

    ``facts.runtime_files`` (regular files only, chosen by the pipeline that sees the rootfs) wins;
    without it, files are taken from the trace, dropping any path that is a parent of another (a
    directory the app listed) so that a recipe never copies a whole tree by accident.
    """
    written = set(written_paths(facts))
    if facts.runtime_files:
        candidates = list(facts.runtime_files)
    elif facts.trace is not None:
        candidates = [f.path for f in facts.trace.files if f.found and not f.write and f.op in CONTENT_OPS]
        candidates += list(facts.trace.dlopened)
    else:
        candidates = []
    paths = [clean_path(p) for p in candidates if p.startswith("/")]
    paths = [p for p in paths if not under(p, VIRTUAL_ROOTS) and p not in written and p != "/"]
    ancestors: set[str] = set()
    for p in set(paths):
        d = posixpath.dirname(p)
        while d not in ("/", ""):
            ancestors.add(d)
            d = posixpath.dirname(d)
    redirected = set(log_redirects(facts))
    return _unique(p for p in paths if p not in ancestors and p not in redirected)


def runtime_dirs(facts: ConversionFacts) -> tuple[str, ...]:
    """Directories that must exist even if nothing in them is shipped (the ones the app listed)."""
    return _unique(clean_path(p) for p in facts.runtime_dirs if p.startswith("/") and p != "/")


def shipped_files(facts: ConversionFacts) -> tuple[str, ...]:
    """Closure + runtime files, sorted: exactly what a unikernel root filesystem needs."""
    files = set(closure_paths(facts)) | set(runtime_paths(facts))
    loader = loader_path(facts)
    if "ld-linux" in posixpath.basename(loader):
        files.add("/etc/ld.so.cache")  # glibc's loader reads it first; Unikraft's catalog ships it too
    files -= set(written_paths(facts))
    files -= set(log_redirects(facts))
    return tuple(sorted(files))


def listening_ports(facts: ConversionFacts) -> tuple[tuple[int, str], ...]:
    """(port, protocol) the app serves: what the trace saw listening, else the image's EXPOSE."""
    seen: dict[int, str] = {}
    if facts.trace is not None and facts.trace.listening_ports:
        for port in facts.trace.listening_ports:
            seen.setdefault(port, "tcp")
        for sock in facts.trace.sockets:
            if sock.type == "SOCK_DGRAM" and sock.bound:
                m = re.search(r":(\d+)$", sock.bound)
                if m and int(m.group(1)) in seen:
                    seen[int(m.group(1))] = "udp"
    else:
        for p in facts.config.exposed_ports:
            seen.setdefault(p.number, p.protocol)
    return tuple(sorted(seen.items()))


def environment(facts: ConversionFacts) -> tuple[tuple[str, str], ...]:
    return tuple(facts.config.env)


def workdir(facts: ConversionFacts) -> str:
    return facts.config.working_dir or "/"


def app_name(facts: ConversionFacts) -> str:
    """A short name for the app: the image repository's last component, else the program's name."""
    ref = facts.image_reference
    base = ""
    if ref and not ref.startswith("sha256:"):
        base = ref.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    if not base and program_argv(facts):
        base = posixpath.basename(program_argv(facts)[0])
    name = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")
    return name or "app"


def single_process_argv(argv: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Rewrite argv so the server stays one process in the foreground; returns (argv, notes).

    The rewrites are transpile.passes.rewrites' (the pipeline traces the same argv).
    """
    out = rewrites.single_process(argv)
    return out.argv, out.notes


def verdict_notes(facts: ConversionFacts, target: str) -> tuple[str, ...]:
    v = facts.verdict(target)
    if v is None:
        return (f"no {target} verdict was computed: this recipe is untested against {target}'s limits",)
    if v.ok:
        return ()
    return tuple(f"blocker: {b}" for b in v.blockers) or (f"{target} verdict: not supported",)


def dropped_user_note(facts: ConversionFacts, kernel: str) -> tuple[str, ...]:
    """Single-user kernels run everything as one identity: say that the image's USER is not kept."""
    user = facts.config.user
    if not is_root_user(user):
        return (f"{kernel} has no users: USER {user} is dropped",)
    return ()


def yaml_str(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string syntax is a subset of it."""
    return json.dumps(value, ensure_ascii=False)


def yaml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(yaml_str(v) for v in values) + "]"


def sh_words(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def recipe(
    target: str,
    files: Mapping[str, str | bytes],
    *,
    executable: Iterable[str] = (),
    notes: Iterable[str] = (),
    build_command: str = "",
    run_command: str = "",
) -> Recipe:
    encoded = {k: (v.encode() if isinstance(v, str) else v) for k, v in files.items()}
    return Recipe(
        target=target,
        files=tuple(sorted(encoded.items())),
        executable=tuple(sorted(executable)),
        notes=tuple(notes),
        build_command=build_command,
        run_command=run_command,
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def files_manifest(facts: ConversionFacts, *, header: str) -> str:
    """``files.txt``: one absolute path per line; a trailing ``/`` marks a directory to create."""
    dirs = sorted(set(runtime_dirs(facts)) | ({workdir(facts)} - {"/"}))
    lines = [f"# {header}", *shipped_files(facts), *(d.rstrip("/") + "/" for d in dirs)]
    return "\n".join(lines) + "\n"


def assemble_script(image: str, dest: str, *, what: str, program: str = "", program_copy: str = "") -> str:
    """A POSIX sh script that copies exactly the paths in files.txt out of IMAGE into DEST.

    It reads the image through the Docker engine (``docker create`` + ``docker cp -L``, which resolves
    symlinks inside the image, never on the host), refuses any path that is not plain and absolute,
    fills a temporary directory next to DEST and renames it into place only when every copy worked.
    ``program_copy`` (relative to the script) receives a second copy of the program (ops packages
    keep the program beside their sysroot).
    """
    copy_program = ""
    if program and program_copy:
        copy_program = (
            f"prog={shlex.quote(program)}\n"
            f'mkdir -p "$(dirname "$here/{program_copy}")"\n'
            f'cp "$tmp$prog" "$here/{program_copy}.tmp"\n'
            f'mv "$here/{program_copy}.tmp" "$here/{program_copy}"\n'
        )
    return f"""#!/bin/sh
# Generated by dockuni: assemble {what} from the image.
# Usage: ./assemble.sh [IMAGE] [DEST]     (IMAGE defaults to the converted image; a `docker save` tar
# is loaded first with `docker load -i TAR`, then pass the image name it prints.)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
image=${{1:-{shlex.quote(image)}}}
dest=${{2:-$here/{dest}}}
docker=${{DOCKER:-docker}}
parent=$(dirname "$dest")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.assemble.XXXXXX")
cid=""
cleanup() {{
    if [ -n "$cid" ]; then "$docker" rm -f "$cid" >/dev/null 2>&1 || true; fi
    rm -rf "$tmp"
}}
trap cleanup EXIT INT TERM
cid=$("$docker" create --entrypoint /dockuni-assemble-never-runs "$image")
n=0
while IFS= read -r path || [ -n "$path" ]; do
    case "$path" in ''|'#'*) continue ;; esac
    case "$path" in
        /*) ;;
        *) echo "assemble.sh: refusing relative path: $path" >&2; exit 2 ;;
    esac
    case "$path/" in
        */../*|*/./*) echo "assemble.sh: refusing path with . or ..: $path" >&2; exit 2 ;;
    esac
    case "$path" in
        */) mkdir -p "$tmp$path"; continue ;;
    esac
    mkdir -p "$tmp$(dirname "$path")"
    "$docker" cp -L "$cid:$path" "$tmp$path"
    n=$((n + 1))
done < "$here/files.txt"
{copy_program}rm -rf "$dest"
mv "$tmp" "$dest"
echo "assembled $n files into $dest"
"""
