"""Children too large to train, found before anything is allocated (``child.max_params``,
``child.max_memory_gb``).

Without a check, an architecture with, say, a billion filters per layer grows until the kernel
kills its process, and no metrics.json is written. Here the network is built on torch's
``meta`` device, whose tensors have a shape and a dtype but no storage, and one training batch
of the data's shape is run through it: building and running it costs no memory whatever the
network's size. A child over a limit is recorded with status ``too_large`` and the failure
reward (nasrl.training.child).

The memory estimate, float32 throughout (mixed precision needs less, so it errs high there):

- the weights, their gradients, the optimizer's state (SGD momentum one copy, Adam two) and the
  copy of the best epoch's weights (nasrl.training.checkpoint);
- the activations autograd keeps for the backward pass of one training batch (the tensors its
  saved-tensor hooks see, parameters left out).

It is meant to stop children that cannot fit on the machine at all, not to budget memory to the
megabyte: it leaves out the backward pass's temporary buffers, the data and the framework's own
memory. A child that passes can still run out of memory; it then fails as before, or, when the
kernel kills its process, the workflow records it as failed (workflow/rules/children.smk).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from nasrl.models.saved import build_model
from nasrl.settings import ChildConfig
from nasrl.space_kinds import kind_of, load

GB = 1e9
FLOAT_BYTES = 4
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroup in each hierarchy


class TooLargeError(Exception):
    """A child over ``child.max_params`` or ``child.max_memory_gb``; ``params`` its parameter count."""

    def __init__(self, message: str, params: int | None = None):
        super().__init__(message)
        self.params = params


def check_size(arch: dict[str, Any], args: dict[str, Any], batch_shape: tuple[int, ...], config: ChildConfig) -> int:
    """The child's parameter count; TooLargeError when it, or the estimated training memory for
    batches of ``batch_shape`` (images [B, C, H, W] or tokens [B, T]), is over the limits."""
    try:
        with torch.device("meta"):
            model = build_model(arch, args)
    except RuntimeError as err:  # torch cannot even size a weight: its element count overflows 64 bits
        limit = "" if config.max_params is None else f", over child.max_params = {config.max_params:,}"
        raise TooLargeError(f"more parameters than torch can count ({err}){limit}") from None
    params = sum(p.numel() for p in model.parameters())
    if config.max_params is not None and params > config.max_params:
        raise TooLargeError(f"{params:,} parameters, over child.max_params = {config.max_params:,}", params)
    if config.max_memory_gb is not None:
        limit_gb, source = config.max_memory_gb, "child.max_memory_gb"
    else:
        limit_gb = device_memory_bytes(config.accelerator, config.per_gpu) / GB
        source = "the device's memory (child.max_memory_gb: null)"
    needed_gb = estimated_memory_bytes(model, arch, batch_shape, config) / GB
    if needed_gb > limit_gb:
        raise TooLargeError(f"an estimated {needed_gb:,.1f} GB to train ({params:,} parameters, batch "
                            f"{list(batch_shape)}), over {source} = {limit_gb:,.1f} GB", params)
    return params


def estimated_memory_bytes(model: torch.nn.Module, arch: dict[str, Any], batch_shape: tuple[int, ...],
                           config: ChildConfig) -> int:
    """Weights, gradients, optimizer state, the best-epoch copy and one batch's saved activations
    of a network built on the meta device (see the module docstring)."""
    params = sum(p.numel() for p in model.parameters())
    system = load(kind_of(arch, trainable=True).system)  # the kind's system: its optimizer and input type
    optimizer_states = system.optimizer_states(config)
    weights = params * (3 + optimizer_states) * FLOAT_BYTES
    parameter_ids = {id(p) for p in model.parameters()}
    saved: dict[int, torch.Tensor] = {}  # by id; holding the tensors keeps their ids from being reused

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        if id(tensor) not in parameter_ids:
            saved[id(tensor)] = tensor
        return tensor

    model.train()
    batch = torch.empty(batch_shape, dtype=system.input_dtype, device="meta")
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        model(batch)
    return weights + sum(t.numel() * t.element_size() for t in saved.values())


def device_memory_bytes(accelerator: str, per_gpu: int = 1) -> int:
    """The memory one child may use: its share of a CUDA device's total memory when the child
    trains on one (``child.per_gpu`` children share a device), else the RAM its process may use
    (``host_memory_bytes``)."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory // per_gpu
    return host_memory_bytes()


def host_memory_bytes() -> int:
    """Physical RAM, or less when the process's cgroup is limited (a container, a SLURM job's
    ``--mem``): the limit the kernel's OOM killer enforces."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min([total, *cgroup_limits()])


def cgroup_limits() -> list[int]:
    """The memory limits of this process's cgroup and its ancestors (cgroup v2 ``memory.max``,
    v1 ``memory.limit_in_bytes``); none when unlimited or unreadable."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return []
    files = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        parts = [p for p in path.split("/") if p]
        if controllers == "":  # v2: one unified hierarchy; a parent's limit binds its children
            files += [CGROUP_ROOT.joinpath(*parts[:depth], "memory.max") for depth in range(len(parts) + 1)]
        elif "memory" in controllers.split(","):
            files += [CGROUP_ROOT.joinpath("memory", *parts[:depth], "memory.limit_in_bytes")
                      for depth in range(len(parts) + 1)]
    limits = []
    for file in files:
        try:
            value = file.read_text().strip()
        except OSError:  # not mounted here (a container sees only its own subtree)
            continue
        if value.isdigit():  # "max" (v2) is no limit
            limits.append(int(value))
    return limits
