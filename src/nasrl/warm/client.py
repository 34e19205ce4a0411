"""The warm-start client (see __init__.py): hand a command to the server, or say it cannot.

Imports nothing heavy: it runs in every job before anything else.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nasrl.warm.server import ACCEPTED, HEADER

ENV = "NASRL_WARM_START"
START_SECONDS = 180.0  # the server's imports, on a busy machine
MAX_SOCKET_PATH = 100  # bytes; Linux allows 107 in a Unix socket's address


def enabled() -> bool:
    """On for the workflow's jobs (which set NASRL_WARM_START=1) on Linux; never inside a SLURM
    job, whose node and allocation end with the job. Not on macOS, where a process that has
    loaded system frameworks (torch does) is not safe to fork."""
    return (os.environ.get(ENV) == "1" and "SLURM_JOB_ID" not in os.environ
            and sys.platform.startswith("linux"))


def code_version() -> str:
    """Changes when nasrl's code, torch or Lightning change: a server runs only the code it
    imported, so another version gets a server of its own."""
    import nasrl

    stamp = [sys.executable]
    for root in [Path(nasrl.__file__).parent] + [
            Path(spec.origin).parent for spec in map(importlib.util.find_spec, ("torch", "pytorch_lightning"))
            if spec is not None and spec.origin]:
        files = root.rglob("*.py") if root.name == "nasrl" else [root / "__init__.py"]
        stamp += [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sorted(files)]
    return hashlib.sha1("\n".join(stamp).encode()).hexdigest()[:16]


def socket_path() -> Path:
    folder = Path(tempfile.gettempdir()) / f"nasrl-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{code_version()}.sock"


def connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        return conn
    except OSError:
        conn.close()
        return None


def start_server(path: Path) -> socket.socket | None:
    """Connect to the server at ``path``, starting it if none answers (one starter at a time)."""
    with open(f"{path}.start", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = connect(path)
        if conn is not None:
            return conn
        with open(f"{path}.log", "ab") as log:
            server = subprocess.Popen([sys.executable, "-m", "nasrl.warm.server", str(path)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and server.poll() is None:  # a server that failed: run here
            conn = connect(path)
            if conn is not None:
                return conn
            time.sleep(0.05)
    return None


def forward(argv: list[str]) -> int | None:
    """Run ``nasrl argv`` in a warm worker; its exit status, or None to run in this process."""
    if not enabled():
        return None
    path = socket_path()
    if len(str(path)) > MAX_SOCKET_PATH:  # too long for a Unix socket's address: run here
        return None
    conn = connect(path) or start_server(path)
    if conn is None:
        return None
    with conn:
        umask = os.umask(0)
        os.umask(umask)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask}).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            message = HEADER.pack(len(request)) + request
            sent = socket.send_fds(conn, [message], [0, 1, 2])
            conn.sendall(message[sent:])
            if conn.recv(1) != ACCEPTED:  # the server was closing: run here instead
                return None
        except OSError:
            return None
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
    try:
        return int(json.loads(reply)["code"])
    except (ValueError, KeyError):
        print("nasrl: the warm-start server ended before the command did", file=sys.stderr)
        return 1
