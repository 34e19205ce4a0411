"""Early stopping of hopeless children: the median stopping rule.

Golovin et al. (2017, Google Vizier, automated early stopping) stop a pending trial at step s
when its best objective value by step s is strictly worse than the median of the completed
trials' running averages up to step s; Katib's ``medianstop`` applies the same rule to
Kubeflow trials. Here a trial is a child and a step an epoch, and both sides are measured
alike: at the end of epoch e, with ``min_epochs <= e < epochs``, a child stops when its best
validation value so far is worse than the ``quantile`` of the reference children's
best-so-far values at epoch e, provided at least ``min_reference`` reference children
reached epoch e. Worse is lower accuracy or higher perplexity; values are compared as scores
where higher is better (the perplexity negated), so ``quantile`` is always the fraction of
references a child must beat and, for perplexity, the threshold is the mirrored
``1 - quantile`` quantile of the perplexities. A value equal to the threshold is not worse:
the child goes on.

The references are the completed, full-length children of the rounds whose rewards existed
when the child's round was sampled, read from ``rounds/NNNN/reference.csv`` (key, epoch,
value: the raw per-epoch validation metric; written by ``nasrl.pipeline.reference``). The
decision depends on that file and the child's own curve alone, so it is deterministic for a
given reference; metrics.json records the reference's size and fingerprint. A stopped child's
reward is the paper's rule on its curve completed by the references' median progress
(``projected_curve``), so that it stays on the scale of the fully trained children's.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

from nasrl.settings.child import EarlyStoppingConfig

REFERENCE_COLUMNS = ("key", "epoch", "value")


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` by linear interpolation between order statistics (numpy's
    default, Hyndman & Fan type 7), computed here so the decision does not depend on a library."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def best_so_far(values: list[float], higher_is_better: bool) -> list[float | None]:
    """The running best of a curve (None until its first finite value; non-finite values skipped)."""
    best, out = None, []
    for value in values:
        if math.isfinite(value) and (best is None or (value > best if higher_is_better else value < best)):
            best = value
        out.append(best)
    return out


def should_stop(best: float | None, epoch: int, references: list[float], settings: EarlyStoppingConfig,
                epochs: int, higher_is_better: bool) -> bool:
    """The median stopping rule at the end of ``epoch`` (1-based).

    Args:
        best: the child's best validation value up to ``epoch`` (None: no finite value yet; the
            divergence check, not this rule, deals with such a child).
        references: the reference children's best-so-far values at ``epoch``.
        settings: quantile, min_epochs, min_reference.
        epochs: the child's training length; the last epoch is never a stop.
        higher_is_better: True for accuracy, False for perplexity.
    """
    if best is None or not settings.min_epochs <= epoch < epochs or len(references) < settings.min_reference:
        return False
    sign = 1.0 if higher_is_better else -1.0
    return sign * best < quantile([sign * r for r in references], settings.quantile)


def projected_curve(values: list[float], by_epoch: dict[int, list[float]], epochs: int,
                    higher_is_better: bool) -> list[float]:
    """A stopped child's curve completed to ``epochs`` by the references' median progress.

    The reward of a stopped child (module docstring of nasrl.training.rewards): after its last
    trained epoch e, epoch t gets the child's best value by e moved as the median reference
    moved from e to t: plus the median's gain for accuracy (clipped to [0, 1]), times the
    median's ratio for perplexity. The child keeps its rank at e (below the threshold there,
    below the median's projection at the end), and its reward stays on the scale of fully
    trained children's instead of that of an epoch-e accuracy. Epochs the references do not
    reach are left out."""
    best = best_so_far(values, higher_is_better)[-1] if values else None
    start = len(values)
    if best is None or not by_epoch.get(start):
        return list(values)
    median_at_stop = quantile(by_epoch[start], 0.5)
    tail = []
    for epoch in range(start + 1, epochs + 1):
        if not by_epoch.get(epoch):
            break
        median = quantile(by_epoch[epoch], 0.5)
        if higher_is_better:
            tail.append(min(1.0, max(0.0, best + median - median_at_stop)))
        else:
            tail.append(best * median / median_at_stop if median_at_stop > 0 else best)
    return list(values) + tail


@dataclass(frozen=True)
class Reference:
    """The reference children's best-so-far values by epoch, and what identifies the file."""

    by_epoch: dict[int, list[float]] = field(default_factory=dict)
    children: int = 0
    fingerprint: str | None = None

    @classmethod
    def load(cls, path: str | Path | None, higher_is_better: bool) -> "Reference":
        """Read ``reference.csv``; None: no reference (every child trains fully)."""
        if path is None:
            return cls()
        path = Path(path)
        data = path.read_bytes()
        curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != REFERENCE_COLUMNS:
                raise ValueError(f"{path}: expected the columns {list(REFERENCE_COLUMNS)}, got {reader.fieldnames}")
            for row in reader:
                curves[row["key"]].append((int(row["epoch"]), float(row["value"])))
        by_epoch: dict[int, list[float]] = defaultdict(list)
        for points in curves.values():
            points.sort()
            for (epoch, _), best in zip(points, best_so_far([v for _, v in points], higher_is_better)):
                if best is not None:
                    by_epoch[epoch].append(best)
        return cls(dict(by_epoch), len(curves), hashlib.sha256(data).hexdigest()[:16])

    def summary(self) -> dict[str, object]:
        """What metrics.json records: which history the child was judged against."""
        return {"children": self.children, "fingerprint": self.fingerprint}


class MedianStopping(Checkpoint):
    """Sets ``trainer.should_stop`` when the median stopping rule says so (module docstring).

    A Lightning ``Checkpoint`` (like ``BestEpochWeights``) so that it runs after the system's
    ``on_train_epoch_end``, which writes the epoch's history row it reads. After ``fit``,
    ``stopped_epoch`` is the epoch it stopped at, or None.
    """

    def __init__(self, reference: Reference, settings: EarlyStoppingConfig, epochs: int, metric: str,
                 higher_is_better: bool):
        super().__init__()
        self.reference, self.settings, self.epochs = reference, settings, epochs
        self.metric, self.higher_is_better = metric, higher_is_better
        self.values: list[float] = []
        self.stopped_epoch: int | None = None

    def reward_curve(self, values: list[float]) -> list[float]:
        """The curve the reward is computed from: the child's own, completed by the references'
        median progress when it was stopped (projected_curve)."""
        if self.stopped_epoch is None:
            return list(values)
        return projected_curve(values, self.reference.by_epoch, self.epochs, self.higher_is_better)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        row = pl_module.history[-1]
        self.values.append(float(row[self.metric]))
        epoch = int(row["epoch"])
        best = best_so_far(self.values, self.higher_is_better)[-1]
        if should_stop(best, epoch, self.reference.by_epoch.get(epoch, []), self.settings, self.epochs,
                       self.higher_is_better):
            self.stopped_epoch = epoch
            trainer.should_stop = True
