"""The warm-start server (see __init__.py): imports once, forks a worker per request.

    python -m nasrl.warm.server SOCKET

A request is a length-prefixed JSON message ({"argv", "cwd", "env"}) with the client's
stdin, stdout and stderr passed along (SCM_RIGHTS). The reply is {"code": N} once the worker
ends. One thread only (a fork from a threaded process can inherit a held lock): a ``select``
loop over the listening socket and the clients, reaping workers as they end.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback

IDLE_SECONDS = 60.0  # exit after this long without a request or a running worker
HEADER = struct.Struct("!I")
ACCEPTED = b"+"


def preload() -> None:
    """What the jobs import: torch, Lightning, MLflow, pandas and the nasrl steps. Importing
    starts no thread, so forking stays safe."""
    import mlflow  # noqa: F401  (the controller updates and final runs log to it)
    import pandas  # noqa: F401

    import nasrl.cli  # noqa: F401
    import nasrl.pipeline.rounds  # noqa: F401
    import nasrl.training.child  # noqa: F401


def read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < HEADER.size:
        raise ConnectionError("short request")
    (length,) = HEADER.unpack_from(data)
    data = data[HEADER.size:]
    while len(data) < length:
        more = conn.recv(length - len(data))
        if not more:
            raise ConnectionError("request cut short")
        data += more
    return json.loads(data), fds


def import_time_environment(before: dict[str, str]) -> dict[str, str]:
    """Environment defaults that modules set while being imported (``os.environ.setdefault``,
    say nasrl.tracking.store's MLflow client settings): a fresh process would set them too, so
    each worker sets them over its client's environment the same way."""
    return {k: v for k, v in os.environ.items() if before.get(k) != v}


def run_worker(request: dict, fds: list[int], import_defaults: dict[str, str]) -> int:
    """In the forked worker: become the client's process, run its command, return the status."""
    for fd, target in zip(fds, (0, 1, 2)):
        os.dup2(fd, target)
    os.chdir(request["cwd"])
    os.umask(request["umask"])  # the files it writes get the permissions the job's would
    os.environ.clear()
    os.environ.update(request["env"])
    for name, value in import_defaults.items():
        os.environ.setdefault(name, value)
    os.environ["NASRL_WARM_START"] = "worker"  # the command runs here, not forwarded again
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = ["nasrl", *request["argv"]]
    from nasrl.cli import main

    try:
        code = main(request["argv"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int) and exit_.code is not None:
            print(exit_.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported like an uncaught error of a process
        traceback.print_exc()
        code = 1
    return int(code or 0)


def fork_worker(request: dict, fds: list[int], listener: socket.socket, conns: list[socket.socket],
                import_defaults: dict[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            for conn in conns:
                conn.close()
            code = run_worker(request, fds, import_defaults)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def serve(path: str) -> None:
    before = dict(os.environ)
    preload()
    import_defaults = import_time_environment(before)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o077)  # the socket runs commands as this user: nobody else may connect
    listener.bind(path + ".new")
    os.umask(umask)
    listener.listen(64)
    os.replace(path + ".new", path)  # clients see a socket only once it listens
    mine = os.stat(path).st_ino
    workers: dict[int, socket.socket] = {}  # worker pid -> its client's connection
    idle_since = time.monotonic()
    try:
        while True:
            conns = list(workers.values())
            readable, _, _ = select.select([listener, *conns], [], [], 0.2)
            if listener in readable:
                conn, _ = listener.accept()
                try:
                    request, fds = read_request(conn)
                except (ConnectionError, ValueError, OSError):
                    conn.close()
                else:
                    workers[fork_worker(request, fds, listener, list(workers.values()) + [conn],
                                        import_defaults)] = conn
                    conn.sendall(ACCEPTED)  # the client now waits for this worker's status
            for pid, conn in list(workers.items()):
                if conn in readable:  # a client sends nothing more: readable means it is gone
                    os.kill(pid, signal.SIGKILL)
            while workers:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = workers.pop(pid, None)
                if conn is not None:
                    code = os.waitstatus_to_exitcode(status)
                    try:
                        conn.sendall(json.dumps({"code": code if code >= 0 else 128 - code}).encode())
                    except OSError:
                        pass
                    conn.close()
            if workers:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS:
                return
    finally:
        try:
            if os.stat(path).st_ino == mine:  # not a newer server's socket
                os.unlink(path)
        except OSError:
            pass
        listener.close()  # a client still queued gets no acknowledgement and runs in-process


if __name__ == "__main__":
    serve(sys.argv[1])
