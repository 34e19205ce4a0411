"""Folders and files that belong to this user alone: the checks warm start and GPU leases share.

Warm start's socket (nasrl.warm.runtime) and the GPU lease files (nasrl.training.gpu_lease) lie
in a folder other users must not be able to write: another user who could create or replace a
file there could receive a job's environment, or take and hold every GPU slot. Nothing here
trusts a path it did not just check: a folder is checked with ``lstat`` after creation (owned by
this user, mode 0700, not a symlink), files are opened with ``O_NOFOLLOW`` and checked with
``fstat``. Any doubt raises :class:`Untrusted`. It imports nothing of nasrl, so every layer can
use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class Untrusted(Exception):
    """A folder or file that is not this user's alone."""


def make_private(path: Path) -> Path:
    """``path`` created 0700 if missing, then checked either way."""
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
