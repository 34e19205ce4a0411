"""A GPU of its own for each child on one machine: a lease on one of ``per_gpu`` slots per device.

``snakemake --resources gpu=N`` bounds how many children run at once, but says nothing about
which GPU each one uses: without a lease every child trains on the first visible device. So a
child process (``nasrl train-child``, ``nasrl retrain``) takes, before CUDA is initialised, an
exclusive ``fcntl.flock`` on one slot file ``slot-{device}-{k}`` (k < ``child.per_gpu``) and
sets ``CUDA_VISIBLE_DEVICES`` to that device; the Trainer's ``devices=1`` is then the leased GPU.

- The lock is the lease: the file stays open for the process's whole life, and the kernel drops
  the lock when the process ends however it ends (a SIGKILL included), so nothing is cleaned up
  and a stale lease cannot exist. The files are never removed (removing one while another
  process waits on it would let two processes lock two different files of the same name).
- The slots lie in ``$TMPDIR/nasrl-gpu-<uid>``, a folder only this user can write
  (nasrl.private_folder): another user cannot hold our slots or plant a file in their place.
  Not ``$XDG_RUNTIME_DIR``, which the login manager removes at logout, under a search left
  running: children started after it would lease again from an empty folder.
- Slots are tried k-major (every device's slot 0 first), so fewer children than devices spread
  over the devices. When every slot is taken (``--resources gpu=N`` above devices x per_gpu)
  the child says so once in its log and polls until one is free.
- Which devices: ``NASRL_GPU_IDS`` (a comma-separated list; tests and overrides), else the
  workflow's ``CUDA_VISIBLE_DEVICES`` (its ids, kept as given: indices, UUIDs or MIG ids), else
  every GPU ``nvidia-smi -L`` lists, else the count torch reads from NVML. None of these
  initialises CUDA in this process.
- No lease under SLURM (``SLURM_JOB_ID``: the allocation's CUDA_VISIBLE_DEVICES decides), for a
  child on the CPU (``accelerator: cpu``, mps, tpu) or on a machine with no GPU.

Why setting the variable here works, also in a warm-start worker that imported torch before the
fork: CUDA reads ``CUDA_VISIBLE_DEVICES`` once, when the driver is initialised in the process
(torch does it lazily, on the first CUDA call), and torch does not cache its device count before
that (torch.cuda.device_count; pytorch#122815). The warm-start server never initialises CUDA (a
forked child of a process that did cannot use CUDA at all), and ``torch.cuda.device_count``
counts through NVML, which does not initialise it. A process whose CUDA is already initialised
cannot change its devices: it takes no lease and says so.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nasrl.private_folder import Untrusted, make_private, open_private

IDS_ENV = "NASRL_GPU_IDS"
POLL_SECONDS = 0.25  # between rounds of non-blocking tries when every slot is taken
GPU_ACCELERATORS = ("auto", "gpu", "cuda")  # Lightning's accelerators that can pick a CUDA GPU
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")  # indices, GPU-<uuid>, MIG-<uuid>, MIG-GPU-<uuid>/1/0


@dataclass(frozen=True)
class Lease:
    device: str  # the id as the workflow's CUDA_VISIBLE_DEVICES (or nvidia-smi) names it
    slot: int  # k in [0, per_gpu)
    path: Path
    fd: int  # holds the lock; closed only when the process ends (or by release())


_held: Lease | None = None  # one lease per process: a second call returns it


def folder() -> Path:
    """``$TMPDIR/nasrl-gpu-<uid>``, created 0700 and checked (Untrusted otherwise)."""
    return make_private(Path(tempfile.gettempdir()) / f"nasrl-gpu-{os.getuid()}")


def slot_file(device: str) -> str:
    # A MIG id may hold "/" (MIG-GPU-<uuid>/1/0): one file name per id all the same.
    return device.replace("/", "_")


def gpu_ids(environ: os._Environ | dict[str, str] = os.environ) -> list[str]:
    """The devices children are spread over (see the module docstring for the order)."""
    for name in (IDS_ENV, "CUDA_VISIBLE_DEVICES"):
        value = environ.get(name)
        if value is not None:
            ids = [part.strip() for part in value.split(",") if part.strip()]
            if ids and ids[0] == "-1":  # CUDA's "no device"
                return []
            bad = [i for i in ids if not _ID.match(i)]
            if bad:
                raise ValueError(f"{name}: {bad[0]!r} is not a device id; expected indices or UUIDs, "
                                 "separated by commas")
            return ids
    return _listed_gpus()


def _listed_gpus() -> list[str]:
    """Indices of the GPUs nvidia-smi lists; without nvidia-smi, torch's NVML count."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True)
        return [str(i) for i, line in enumerate(l for l in listed.stdout.splitlines() if l.startswith("GPU "))]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import torch

        # NVML only (-1 when it cannot be read): torch.cuda.device_count() falls back to the CUDA
        # runtime, which would initialise CUDA here before the lease could choose the device.
        count = torch.cuda._device_count_nvml() if torch.cuda._is_compiled() else 0
    except Exception:  # a private function of torch: absent or failing means unknown
        count = 0
    return [str(i) for i in range(max(count, 0))]


