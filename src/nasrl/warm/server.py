"""The warm-start server (see __init__.py): imports once, forks a worker per request.

    python -P -m nasrl.warm.server SOCKET SYS_PATH_JSON [OWNER_PID]

A request is a length-prefixed JSON message (argv, environment and what
jobstate.describe_job records) with the client's stdin, stdout and stderr passed along
(SCM_RIGHTS). The reply is ``+`` when a worker has taken it, then {"code": N} once the worker
ends.

- Only this user's processes are served: the kernel names each peer (SO_PEERCRED).
- One thread (a fork from a threaded process can inherit a held lock): a ``select`` loop over
  the listening socket, requests still arriving (each read without blocking, within a
  deadline, so a silent client delays nobody) and the running workers' clients.
- A worker dies with its job: it watches its client's connection and kills its own process
  group the moment that closes; it dies with the server too (PR_SET_PDEATHSIG).
- The server exits after a minute without work, and when the workflow run that owns it ends.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

IDLE_SECONDS = 60.0  # exit after this long without a request or a running worker
REQUEST_SECONDS = 10.0  # a client that has not sent its whole request by then is dropped
MAX_REQUEST = 16 << 20  # bytes: an environment is kilobytes
HEADER = struct.Struct("!I")
ACCEPTED = b"+"
_PR_SET_PDEATHSIG = 1


def preload() -> None:
    """What the jobs import: torch, Lightning, MLflow, pandas and the nasrl steps. Importing
    starts no thread, so forking stays safe."""
    import mlflow  # noqa: F401  (the controller updates and final runs log to it)
    import pandas  # noqa: F401

    import nasrl.cli  # noqa: F401
    import nasrl.pipeline.search_steps  # noqa: F401
    import nasrl.training.child  # noqa: F401


def valid_request(request: object) -> bool:
    if not isinstance(request, dict):
        return False
    strings = lambda xs: isinstance(xs, list) and all(isinstance(x, str) for x in xs)  # noqa: E731
    env = request.get("env")
    return (strings(request.get("argv")) and strings(request.get("path")) and isinstance(request.get("cwd"), str)
            and isinstance(request.get("umask"), int) and isinstance(env, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()))


class Arriving:
    """A request being read without blocking: bytes so far, the descriptors, a deadline."""

    def __init__(self, conn: socket.socket):
        conn.setblocking(False)
        self.conn = conn
        self.data = b""
        self.fds: list[int] = []
        self.deadline = time.monotonic() + REQUEST_SECONDS

    def read(self) -> dict | None:
        """The request once whole, else None; raises ConnectionError on a bad one."""
        if not self.data:  # the descriptors travel with the first bytes
            data, fds, _, _ = socket.recv_fds(self.conn, 1 << 16, 3)
            self.fds += fds
        else:
            data = self.conn.recv(1 << 16)
        if not data:
            raise ConnectionError("closed before the request was whole")
        self.data += data
        if len(self.data) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(self.data)
        if length > MAX_REQUEST:
            raise ConnectionError("request too large")
        if len(self.data) < HEADER.size + length:
            return None
        try:
            request = json.loads(self.data[HEADER.size:HEADER.size + length])
        except ValueError:
            raise ConnectionError("request is not JSON") from None
        if not valid_request(request) or len(self.fds) != 3:
            raise ConnectionError("malformed request")
        return request

    def drop(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.conn.close()


def import_time_environment(before: dict[str, str]) -> dict[str, str]:
    """Environment defaults that modules set while being imported (``os.environ.setdefault``,
    say nasrl.tracking.store's MLflow client settings): a fresh process would set them too, so
    each worker sets them over its client's environment the same way."""
    return {k: v for k, v in os.environ.items() if before.get(k) != v}


def die_with_server(server_pid: int) -> None:
    """The kernel kills this worker when the server ends (Linux), so no worker runs on
    unsupervised; a server already gone before the call is caught by the parent check."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != server_pid:
        os._exit(1)


def die_with_client(conn: socket.socket) -> None:
    """A thread that kills this worker's process group as soon as its client's connection
    closes (the job was killed): the client never sends after its request, so any readiness
    is the end. Nothing the worker would write after that moment gets written."""
    def watch() -> None:
        poller = select.poll()
        poller.register(conn, select.POLLIN | select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0))
        while not poller.poll():
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="nasrl-warm-client-watch", daemon=True).start()


def run_worker(request: dict, fds: list[int], baseline, import_defaults: dict[str, str]) -> int:
    """In the forked worker: become the client's process, run its command, return the status."""
    from nasrl.warm.jobstate import become_job

    for fd, target in zip(fds, (0, 1, 2)):
        os.dup2(fd, target)
    become_job(request, baseline, import_defaults)
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


def fork_worker(request: dict, fds: list[int], conn: socket.socket, others: list[socket.socket],
                baseline, import_defaults: dict[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    server_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)  # its own group: killing the group takes any process it starts
            die_with_server(server_pid)
            for other in others:
                other.close()
            conn.setblocking(True)
            die_with_client(conn)
            code = run_worker(request, fds, baseline, import_defaults)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    try:
        os.setpgid(pid, pid)  # also here, so the group exists before either side uses it
    except OSError:
        pass
    for fd in fds:
        os.close(fd)
    return pid


def owner_watch(owner: int | None) -> int | None:
    """A descriptor that becomes readable when the owning workflow run ends (pidfd)."""
    if owner is None:
        return None
    try:
        return os.pidfd_open(owner)
    except (OSError, AttributeError):
        return None


def kill_worker(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def serve(path: str, sys_path: list[str], owner: int | None = None) -> None:
    from nasrl.warm.jobstate import ServerBaseline
    from nasrl.warm.runtime import peer

    sys.path[:] = sys_path  # the launcher's import path, which the version key covers
    before = dict(os.environ)
    preload()
    import_defaults = import_time_environment(before)
    baseline = ServerBaseline()
    owner_fd = owner_watch(owner)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o077)  # the socket runs commands as this user: nobody else may connect
    try:
        os.unlink(path + ".new")  # left by a server killed while starting (we hold the start lock)
    except FileNotFoundError:
        pass
    listener.bind(path + ".new")
    os.umask(umask)
    listener.listen(64)
    os.replace(path + ".new", path)  # clients see a socket only once it listens
    mine = os.stat(path).st_ino
    arriving: list[Arriving] = []
    workers: dict[int, socket.socket] = {}  # worker pid -> its client's connection
    idle_since = time.monotonic()
    try:
        while True:
            running = dict(workers)  # the workers whose clients this select watches
            watched = [listener, *(a.conn for a in arriving), *running.values()]
            readable, _, _ = select.select(watched + ([owner_fd] if owner_fd is not None else []), [], [], 0.2)
            if owner_fd is not None and owner_fd in readable:
                return  # the workflow run that started this server has ended
            if listener in readable:
                conn, _ = listener.accept()
                try:
                    _, uid = peer(conn)
                except OSError:
                    uid = -1
                if uid != os.getuid():  # another user found the socket: serve nothing
                    conn.close()
                else:
                    arriving.append(Arriving(conn))
            now = time.monotonic()
            for item in list(arriving):
                try:
                    request = item.read() if item.conn in readable else None
                    if request is None and now > item.deadline:
                        raise ConnectionError("request not sent in time")
                except (ConnectionError, OSError):
                    arriving.remove(item)
                    item.drop()
                    continue
                if request is not None:
                    arriving.remove(item)
                    others = [listener, *(a.conn for a in arriving), *workers.values()]
                    pid = fork_worker(request, item.fds, item.conn, others, baseline, import_defaults)
                    item.conn.setblocking(True)
                    item.conn.settimeout(5.0)
                    workers[pid] = item.conn
                    try:
                        item.conn.sendall(ACCEPTED)  # the client now waits for this worker's status
                    except OSError:
                        kill_worker(pid)
            for pid, conn in running.items():
                if conn in readable:  # a client sends nothing more: readable means it is gone
                    kill_worker(pid)
            while workers:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = workers.pop(pid, None)
                if conn is not None:
                    kill_worker(pid)  # anything the worker started goes with it
                    code = os.waitstatus_to_exitcode(status)
                    try:
                        conn.sendall(json.dumps({"code": code if code >= 0 else 128 - code}).encode())
                    except OSError:
                        pass
                    conn.close()
            if workers or arriving:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS:
                return
    finally:
        try:
            if os.stat(path).st_ino == mine:  # not a newer server's socket: leave no litter
                os.unlink(path)
                os.unlink(path + ".start")
                if os.stat(path + ".log").st_size == 0:  # a log with a crash in it stays
                    os.unlink(path + ".log")
        except OSError:
            pass
        listener.close()  # a client still queued gets no acknowledgement and runs in-process


if __name__ == "__main__":
    serve(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
