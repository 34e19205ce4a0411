"""One search at a time per experiment and folder: a lock that dies with its process.

Snakemake's own lock is off (profiles/default: ``nolock``), since a run killed with SIGKILL
could not remove it and the same command would then refuse to start. Without any lock, a
second ``snakemake`` or ``dvc repro`` started by mistake in the same folder would race the
first over the same outputs (with ``rerun-incomplete`` it redoes what the first is writing).

This lock is an advisory ``flock`` on a file: the kernel releases it when the process that
holds it ends, however it ends, so a killed run restarts with the same command while a live
one keeps every other run out. The file names the holder (host, PID, start time) for the
error a second run prints. ``flock`` works on local disks and on most cluster file systems;
where it is not supported the lock is skipped with a warning rather than blocking every run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import TextIO

LOCK_DIR = Path(".snakemake") / "nasrl-run"
_held: dict[Path, TextIO] = {}  # open handles: the lock lives as long as its handle


class SearchRunning(RuntimeError):
    """Another run of the same experiment holds the folder's lock."""


def lock_path(experiment: str, workdir: str | Path = ".") -> Path:
    return Path(workdir) / LOCK_DIR / f"{experiment}.lock"


def holder_text(holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
    return f"PID {holder.get('pid')} on {holder.get('host')}, since {since}"


def acquire(experiment: str, workdir: str | Path = ".") -> Path:
    """Hold the run lock of ``experiment`` in ``workdir`` until this process ends.

    Raises SearchRunning, naming the holder, when another live process holds it."""
    path = lock_path(experiment, workdir).resolve()
    if path in _held:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # not inherited by subprocesses (O_CLOEXEC)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            holder = json.loads(handle.read() or "{}")
        except json.JSONDecodeError:  # the holder is still writing its line
            holder = {}
        handle.close()
        raise SearchRunning(f"another run of experiment {experiment!r} is running in this folder "
                            f"({holder_text(holder)}); wait for it to finish or stop it first") from None
    except OSError as err:  # a file system without flock: warn, do not block every run
        handle.close()
        print(f"warning: no run lock ({path}: {err}); do not start two runs of {experiment!r} here",
              file=sys.stderr)
        return path
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
    handle.flush()
    _held[path] = handle
    return path
