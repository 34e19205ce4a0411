"""The Lightning system that trains an image-classification child (Zoph & Le 2017, Sec. 4.1)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasrl.training.system import ChildSystem


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
        """(mean loss, accuracy) of the epoch."""
        if self.count == 0:
            return math.nan, math.nan
        return float(self.loss) / self.count, float(self.correct) / self.count


class ImageClassifier(ChildSystem):
    """SGD training of a child CNN with a step learning-rate schedule.

    Args:
        model: the child network, images [B, C, H, W] -> logits [B, classes].
        epochs: planned epochs (the schedule's milestones are fractions of it).
        lr, momentum, nesterov, weight_decay: SGD settings (Sec. 4.1: 0.1, 0.9, True, 1e-4).
        lr_decay_at: fractions of ``epochs`` at which the learning rate is multiplied by
            ``lr_decay_factor`` (DenseNet: 0.5 and 0.75, factor 0.1).
        channels_last: feed images in channels-last memory format.
    """

    metric = "acc"
    input_dtype = torch.float32

    @classmethod
    def data_options(cls, config) -> dict[str, Any]:
        # the seed draws the train/validation split; augment: crop and flip (Sec. 4.1) or none
        return {"seed": config.seed, **({"augment": config.augment} if config.augment is not None else {})}

    @classmethod
    def network_args(cls, config, datamodule) -> dict[str, Any]:
        return {"in_channels": datamodule.in_channels, "num_classes": datamodule.num_classes, "bn_eps": config.bn_eps}

    @classmethod
    def batch_shape(cls, config, datamodule) -> tuple[int, ...]:
        # images [B, C, H, W]: the crop keeps the size
        return (config.batch_size, datamodule.in_channels, datamodule.image_size, datamodule.image_size)

    @classmethod
    def from_settings(cls, model: nn.Module, config, datamodule) -> ImageClassifier:
        opt = config.optimizer
        return cls(model, config.epochs, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay,
                   lr_decay_at=tuple(config.lr_decay_at), lr_decay_factor=config.lr_decay_factor,
                   channels_last=config.channels_last)

    def __init__(self, model: nn.Module, epochs: int, lr: float = 0.1, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 1e-4, lr_decay_at: tuple[float, ...] = (0.5, 0.75),
                 lr_decay_factor: float = 0.1, channels_last: bool = True):
        super().__init__()
        self.model = model
        self.save_hyperparameters(ignore=["model"])
        self.meters = {split: EpochMeter() for split in ("train", "val", "test")}

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
