"""The cost of a trained child, measured in its own job (``child.reward.cost.measure``).

- ``params``: the network's parameters (the count metrics.json already records);
- ``flops``: the operations of one forward pass of one example (an image, or a window of
  ``bptt`` tokens), counted by torch's own ``FlopCounterMode`` (a multiply-add is 2);
- ``latency_ms``: the median wall time of ``passes`` forward passes of a batch of
  ``batch_size`` examples, after ``warmup`` untimed ones, in eval mode under ``torch.no_grad``,
  on the device and in the precision the child trained in; on CUDA the device is synchronised
  around each timed pass, as its kernels run asynchronously. The median, as one slow pass (a
  page fault, another job's burst) should not move a child's reward. MnasNet (Tan et al. 2019,
  Sec. 3) measures the latency of a batch of one on the target phone; here the target is the
  machine the child runs on, so latencies compare only between children of one machine type.

The examples are the first validation batch's, repeated to the batch size where it is smaller.
"""

from __future__ import annotations

import statistics
from time import perf_counter

import torch
from torch.utils.flop_counter import FlopCounterMode

from nasrl.settings import ChildConfig
from nasrl.training.device import resolve_precision, resolves_to_cuda


def measure_cost(system: torch.nn.Module, config: ChildConfig, datamodule) -> float:
    """The child's cost in ``config.reward.cost.measure``'s unit."""
    cost = config.reward.cost
    if cost.measure == "params":
        return float(sum(p.numel() for p in system.model.parameters()))
    device = torch.device("cuda" if resolves_to_cuda(config.accelerator) else "cpu")
    system.to(device).eval()
    try:
        if cost.measure == "flops":
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                system(examples(datamodule, 1, device))
            return float(counter.get_total_flops())
        return latency_ms(system, examples(datamodule, cost.batch_size, device), cost.passes, cost.warmup,
                          resolve_precision(config.precision, config.accelerator) == "bf16-mixed")
    finally:
        system.cpu()  # where Lightning leaves a fitted system: testing and saving it go on from there


def examples(datamodule, n: int, device: torch.device) -> torch.Tensor:
    """``n`` inputs from the first validation batch (repeated where it holds fewer)."""
    inputs = next(iter(datamodule.val_dataloader()))[0]
    repeats = -(-n // inputs.shape[0])
    return torch.cat([inputs] * repeats)[:n].to(device)


def latency_ms(system: torch.nn.Module, inputs: torch.Tensor, passes: int, warmup: int, bf16: bool) -> float:
    """Median milliseconds of ``passes`` timed forward passes (module docstring)."""
    cuda = inputs.device.type == "cuda"
    times = []
    with torch.no_grad(), torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(warmup + passes):
            if cuda:
                torch.cuda.synchronize(inputs.device)
            start = perf_counter()
            system(inputs)
            if cuda:
                torch.cuda.synchronize(inputs.device)
            times.append((perf_counter() - start) * 1000.0)
    return statistics.median(times[warmup:])
