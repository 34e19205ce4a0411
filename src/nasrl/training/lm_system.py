"""The Lightning system that trains a language-model child (Zoph & Le 2017, Sec. 4.2).

Truncated backpropagation through time: batches are consecutive [B, T] windows of B
parallel token streams, so the hidden state is carried (detached) from one window to the
next and reset at the start of every epoch and evaluation pass. Perplexity is
exp(mean cross-entropy per token).
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from nasrl.training.image_system import check_finite


def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(_detach(s) for s in state)


class TokenMeter:
    """Summed cross-entropy and token count over one epoch of one split."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros((), dtype=torch.float64)
        self.tokens = 0

    def add(self, loss: torch.Tensor, tokens: int) -> None:
        self.loss = self.loss.to(loss.device) + loss.detach().double() * tokens
        self.tokens += tokens

    def compute(self) -> tuple[float, float]:
        if self.tokens == 0:
            return math.nan, math.nan
        mean = float(self.loss) / self.tokens
        return mean, math.exp(mean) if mean < 700 else math.inf


class LanguageModelSystem(pl.LightningModule):
    """SGD training of a recurrent-cell language model.

    Args:
        model: maps (tokens [B, T], state) -> (logits [B, T, V], state); has ``init_state(B)``.
        epochs: planned epochs (the schedule's milestones are fractions of it).
        lr, momentum, nesterov, weight_decay: SGD settings.
        lr_decay_at, lr_decay_factor: step schedule as for images.
    """

    def __init__(self, model: nn.Module, epochs: int, lr: float = 1.0, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, lr_decay_at: tuple[float, ...] = (0.5, 0.75),
                 lr_decay_factor: float = 0.1):
        super().__init__()
        self.model = model
        self.save_hyperparameters(ignore=["model"])
        self.meters = {split: TokenMeter() for split in ("train", "val", "test")}
        self.state = None
        self.history: list[dict[str, float]] = []

    def forward(self, tokens: torch.Tensor, state=None):
        return self.model(tokens, state)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        if self.state is None or self.state[0][0].shape[0] != x.shape[0]:
            self.state = self.model.init_state(x.shape[0])
            self.state = [(h.to(x.device), c.to(x.device)) for h, c in self.state]
        logits, state = self(x, self.state)
        self.state = _detach(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.meters[split].add(loss, y.numel())
        return loss

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        check_finite(loss, self.current_epoch, batch_idx)
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        h = self.hparams
        optimizer = torch.optim.SGD(self.model.parameters(), lr=h.lr, momentum=h.momentum,
                                    nesterov=h.nesterov and h.momentum > 0, weight_decay=h.weight_decay)
        milestones = sorted({max(1, round(f * h.epochs)) for f in h.lr_decay_at})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=h.lr_decay_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def _start(self, split: str) -> None:
        self.meters[split].reset()
        self.state = None  # every pass starts from a zero state

    def on_train_epoch_start(self):
        self._start("train")
        self._epoch_lr = self.optimizers().param_groups[0]["lr"]  # the scheduler steps before epoch end hooks

    def on_validation_epoch_start(self):
        self._saved_state, self.state = self.state, None
        self.meters["val"].reset()

    def on_validation_epoch_end(self):
        self.state = getattr(self, "_saved_state", None)

    def on_test_epoch_start(self):
        self._start("test")

    def on_test_epoch_end(self):
        loss, ppl = self.meters["test"].compute()
        self.log_dict({"test_loss": loss, "test_ppl": ppl})

    def on_train_epoch_end(self):
        train_loss, train_ppl = self.meters["train"].compute()
        val_loss, val_ppl = self.meters["val"].compute()
        row = {"epoch": self.current_epoch + 1, "lr": self._epoch_lr,
               "train_loss": train_loss, "train_ppl": train_ppl, "val_loss": val_loss, "val_ppl": val_ppl}
        self.history.append(row)
        self.log_dict({k: float(v) for k, v in row.items() if k != "epoch"})
