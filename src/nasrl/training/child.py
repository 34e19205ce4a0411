"""Train one child architecture and write its results: the job a pipeline runs per child.

    nasrl train-child --arch ARCH.json --config CONFIG.yaml --out DIR

writes, in DIR:

- ``metrics.json``: status (ok | stopped | failed | diverged | too_large), reward, the validation metric
  (best and last), epochs (trained), stopped_epoch, seconds, parameter count, error text;
  written last and atomically, so its presence means the child is finished;
- ``curve.csv``: one row per epoch (learning rate, train and validation loss and metric);
- ``model.pt``: the architecture, the child settings and the trained weights.

A child that raises, diverges (NaN or infinite loss) or runs out of memory still writes
``metrics.json`` with its status and ``failure_reward``: one bad child never stops a search
(Zoph & Le 2017 train 12,800 children; some will fail). Settings or data that are wrong
for every child (unknown dataset, missing files, an architecture that does not parse) are
errors raised before training, since no child could succeed.

A child over ``child.max_params`` or ``child.max_memory_gb`` (its size worked out on the meta
device, nasrl.training.limits) is recorded with status ``too_large``, the failure reward and an
error naming its figure and the limit, before any of its weights is allocated.

With ``child.early_stopping`` on, a child whose curve falls below the earlier children's
(``--reference``, the median stopping rule of ``nasrl.training.early_stopping``) stops early
with status ``stopped``: not a failure. Its reward is the paper's rule applied to its curve
completed by the references' median progress (``projected_val``: the last projected value),
and it keeps its model.pt; metrics.json records the reference's size and
fingerprint.

With ``child.reward.cost`` set, a child that trained also records its cost, measured after
training in this job (``nasrl.training.cost_measure``), and its reward is MnasNet's cost-aware
one (``nasrl.training.cost``): ``reward`` has the cost factor, ``plain_reward`` is the paper's,
and ``cost``, ``cost_measure`` and ``cost_target`` say what it cost.
"""

from __future__ import annotations

import csv
import logging
import math
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from nasrl.architecture import content_key
from nasrl.data_kinds import dataset_kind, dataset_label, dataset_spec
from nasrl.errors import SettingsError
from nasrl.io import write_json
from nasrl.layout import RunFolder
from nasrl.models.saved import build_model, save_model
from nasrl.settings import ChildConfig, child_key
from nasrl.space_kinds import SpaceKind, kind_of, load
from nasrl.training.checkpoint import BestEpochWeights
from nasrl.training.device import DeviceSetup, resolve_precision
from nasrl.training.early_stopping import MedianStopping, Reference
from nasrl.training.limits import TooLargeError, check_size
from nasrl.training.progress import EpochLog, show_progress_bar
from nasrl.training.cost import cost_fields
from nasrl.training.cost_measure import measure_cost
from nasrl.training.rewards import reward_from_curve, reward_power
from nasrl.training.system import ChildSystem, DivergedError


class FirstBatchTimer(pl.Callback):
    """Records when the first training batch starts (the child's fixed start-up cost ends)."""

    def __init__(self, start: float):
        self.start = start
        self.seconds: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.start


def system_class(arch: dict[str, Any]) -> type[ChildSystem]:
    """The Lightning system that trains children of ``arch``'s space kind (nasrl.space_kinds)."""
    return load(kind_of(arch, trainable=True).system)


def child_datamodule(arch: dict[str, Any], config: ChildConfig):
    """The data module for ``config.dataset``, set up; raises on data problems (fatal)."""
    from nasrl.data import make_datamodule

    kind = kind_of(arch, trainable=True)
    found = dataset_kind(config.dataset)  # None for a module: the plan read its kind from it
    if found is not None and found != kind.data:
        raise SettingsError(f"child.dataset: {dataset_label(config.dataset)!r} is {found} data, but a {kind.name} "
                         f"architecture needs {kind.data} data")
    options = {"batch_size": config.batch_size, **load(kind.system).data_options(config)}
    datamodule = make_datamodule(dataset_spec(config.dataset) or config.dataset, config.data_dir, **options)
    datamodule.setup("fit")
    return datamodule


def model_args(arch: dict[str, Any], config: ChildConfig, datamodule) -> dict[str, Any]:
    """The network's constructor arguments (stored in model.pt, so it can be rebuilt alone)."""
    return system_class(arch).network_args(config, datamodule)


