"""The Lightning system that trains an image-classification child (Zoph & Le 2017, Sec. 4.1).

Keeps the model (a plain ``nn.Module``) apart from the training logic, as the Lightning style
guide asks. Metrics are accumulated as tensors inside the steps and logged once per epoch:
per-step ``self.log`` calls cost more than a small child's forward pass on a CPU.
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def check_finite(loss: torch.Tensor, epoch: int, batch_idx: int) -> None:
    """Raise DivergedError on a NaN/inf loss. On an accelerator, reading the loss forces a
    device sync, so there it is checked every 25 batches (a NaN persists once it appears)."""
    if loss.device.type != "cpu" and batch_idx % 25:
        return
    if not torch.isfinite(loss.detach()):
        raise DivergedError(f"training loss is {float(loss.detach())} at epoch {epoch + 1}, batch {batch_idx}")


class EpochMeter:
    """Sums of loss, correct predictions and examples over one epoch of one split."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros(())
        self.correct = torch.zeros((), dtype=torch.long)
        self.count = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        n = y.shape[0]
        self.loss = self.loss.to(loss.device) + loss.detach().float() * n
        self.correct = self.correct.to(y.device) + (logits.argmax(-1) == y).sum()
        self.count += n

    def compute(self) -> tuple[float, float]:
        if self.count == 0:
            return math.nan, math.nan
        return float(self.loss) / self.count, float(self.correct) / self.count


class ImageClassifier(pl.LightningModule):
    """SGD training of a child CNN with a step learning-rate schedule.

    Args:
        model: the child network, images [B, C, H, W] -> logits [B, classes].
        epochs: planned epochs (the schedule's milestones are fractions of it).
        lr, momentum, nesterov, weight_decay: SGD settings (Sec. 4.1: 0.1, 0.9, True, 1e-4).
        lr_decay_at: fractions of ``epochs`` at which the learning rate is multiplied by
            ``lr_decay_factor`` (DenseNet: 0.5 and 0.75, factor 0.1).
        channels_last: feed images in channels-last memory format.
    """

    def __init__(self, model: nn.Module, epochs: int, lr: float = 0.1, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 1e-4, lr_decay_at: tuple[float, ...] = (0.5, 0.75),
                 lr_decay_factor: float = 0.1, channels_last: bool = True):
        super().__init__()
        self.model = model
        self.save_hyperparameters(ignore=["model"])
        self.meters = {split: EpochMeter() for split in ("train", "val", "test")}
        self.history: list[dict[str, float]] = []  # one row per finished epoch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.meters[split].add(loss, logits, y)
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

    def on_train_epoch_start(self):
        self.meters["train"].reset()
        self._epoch_lr = self.optimizers().param_groups[0]["lr"]  # the scheduler steps before epoch end hooks

    def on_validation_epoch_start(self):
        self.meters["val"].reset()

    def on_test_epoch_start(self):
        self.meters["test"].reset()

    def on_test_epoch_end(self):
        loss, acc = self.meters["test"].compute()
        self.log_dict({"test_loss": loss, "test_acc": acc})

    def on_train_epoch_end(self):
        # Lightning 2 runs the epoch's validation before this hook, so both splits are in.
        train_loss, train_acc = self.meters["train"].compute()
        val_loss, val_acc = self.meters["val"].compute()
        row = {"epoch": self.current_epoch + 1, "lr": self._epoch_lr,
               "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc}
        self.history.append(row)
        self.log_dict({k: float(v) for k, v in row.items() if k != "epoch"})
