"""The shared-library closure of a program, resolved statically as the image's loader would.

glibc (``elf/dl-load.c: _dl_map_object``), for each DT_NEEDED of an object, in breadth-first load
order (``_dl_map_object_deps``):

1. a name already loaded (same SONAME or same name) is reused; a name with ``/`` is a path;
2. unless the requesting object has DT_RUNPATH: DT_RPATH of the requester, then of the object that
   loaded it, and so on up to the executable (an object's RPATH is ignored when it has a RUNPATH,
   ``elf/get-dynamic-info.h``);
3. LD_LIBRARY_PATH (from the image's ENV);
4. DT_RUNPATH of the requester only (not inherited);
5. ``/etc/ld.so.cache`` unless the requester has DF_1_NODEFLIB;
6. the default directories, unless DF_1_NODEFLIB.

``$ORIGIN``/``${ORIGIN}``, ``$LIB`` and ``$PLATFORM`` are expanded in RPATH/RUNPATH. When the
image has no ld.so.cache, ``/etc/ld.so.conf`` (with ``include`` globs) stands in for it and hits are
marked ``via="ld.so.conf"``: the real loader would not find those until ``ldconfig`` runs.

musl (``ldso/dynlink.c: load_library``): LD_LIBRARY_PATH, then the RPATH/RUNPATH of the requester and
each object up its ``needed_by`` chain, then ``/etc/ld-musl-x86_64.path`` or
``/lib:/usr/local/lib:/usr/lib``; libc/libm/libpthread/... names are the loader itself.

Libraries opened with dlopen() at run time are out of reach of static analysis; the trace finds them.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from transpile.elf import ElfError, read_elf
from transpile.image.ldcache import LdCacheError, cache_lookup, read_ld_cache, read_ld_so_conf
from transpile.image.paths import PathLoopError, resolve_in_root, resolve_parts
from transpile.model.closure import Closure, FileRef, Library, Missing
from transpile.model.elf import ElfFacts

# ld.so's "system search path" (`ld.so --help`): Debian's multiarch glibc, else the lib64 layout
DEBIAN_DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib")
LIB64_DEFAULT_DIRS = ("/lib64", "/usr/lib64")
MUSL_DEFAULT_DIRS = ("/lib", "/usr/local/lib", "/usr/lib")
MUSL_BUILTIN = {"libc", "libdl", "libm", "libpthread", "librt", "libutil", "libxnet", "libcrypt", "libresolv"}
MAX_OBJECTS = 4096










def file_ref(rootfs: Path, path: str) -> FileRef | None:
    try:
        parts, links, exists = resolve_parts(rootfs, path)
    except PathLoopError:
        return None
    host = Path(rootfs, *parts)
    if not exists or not host.is_file():
        return None
    return FileRef(path, "/" + "/".join(parts), tuple(links), host.stat().st_size)


@dataclass
class _Obj:
    ref: FileRef
    facts: ElfFacts
    loader: _Obj | None  # the object whose DT_NEEDED loaded this one (glibc l_loader)
    origin: str  # $ORIGIN


class _Resolver:
    def __init__(self, rootfs: Path, env: dict[str, str], musl: bool):
        self.rootfs = rootfs
        self.musl = musl
        multiarch = resolve_in_root(rootfs, "/lib/x86_64-linux-gnu") is not None
        self.lib = "lib/x86_64-linux-gnu" if multiarch else "lib64"
        self.default_dirs = DEBIAN_DEFAULT_DIRS if multiarch else LIB64_DEFAULT_DIRS
        self.ld_library_path = [d for d in env.get("LD_LIBRARY_PATH", "").replace(";", ":").split(":") if d]
        self.cache_state = "none"
        self.cache_entries = None
        self.conf_dirs: tuple[str, ...] = ()
        self.musl_dirs: tuple[str, ...] = MUSL_DEFAULT_DIRS
        if musl:
            pathfile = resolve_in_root(rootfs, "/etc/ld-musl-x86_64.path")
            if pathfile is not None and pathfile.is_file():
                text = pathfile.read_text("utf-8", "replace")[:65536]
                self.musl_dirs = tuple(d.strip() for d in text.replace("\n", ":").split(":") if d.strip())
                self.cache_state = "ld-musl-x86_64.path"
            return
        try:
            self.cache_entries = read_ld_cache(rootfs)
            if self.cache_entries is not None:
                self.cache_state = "ld.so.cache"
        except LdCacheError as err:
            self.cache_state = f"corrupt: {err}"
        if self.cache_entries is None:
            self.conf_dirs = read_ld_so_conf(rootfs)
            if self.conf_dirs:
                self.cache_state = "ld.so.conf"

    def expand(self, entry: str, origin: str) -> str | None:
        for token, value in (
            ("${ORIGIN}", origin),
            ("$ORIGIN", origin),
            ("${LIB}", self.lib),
            ("$LIB", self.lib),
            ("${PLATFORM}", "x86_64"),
            ("$PLATFORM", "x86_64"),
        ):
            entry = entry.replace(token, value)
        if "$" in entry:
            return None  # an unknown token: glibc drops the whole entry
        return entry

    def probe(self, dirs: list[str], name: str, searched: list[str], cwd: str = "/") -> FileRef | None:
        for d in dirs:
            full = os.path.normpath(os.path.join(cwd, d, name))
            searched.append(full)
            ref = file_ref(self.rootfs, full)
            if ref is not None:
                return ref
        return None

    def rpath_dirs(self, obj: _Obj) -> list[str]:
        source = obj.facts.runpath if (self.musl and obj.facts.runpath) else obj.facts.rpath
        if not self.musl and obj.facts.runpath:
            return []  # glibc ignores DT_RPATH when DT_RUNPATH is present
        return [d for d in (self.expand(e, obj.origin) for e in source) if d is not None]

    def find(self, name: str, req: _Obj) -> tuple[FileRef | None, str, list[str]]:
        searched: list[str] = []
        if "/" in name:
            return file_ref(self.rootfs, name), "path", [name]
        if self.musl:
            return self._find_musl(name, req, searched)
        if not req.facts.runpath:
            hit = self._probe_rpaths(req, name, searched)
            if hit:
                return hit, "rpath", searched
        hit = self.probe(self.ld_library_path, name, searched)
        if hit:
            return hit, "ld_library_path", searched
        runpath = [d for d in (self.expand(e, req.origin) for e in req.facts.runpath) if d is not None]
        hit = self.probe(runpath, name, searched)
        if hit:
            return hit, "runpath", searched
        if self.cache_entries is not None:
            path = cache_lookup(self.cache_entries, name)
            if (
                path is not None
                and req.facts.nodeflib
                and any(path.startswith(d + "/") for d in self.default_dirs)
            ):
                searched.append(f"ld.so.cache:{path} (refused: DF_1_NODEFLIB)")
                path = None
            if path is not None:
                searched.append(f"ld.so.cache:{path}")
                ref = file_ref(self.rootfs, path)
                if ref is not None:
                    return ref, "ld.so.cache", searched
        elif not req.facts.nodeflib:
            # a conf dir that is also a default dir is searched by the loader anyway: leave it to the
            # default search so that only real ld.so.conf-only hits are marked (and warned about)
            extra_dirs = [d for d in self.conf_dirs if d not in self.default_dirs]
            hit = self.probe(extra_dirs, name, searched)
            if hit:
                return hit, "ld.so.conf", searched
        if req.facts.nodeflib:
            return None, "", searched
        hit = self.probe(list(self.default_dirs), name, searched)
        return hit, "default", searched

    def _find_musl(self, name: str, req: _Obj, searched: list[str]) -> tuple[FileRef | None, str, list[str]]:
        # musl: LD_LIBRARY_PATH comes before the RPATHs, and RUNPATH is treated as RPATH
        hit = self.probe(self.ld_library_path, name, searched)
        if hit:
            return hit, "ld_library_path", searched
        hit = self._probe_rpaths(req, name, searched)
        if hit:
            return hit, "rpath", searched
        hit = self.probe(list(self.musl_dirs), name, searched)
        return hit, "musl-path", searched

    def _probe_rpaths(self, req: _Obj, name: str, searched: list[str]) -> FileRef | None:
        """The object's RPATH, then each loader's up the chain that loaded it."""
        chain: _Obj | None = req
        while chain is not None:
            hit = self.probe(self.rpath_dirs(chain), name, searched)
            if hit:
                return hit
            chain = chain.loader
        return None


def _origin(rootfs: Path, ref: FileRef, main: bool) -> str:
    # the executable's origin comes from /proc/self/exe (symlinks resolved); a library's from the
    # path it was found under
    return os.path.dirname(ref.realpath if main else ref.path)


def compute_closure(rootfs: Path, program: str, env: dict[str, str] | None = None) -> Closure:
    """Resolve the DT_NEEDED closure of ``program`` (an image path) inside ``rootfs``."""
    env = env or {}
    errors: list[str] = []
    ref = file_ref(rootfs, program)
    if ref is None:
        return Closure(
            None, "none", None, (), (Missing(program, "", (program,), "program not found"),), (), (), "none"
        )
    try:
        facts = read_elf(Path(rootfs, ref.realpath.lstrip("/")), ref.path)
    except ElfError as err:
        return Closure(ref, "none", None, (), (), (), (str(err),), "none")
    if facts.static:
        return Closure(ref, "static", None, (), (), (), (), "none", ())
    musl = "musl" in facts.hints
    resolver = _Resolver(rootfs, env, musl)
    interp_ref = file_ref(rootfs, facts.interpreter) if facts.interpreter else None
    missing: list[Missing] = []
    if facts.interpreter and interp_ref is None:
        missing.append(
            Missing(facts.interpreter, ref.path, (facts.interpreter,), "program interpreter not found")
        )
    main = _Obj(ref, facts, None, _origin(rootfs, ref, True))
    loaded: list[_Obj] = [main]
    by_real: dict[str, _Obj] = {ref.realpath: main}
    by_name: dict[str, _Obj] = {}
    if interp_ref is not None:
        # the loader is mapped first and answers to its SONAME (ld-linux-x86-64.so.2)
        try:
            ifacts = read_elf(Path(rootfs, interp_ref.realpath.lstrip("/")), interp_ref.path)
            iobj = _Obj(interp_ref, ifacts, None, os.path.dirname(interp_ref.path))
            by_real[interp_ref.realpath] = iobj
            for n in (ifacts.soname, os.path.basename(interp_ref.path)):
                if n:
                    by_name[n] = iobj
        except ElfError as err:
            errors.append(str(err))
    libraries: list[Library] = []
    cycles: list[tuple[str, str]] = []
    queue: deque[_Obj] = deque([main])
    while queue:
        obj = queue.popleft()
        for name in obj.facts.needed:
            if musl and name.split(".so", 1)[0] in MUSL_BUILTIN and interp_ref is not None:
                continue  # musl's libc.so is the dynamic loader itself
            hit = by_name.get(name)
            if hit is None:
                ref2, via, searched = resolver.find(name, obj)
                if ref2 is None:
                    if all(m.name != name for m in missing):
                        missing.append(Missing(name, obj.ref.path, tuple(searched)))
                    continue
                hit = by_real.get(ref2.realpath)
                if hit is None:
                    try:
                        lfacts = read_elf(Path(rootfs, ref2.realpath.lstrip("/")), ref2.path)
                    except ElfError as err:
                        errors.append(str(err))
                        missing.append(Missing(name, obj.ref.path, tuple(searched), f"unreadable: {err}"))
                        continue
                    if lfacts.machine != facts.machine or lfacts.elf_class != facts.elf_class:
                        # ld.so skips objects of the wrong class/machine and keeps searching; we report
                        errors.append(f"{ref2.path}: {lfacts.machine}/{lfacts.elf_class}-bit, not loadable")
                    hit = _Obj(ref2, lfacts, obj, _origin(rootfs, ref2, False))
                    by_real[ref2.realpath] = hit
                    loaded.append(hit)
                    if len(loaded) > MAX_OBJECTS:
                        errors.append(f"more than {MAX_OBJECTS} libraries; stopped")
                        queue.clear()
                        break
                    libraries.append(Library(name, ref2, via, obj.ref.path, lfacts))
                    queue.append(hit)
                by_name[name] = hit
                if hit.facts.soname:
                    by_name.setdefault(hit.facts.soname, hit)
            # an edge back to an ancestor in the loader chain is a dependency cycle (legal for ld.so)
            anc: _Obj | None = obj
            while anc is not None:
                if anc is hit:
                    cycles.append((obj.ref.path, name))
                    break
                anc = anc.loader
    return Closure(
        program=ref,
        loader="musl" if musl else "glibc",
        interpreter=interp_ref,
        libraries=tuple(libraries),
        missing=tuple(missing),
        cycles=tuple(cycles),
        errors=tuple(errors),
        cache=resolver.cache_state,
    )