def batch_shape(arch: dict[str, Any], config: ChildConfig, datamodule) -> tuple[int, ...]:
    """The shape of one training batch: images [B, C, H, W] (crops keep the size), or tokens [B, T]."""
    return system_class(arch).batch_shape(config, datamodule)


def build_system(arch: dict[str, Any], config: ChildConfig, datamodule) -> pl.LightningModule:
    """The child network wrapped in its Lightning training system."""
    model = build_model(arch, model_args(arch, config, datamodule))
    return system_class(arch).from_settings(model, config, datamodule)


def quiet_lightning() -> None:
    """Keep a child's log to what matters: Lightning's banners and tips repeat in every job."""
    for name in ("pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")  # torch 2.13 vs Lightning 2.6 pytree notice


def make_trainer(config: ChildConfig, out_dir: Path, callbacks: list[pl.Callback]) -> pl.Trainer:
    quiet_lightning()
    return pl.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=1,
        precision=resolve_precision(config.precision, config.accelerator),  # bf16-mixed on a CUDA GPU
        gradient_clip_val=config.grad_clip,
        limit_train_batches=config.limit_train_batches or 1.0,
        logger=False,
        # model.pt is written explicitly, once, at the end; the only checkpoint callback is
        # BestEpochWeights, which keeps the best validation epoch's weights in memory.
        enable_checkpointing=any(isinstance(cb, pl.callbacks.Checkpoint) for cb in callbacks),
        enable_progress_bar=show_progress_bar(),  # by hand in a terminal; a workflow job logs EpochLog's lines
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[*callbacks, DeviceSetup(compile=getattr(config, "compile", False))],
        default_root_dir=str(out_dir),
    )


def train_child(arch: dict[str, Any], config: ChildConfig, out_dir: str | Path, test: bool = False,
                extra: dict[str, Any] | None = None, reference: str | Path | None = None) -> dict[str, Any]:
    """Train ``arch`` under ``config``; write and return its metrics (see module docstring).

    ``test``: also evaluate the kept weights on the test split (a final run, Sec. 4.1).
    ``extra`` fields (say, a final run's grid point) are stored in metrics.json too.
    ``reference``: the reference.csv the median stopping rule compares the child with, read
    only when ``config.early_stopping`` is on (none: the child trains fully).
    """
    start, started_at = time.perf_counter(), time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    pl.seed_everything(config.seed, verbose=False)
    datamodule = child_datamodule(arch, config)  # wrong data is every child's problem: raised, not recorded
    kind = kind_of(arch, trainable=True)
    stopping = None
    if config.early_stopping.enabled:
        stopping = MedianStopping(Reference.load(reference, higher_is_better=kind.higher_is_better),
                                  config.early_stopping, config.epochs, kind.metric,
                                  higher_is_better=kind.higher_is_better)
    metrics: dict[str, Any] = {
        "key": child_key(arch, config), "arch_key": content_key(arch), "dataset": dataset_label(config.dataset),
        "seed": config.seed, "status": "failed", "reward": config.failure_reward, "metric": kind.metric,
        "best_val": None, "last_val": None, "epochs": 0, "stopped_epoch": None, "params": None, "seconds": None,
        "setup_seconds": None, "error": None,
        **({"reference": stopping.reference.summary()} if stopping else {}), **(extra or {}),
    }
    timer = FirstBatchTimer(start)
    system = None
    try:
        args = model_args(arch, config, datamodule)
        check_size(arch, args, batch_shape(arch, config, datamodule), config)
        system = build_system(arch, config, datamodule)
        metrics["params"] = sum(p.numel() for p in system.model.parameters())
        if hasattr(system.model, "conv_weight_count"):
            metrics["conv_weights"] = system.model.conv_weight_count()
        trainer, best_epoch = fit(system, config, datamodule, kind, out_dir, timer, stopping)
        metrics.update(summarize(system.history, best_epoch, stopping, kind, config))
        if config.reward.cost is not None:  # MnasNet's cost-aware reward (nasrl.training.cost)
            cost = measure_cost(system, config, datamodule)
            metrics.update(cost_fields(metrics["reward"], cost, config.reward.cost, reward_power(kind.reward,
                                                                                                config.reward)))
        if test:
            metrics["test"] = tested_metrics(trainer, system, datamodule)
        save_model(RunFolder(out_dir).model, arch, args, system.model, config.to_dict())
    except Exception as err:  # a child-specific failure: record it, let the search go on
        metrics.update(failure(err))
    finally:
        history = system.history if system is not None else []
        metrics.update(epochs=len(history), seconds=time.perf_counter() - start, setup_seconds=timer.seconds,
                       started_at=started_at, finished_at=time.time())  # wall clock: slot utilization
        if history and metrics["status"] not in ("ok", "stopped"):
            values = [row[kind.metric] for row in history if math.isfinite(row[kind.metric])]
            if values:
                metrics["last_val"] = values[-1]
        write_curve(RunFolder(out_dir).curve, history)
        write_json(RunFolder(out_dir).metrics, metrics)
    return metrics


