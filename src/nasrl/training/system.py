"""What the image and language-model training systems share: SGD with a step schedule,
divergence checks and one history row per epoch.

Keeps the model (a plain ``nn.Module``) apart from the training logic, as the Lightning style
guide asks. Metrics are accumulated as tensors inside the steps and logged once per epoch:
per-step ``self.log`` calls cost more than a small child's forward pass on a CPU.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def check_finite(loss: torch.Tensor, epoch: int, batch_idx: int) -> None:
    """Raise DivergedError on a NaN/inf loss. On an accelerator, reading the loss forces a
    device sync, so there it is checked every 25 batches (a NaN persists once it appears)."""
    if loss.device.type != "cpu" and batch_idx % 25:
        return
    if not torch.isfinite(loss.detach()):
        raise DivergedError(f"training loss is {float(loss.detach())} at epoch {epoch + 1}, batch {batch_idx}")


class ChildSystem(pl.LightningModule):
    """Base of the child training systems.

    Subclasses set ``metric`` ("acc" or "ppl"), create ``self.meters`` (one per split, each
    with ``reset()`` and ``compute() -> (loss, metric)``) and implement ``_step(batch, split)``.
    The hyperparameters ``epochs, lr, momentum, nesterov, weight_decay, lr_decay_at,
    lr_decay_factor`` must be saved with ``save_hyperparameters``.

    A subclass also says how a child of its space kind is put together from the child settings
    (``nasrl.space_kinds`` names the system of each kind): the data module's options, the
    network's constructor arguments, the shape and type of one batch, and the system itself.
    """

    metric: str
    input_dtype: torch.dtype  # of a batch's inputs (the memory estimate's meta batch)

    @classmethod
    def data_options(cls, config) -> dict[str, Any]:
        """Options of the data module beyond its batch size."""
        return {}

    @classmethod
    def network_args(cls, config, datamodule) -> dict[str, Any]:
        """The network's constructor arguments (stored in model.pt, so it can be rebuilt alone)."""
        raise NotImplementedError

    @classmethod
    def batch_shape(cls, config, datamodule) -> tuple[int, ...]:
        """The shape of one training batch's inputs."""
        raise NotImplementedError

    @classmethod
    def from_settings(cls, model: torch.nn.Module, config, datamodule) -> ChildSystem:
        """The system training ``model`` under the child settings ``config``."""
        raise NotImplementedError

    @classmethod
    def optimizer_states(cls, config) -> int:
        """Tensors of optimizer state per weight (SGD's momentum: 1)."""
        return 1

    def __init__(self):
        super().__init__()
        self.history: list[dict[str, float]] = []  # one row per finished epoch
        self._epoch_lr = float("nan")

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        check_finite(loss, self.current_epoch, batch_idx)
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        """SGD with the learning rate multiplied by ``lr_decay_factor`` at fractions of the epochs."""
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
        loss, value = self.meters["test"].compute()
        self.log_dict({"test_loss": loss, f"test_{self.metric}": value})

    def on_train_epoch_end(self):
        # Lightning 2 runs the epoch's validation before this hook, so both splits are in.
        train_loss, train_value = self.meters["train"].compute()
        val_loss, val_value = self.meters["val"].compute()
        row = {"epoch": self.current_epoch + 1, "lr": self._epoch_lr, "train_loss": train_loss,
               f"train_{self.metric}": train_value, "val_loss": val_loss, f"val_{self.metric}": val_value}
        self.history.append(row)
        self.log_dict({k: float(v) for k, v in row.items() if k != "epoch"})
