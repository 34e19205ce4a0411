"""The warm-start client (see __init__.py): hand a command to the server, or say it cannot.

Imports nothing heavy: it runs in every job before anything else. Whatever it cannot trust or
use (a runtime folder that is not private, a socket served by another user, a full disk) turns
warm start off for the job with one warning line, and the job runs in its own process.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from nasrl.warm.jobstate import describe_job
from nasrl.warm.runtime import Untrusted, folder, open_private, peer
from nasrl.warm.server import ACCEPTED, HEADER
from nasrl.warm.version import code_version

ENV = "NASRL_WARM_START"
OWNER_ENV = "NASRL_WARM_OWNER"  # pid of the workflow run whose jobs share a server
START_SECONDS = 180.0  # the server's imports, on a busy machine
MAX_SOCKET_PATH = 100  # bytes; Linux allows 107 in a Unix socket's address
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def enabled() -> bool:
    """On for the workflow's jobs (which set NASRL_WARM_START=1) on Linux; never inside a SLURM
    job, whose node and allocation end with the job. Not on macOS, where a process that has
    loaded system frameworks (torch does) is not safe to fork."""
    return (os.environ.get(ENV) == "1" and "SLURM_JOB_ID" not in os.environ
            and sys.platform.startswith("linux"))


def owner() -> int | None:
    value = os.environ.get(OWNER_ENV, "")
    return int(value) if value.isdigit() and int(value) > 1 else None


def socket_path() -> Path:
    """The server's socket for this code version (and workflow run, when one owns it)."""
    run = owner()
    return folder() / (f"{code_version()}-{run}.sock" if run else f"{code_version()}.sock")


def connect(path: Path) -> socket.socket | None:
    """A connection to a server of this user's at ``path``; None when nothing listens there."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    _, uid = peer(conn)
    if uid != os.getuid():  # never send a job's environment and files to another user
        conn.close()
        raise Untrusted(f"{path} is served by uid {uid}, not by this user (uid {os.getuid()})")
    return conn


def start_server(path: Path) -> socket.socket | None:
    """Connect to the server at ``path``, starting it if none answers (one starter at a time)."""
    lock = open_private(Path(f"{path}.start"), os.O_WRONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = connect(path)
        if conn is not None:
            return conn
        log = open_private(Path(f"{path}.log"), os.O_WRONLY | os.O_APPEND)
        # The server's torch takes no thread count from this job: each worker sets its own job's.
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
        argv = [sys.executable, "-P", "-m", "nasrl.warm.server", str(path), json.dumps(sys.path)]
        run = owner()
        try:
            server = subprocess.Popen(argv + ([str(run)] if run else []), stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=log, cwd="/", env=env, start_new_session=True)
        finally:
            os.close(log)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and server.poll() is None:  # a server that failed: run here
            conn = connect(path)
            if conn is not None:
                return conn
            time.sleep(0.05)
        return None
    finally:
        os.close(lock)


def send_request(conn: socket.socket, argv: list[str]) -> bool:
    """Hand the command over; True once a worker has taken it."""
    request = json.dumps({"argv": argv, "env": dict(os.environ), **describe_job()}).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    message = HEADER.pack(len(request)) + request
    sent = socket.send_fds(conn, [message], [0, 1, 2])
    conn.sendall(message[sent:])
    return conn.recv(1) == ACCEPTED  # else the server was closing: run here instead


def forward(argv: list[str]) -> int | None:
    """Run ``nasrl argv`` in a warm worker; its exit status, or None to run in this process."""
    if not enabled():
        return None
    try:
        path = socket_path()
        if len(str(path)) > MAX_SOCKET_PATH:  # too long for a Unix socket's address: run here
            return None
        conn = connect(path) or start_server(path)
        if conn is None:
            return None
        with conn:
            if not send_request(conn, argv):
                return None
            return wait_for_status(conn)
    except (Untrusted, OSError) as why:
        reason = why if isinstance(why, Untrusted) else (why.strerror or why)
        print(f"nasrl: warm start off for this job ({reason}); running it in this process", file=sys.stderr)
        return None


def wait_for_status(conn: socket.socket) -> int:
    """The worker's exit status. The worker has the command now: whatever happens, it is not
    run a second time here."""
    reply = b""
    try:
        while chunk := conn.recv(4096):
            reply += chunk
        return int(json.loads(reply)["code"])
    except (OSError, ValueError, KeyError, TypeError):
        print("nasrl: the warm-start server ended before the command did", file=sys.stderr)
        return 1