def cuda_build() -> bool:
    """Whether the installed torch was built with CUDA (importing it initialises no device)."""
    import torch

    return torch.version.cuda is not None


def wants_lease(accelerator: str, environ: os._Environ | dict[str, str] = os.environ) -> bool:
    """Whether a child with this accelerator setting leases a GPU here (not under SLURM)."""
    return accelerator in GPU_ACCELERATORS and not environ.get("SLURM_JOB_ID")


def take_lease(ids: list[str], per_gpu: int, where: Path | None = None, poll: float = POLL_SECONDS,
               say=None) -> Lease:
    """An exclusive lock on a free slot of ``ids`` x ``per_gpu``, waiting for one if none is free."""
    if not ids:
        raise ValueError("no GPU to lease")
    if per_gpu < 1:
        raise ValueError(f"child.per_gpu: expected an integer >= 1, got {per_gpu}")
    where = folder() if where is None else where
    slots = [(device, k) for k in range(per_gpu) for device in ids]  # every device's slot 0 first
    said = False
    while True:
        for device, k in slots:
            path = where / f"slot-{slot_file(device)}-{k}"
            fd = open_private(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            return Lease(device, k, path, fd)
        if not said:
            (say or _say)(f"waiting for a GPU slot: all {len(slots)} are taken ({len(ids)} GPUs x child.per_gpu "
                          f"{per_gpu}); snakemake --resources gpu=N above that makes children wait")
            said = True
        time.sleep(poll)


def lease_gpu(accelerator: str, per_gpu: int, environ: os._Environ | dict[str, str] = os.environ,
              where: Path | None = None, poll: float = POLL_SECONDS) -> Lease | None:
    """Prepare a child's process: lease a GPU slot and make its device the only visible one.

    Returns the lease, or None where none applies (see the module docstring); call it before
    anything initialises CUDA. The lease lasts until the process ends.
    """
    global _held
    if _held is not None:
        return _held
    if not wants_lease(accelerator, environ):
        return None
    if accelerator == "auto" and not cuda_build():
        return None  # "auto" on a CPU-only torch trains on the CPU whatever CUDA_VISIBLE_DEVICES says
    ids = gpu_ids(environ)
    if not ids:
        return None
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        _say("no GPU lease: CUDA is already initialised in this process, so its devices cannot change")
        return None
    try:
        _held = take_lease(ids, per_gpu, where, poll)
    except Untrusted as err:  # one error line: sharing a device unasked would be worse than stopping
        raise ValueError(f"GPU lease: {err}") from None
    environ["CUDA_VISIBLE_DEVICES"] = _held.device
    _say(f"GPU lease: device {_held.device}, slot {_held.slot + 1} of {per_gpu} (CUDA_VISIBLE_DEVICES={_held.device})")
    return _held


def release() -> None:
    """Drop this process's lease now (in-process callers and tests; a child's ends with it)."""
    global _held
    if _held is not None:
        os.close(_held.fd)
        _held = None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
