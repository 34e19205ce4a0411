"""A worker becomes its job's process: the state a fresh ``nasrl`` process of that job would have.

A forked worker inherits what the server set while importing, for whichever job started it:
the environment, the temporary folder ``tempfile`` chose, torch's thread count, the random
number generators' states, the import path, the working folder, resource limits and CPU
affinity. :func:`describe_job` (in the client) records the job's own; :func:`become_job` (in
the worker) applies them, so a warm command computes what a cold one would.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile

# Limits a job can be started under (ulimit, systemd-run, a scheduler's prolog) that decide
# what it may use; the worker takes the job's, never more than the server itself may have.
RLIMITS = {name: getattr(resource, name) for name in
           ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_RSS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")
           if hasattr(resource, name)}


def describe_job() -> dict:
    """What the worker needs to become this process, besides argv, environment and files."""
    umask = os.umask(0)
    os.umask(umask)
    return {"cwd": os.getcwd(), "umask": umask, "path": list(sys.path),
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "rlimits": {name: list(resource.getrlimit(res)) for name, res in RLIMITS.items()}}


class ServerBaseline:
    """What a fresh process has right after importing what the server preloaded: captured in
    the server once, restored in each worker."""

    def __init__(self) -> None:
        import torch

        self.torch_rng = torch.get_rng_state()
        # The server is started with the thread variables removed from its environment
        # (client.start_server), so this is torch's own default for the machine.
        self.default_threads = torch.get_num_threads()


def torch_threads(env: dict[str, str], default: int) -> int:
    """The intra-op thread count torch picks at start-up for ``env``: MKL_NUM_THREADS over
    OMP_NUM_THREADS over the machine's default (ATen's intraop_default_num_threads)."""
    chosen = default
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        try:
            value = int(env.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            chosen = value
    return chosen


def apply_rlimits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        res = RLIMITS.get(name)
        if res is None:
            continue
        _, server_hard = resource.getrlimit(res)

        def capped(value: int) -> int:  # RLIM_INFINITY is -1: the server's hard limit bounds it
            if server_hard == resource.RLIM_INFINITY:
                return value
            return server_hard if value == resource.RLIM_INFINITY else min(value, server_hard)

        try:
            resource.setrlimit(res, (capped(soft), capped(hard)))
        except (ValueError, OSError):
            pass  # a limit the kernel refuses to set stays the server's


def become_job(request: dict, baseline: ServerBaseline, import_defaults: dict[str, str]) -> None:
    """In a freshly forked worker: take the job's working folder, environment and limits."""
    import numpy as np
    import torch

    os.chdir(request["cwd"])
    os.umask(request["umask"])  # the files it writes get the permissions the job's would
    os.environ.clear()
    os.environ.update(request["env"])
    for name, value in import_defaults.items():
        os.environ.setdefault(name, value)
    tempfile.tempdir = None  # chosen again from the job's TMPDIR on first use
    sys.path[:] = request["path"]
    if request.get("affinity") and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, request["affinity"])
        except OSError:
            pass  # CPUs the server's own affinity excludes
    apply_rlimits(request.get("rlimits") or {})
    torch.set_num_threads(torch_threads(request["env"], baseline.default_threads))
    # Random states: torch's as a fresh process has it after the same imports (a fixed seed);
    # Python's and NumPy's global ones drawn from the OS, as a fresh process's are.
    torch.set_rng_state(baseline.torch_rng)
    random.seed()
    np.random.seed()
