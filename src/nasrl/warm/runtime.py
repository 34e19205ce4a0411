"""The warm start's private runtime folder, and the checks that keep other users out of it.

Warm start hands a job's argv, environment and open files to a server over a Unix socket, so
the socket, the folder it lies in and every file there must belong to this user alone. Nothing
here trusts a path it did not just check: the folder is checked with ``lstat`` after creation
(owned by this user, mode 0700, not a symlink), files are opened with ``O_NOFOLLOW`` and checked
with ``fstat``, and the process at the other end of a socket is identified by the kernel
(``SO_PEERCRED``). Any doubt raises :class:`Untrusted`; the caller then runs the job in-process.
docs/security.md has the threat model.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import tempfile
from pathlib import Path

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class Untrusted(Exception):
    """Something in the warm start's runtime folder is not this user's alone."""


def folder() -> Path:
    """``$XDG_RUNTIME_DIR/nasrl-warm`` where a login session provides one (a per-user tmpfs),
    else ``$TMPDIR/nasrl-warm-<uid>``; created 0700 and checked either way."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        path = Path(runtime) / "nasrl-warm"
    else:
        path = Path(tempfile.gettempdir()) / f"nasrl-warm-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass  # checked below like a new one: another user may have made it first
    except OSError as err:
        raise Untrusted(f"cannot create {path}: {err.strerror}") from None
    check_private(path)
    return path


def check_private(path: Path) -> None:
    try:
        info = os.lstat(path)
    except OSError as err:
        raise Untrusted(f"cannot check {path}: {err.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise Untrusted(f"{path} is not a folder")
    if info.st_uid != os.getuid():
        raise Untrusted(f"{path} belongs to uid {info.st_uid}, not to this user (uid {os.getuid()})")
    if info.st_mode & 0o077:
        raise Untrusted(f"{path} has mode {stat.S_IMODE(info.st_mode):04o}; expected 0700")


def open_private(path: Path, flags: int) -> int:
    """A file descriptor of this user's own regular file ``path`` (created 0600 if missing);
    never follows a symlink."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as err:
        raise Untrusted(f"cannot open {path}: {err.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise Untrusted(f"{path} is not a regular file of this user")
    os.set_blocking(fd, True)
    return fd


def peer(conn: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket, from the kernel."""
    pid, uid, _gid = _PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return pid, uid
