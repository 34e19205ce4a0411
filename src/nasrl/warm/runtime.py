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
import struct
import tempfile
from pathlib import Path

# The checks are shared with the GPU leases (nasrl.training.gpu_lease), below the CLI.
from nasrl.private_folder import Untrusted, check_private, make_private, open_private

__all__ = ["Untrusted", "check_private", "folder", "open_private", "peer"]

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def folder() -> Path:
    """``$XDG_RUNTIME_DIR/nasrl-warm`` where a login session provides one (a per-user tmpfs),
    else ``$TMPDIR/nasrl-warm-<uid>``; created 0700 and checked either way."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        path = Path(runtime) / "nasrl-warm"
    else:
        path = Path(tempfile.gettempdir()) / f"nasrl-warm-{os.getuid()}"
    return make_private(path)


def peer(conn: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket, from the kernel."""
    pid, uid, _gid = _PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return pid, uid
