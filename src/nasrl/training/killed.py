"""A child whose training process a signal ended: its metrics.json, written by the workflow's rule.

A child that raises, diverges or is too large records itself (nasrl.training.child); one whose
process is killed, by the kernel's OOM killer above all, cannot. The rule ``train_child``
(workflow/rules/children.smk) then runs ``nasrl child-killed`` with the exit status, and this
writes what the child would have: status ``failed``, the failure reward and the error
``killed by signal N``, so the search goes on.

Imports no torch: without warm start (a SLURM job) it runs as a fresh process.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from nasrl.architecture import content_key
from nasrl.data_kinds import dataset_label
from nasrl.io import write_json
from nasrl.layout import RunFolder
from nasrl.settings import ChildConfig, child_key
from nasrl.space_kinds import kind_named

# How a whole run or job is stopped: Ctrl-C, a closed terminal, and the SIGTERM that Snakemake,
# SLURM (scancel, the time limit) and init send before killing. The rule's shell receives them
# too and ends with the child; should it not, the child is still not recorded as failed: the job
# fails as it did before, and the next run trains the child again.
STOPPING = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}


def killing_signal(exit_status: int) -> signal.Signals | None:
    """The signal a shell's exit status 128 + N reports, unless it is one that stops the whole run."""
    if exit_status <= 128:
        return None
    try:
        number = signal.Signals(exit_status - 128)
    except ValueError:  # an exit status above 128 that no signal gave
        return None
    return None if number in STOPPING else number


def record_killed(arch: dict[str, Any], config: ChildConfig, exit_status: int, out_dir: str | Path) -> dict | None:
    """Write ``out_dir/metrics.json`` of a child that ``exit_status`` says a signal killed; None
    (and nothing written) when it says otherwise, or when the child had written its metrics."""
    number = killing_signal(exit_status)
    path = RunFolder(out_dir).metrics
    if number is None or path.exists():  # written last and atomically: the child had finished
        return None
    surrogate = config.surrogate is not None
    kind = kind_named(arch)
    metric = config.surrogate.reward_column if surrogate else kind.metric if kind is not None else None
    metrics = {
        "key": child_key(arch, config), "arch_key": content_key(arch), "dataset": dataset_label(config.dataset),
        "seed": config.seed, "status": "failed", "reward": config.failure_reward, "metric": metric,
        "best_val": None, "last_val": None, "epochs": 0, "stopped_epoch": None, "params": None, "seconds": None,
        "setup_seconds": None, "error": f"killed by signal {number.value} ({number.name})",
        "finished_at": time.time(), **({"surrogate": True} if surrogate else {}),
    }
    write_json(path, metrics)
    return metrics
