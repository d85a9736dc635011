"""Users and groups of an image: Docker's USER resolved in the image's own /etc/passwd and /etc/group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transpile.image.paths import resolve_in_root


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    host = resolve_in_root(rootfs, f"/etc/{name}")
    if host is None or not host.is_file():
        return []
    lines = host.read_text(errors="replace").splitlines()
    return [ln.split(":") for ln in lines if ln and not ln.startswith("#")]


@dataclass(frozen=True)
class UserIds:
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary groups from /etc/group
    home: str = ""  # the passwd entry's home directory
    problem: str = ""  # non-empty: the USER does not resolve in this image


def resolve_user(rootfs: Path, user: str) -> UserIds:
    """Docker's USER syntax (name|uid[:group|gid]) resolved in the image's /etc/passwd and /etc/group as
    runc does: a numeric uid need not exist (its gid is then 0), a name must."""
    if not user:
        return UserIds(0, 0, ())
    name, _, group = user.partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups_db = _read_db(rootfs, "group")
    uid: int | None = None
    gid: int | None = None
    login = ""
    if name.isdigit():
        uid = int(name)
        for row in passwd:
            if len(row) > 3 and row[2] == name:
                login, gid = row[0], int(row[3]) if row[3].isdigit() else 0
                break
    else:
        for row in passwd:
            if len(row) > 3 and row[0] == name and row[2].isdigit():
                uid, login = int(row[2]), name
                gid = int(row[3]) if row[3].isdigit() else 0
                break
        if uid is None:
            return UserIds(0, 0, (), problem=f"user {name!r} not found in the image's /etc/passwd")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [row for row in groups_db if len(row) > 2 and row[0] == group and row[2].isdigit()]
            if not match:
                return UserIds(0, 0, (), problem=f"group {group!r} not found in the image's /etc/group")
            gid = int(match[0][2])
    gid = gid if gid is not None else 0
    extra = tuple(
        int(row[2])
        for row in groups_db
        if login and len(row) > 3 and row[2].isdigit() and login in row[3].split(",") and int(row[2]) != gid
    )
    home = next((row[5] for row in passwd if len(row) > 5 and row[2] == str(uid)), "")
    return UserIds(uid, gid, extra, home)