def fit(system: ChildSystem, config: ChildConfig, datamodule, kind: SpaceKind, out_dir: Path,
        timer: FirstBatchTimer, stopping: MedianStopping | None) -> tuple[pl.Trainer, BestEpochWeights]:
    """Train ``system``; the trainer, and the callback that kept the best validation epoch's weights."""
    best_epoch = BestEpochWeights(kind.metric, higher_is_better=kind.higher_is_better)
    callbacks = [timer, best_epoch, EpochLog(config.epochs)] + ([stopping] if stopping else [])
    trainer = make_trainer(config, out_dir, callbacks)
    trainer.fit(system, datamodule=datamodule)
    return trainer, best_epoch


def summarize(history: list[dict[str, float]], best_epoch: BestEpochWeights, stopping: MedianStopping | None,
              kind: SpaceKind, config: ChildConfig) -> dict[str, Any]:
    """Status, reward and validation values of a child that trained to its end or was stopped."""
    values = [row[kind.metric] for row in history]
    # A stopped child's reward: the same rule on its curve completed by the references'
    # median progress (nasrl.training.rewards, early_stopping.projected_curve).
    scored = stopping.reward_curve(values) if stopping else values
    stopped_epoch = stopping.stopped_epoch if stopping else None
    # model.pt holds the best validation epoch's weights, so best_val is their value
    # (nasrl.training.checkpoint; the final report ranks by it and tests those weights).
    # No finite validation value at all: the last weights stay, and so does their value.
    kept = values[-1] if best_epoch.best_epoch is None else best_epoch.best_value
    summary = {"status": "ok" if stopped_epoch is None else "stopped", "stopped_epoch": stopped_epoch,
               "reward": reward_from_curve(scored, kind.reward, config.reward), "best_val": kept,
               "best_epoch": best_epoch.best_epoch or len(values), "last_val": values[-1]}
    if len(scored) > len(values):
        summary["projected_val"] = scored[-1]
    return summary


def failure(err: Exception) -> dict[str, Any]:
    """The status and error text of a child that could not train to its end."""
    if isinstance(err, TooLargeError):
        return {"status": "too_large", "params": err.params, "error": f"too large: {err}"}
    if isinstance(err, DivergedError):
        return {"status": "diverged", "error": str(err)}
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return {"status": "failed", "error": f"out of memory: {err}"}
    return {"status": "failed", "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(limit=8)}


def tested_metrics(trainer: pl.Trainer, system: ChildSystem, datamodule) -> dict[str, float]:
    """The test split's metrics of the system's current weights (Sec. 4.1: tested once, at the end)."""
    return {k: float(v) for k, v in trainer.test(system, datamodule=datamodule, verbose=False)[0].items()}


def load_trained(model_dir: str | Path):
    """A trained child from its model.pt: (Lightning system with the weights, data module, settings)."""
    saved = torch.load(RunFolder(model_dir).model, map_location="cpu", weights_only=True)
    config = ChildConfig.from_dict(saved["child"])
    pl.seed_everything(config.seed, verbose=False)
    datamodule = child_datamodule(saved["arch"], config)
    system = build_system(saved["arch"], config, datamodule)
    system.model.load_state_dict(saved["state_dict"])
    return system, datamodule, config


def evaluate_test(model_dir: str | Path, loaded=None) -> dict[str, float]:
    """Test metrics of a trained child (its model.pt), for the one final evaluation (Sec. 4.1)."""
    system, datamodule, config = loaded or load_trained(model_dir)
    return tested_metrics(make_trainer(config, Path(model_dir), []), system, datamodule)


def write_curve(path: Path, rows: list[dict[str, Any]]) -> None:
    fieldnames = list(rows[0]) if rows else ["epoch"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)

