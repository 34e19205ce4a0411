"""The weights a child keeps: those of its epoch with the best validation value.

The final report ranks runs by ``best_val`` and tests the chosen run's ``model.pt`` once
(Zoph & Le 2017, Sec. 4.1; for the character model, Sec. 4.2 reports the test number at the
step with the best validation score, docs/paper.md Sec. 7.4). So that the
weights tested are the ones whose validation value chose the run, a child keeps, in memory,
a copy of the weights of its best validation epoch and puts it back when training ends:
``model.pt`` holds those weights, ``best_val`` is their validation value and ``best_epoch``
their epoch. Ties go to the earliest epoch. The rule is one for every child; a search child's
reward still comes from its validation curve (``nasrl.training.rewards``).

The callback is a Lightning ``Checkpoint`` so that it runs after the system's
``on_train_epoch_end``, which writes the epoch's history row it reads (Lightning calls
checkpoint callbacks after the module's hook for exactly this reason).
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint


class BestEpochWeights(Checkpoint):
    """Keep the weights of the epoch with the best ``metric`` in the system's history.

    Args:
        metric: the history column that ranks epochs ("val_acc" or "val_ppl").
        higher_is_better: True for accuracy, False for perplexity.

    After ``fit``: ``best_epoch`` (1-based; None if no epoch had a finite value), ``best_value``;
    the model holds the weights of ``best_epoch``.
    """

    def __init__(self, metric: str, higher_is_better: bool):
        super().__init__()
        self.metric, self.higher_is_better = metric, higher_is_better
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self._weights: dict[str, torch.Tensor] | None = None

    def is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.higher_is_better else value < self.best_value

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        row: dict[str, Any] = pl_module.history[-1]
        value = float(row[self.metric])
        if self.is_better(value):
            self.best_epoch, self.best_value = int(row["epoch"]), value
            # A copy on the CPU: the model's own tensors change with the next optimizer step.
            self._weights = {k: v.detach().to("cpu", copy=True) for k, v in pl_module.model.state_dict().items()}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._weights is not None:
            pl_module.model.load_state_dict(self._weights)
