"""The Lightning system that trains a language-model child (Zoph & Le 2017, Sec. 4.2).

Truncated backpropagation through time: batches are consecutive [B, T] windows of B
parallel token streams, so the hidden state is carried (detached) from one window to the
next and reset at the start of every epoch and evaluation pass. Perplexity is
exp(mean cross-entropy per token). On character data the system also reports bits per
character, the paper's Table 3 metric (docs/paper.md Sec. 7.4): bpc = mean cross-entropy in
nats / ln 2 (``train_bpc``, ``val_bpc`` in each history row, ``test_bpc``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasrl.training.system import ChildSystem


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
        """(mean loss per token, perplexity) of the epoch."""
        if self.tokens == 0:
            return math.nan, math.nan
        mean = float(self.loss) / self.tokens
        return mean, math.exp(mean) if mean < 700 else math.inf


class LanguageModelSystem(ChildSystem):
    """SGD (or Adam) training of a recurrent-cell language model.

    Args:
        model: maps (tokens [B, T], state) -> (logits [B, T, V], state); has ``init_state(B)``.
        epochs: planned epochs (the schedule's milestones are fractions of it).
        lr, momentum, nesterov, weight_decay: SGD settings (Adam takes lr and weight_decay).
        lr_decay_at, lr_decay_factor: step schedule as for images.
        optimizer: "sgd" (Zaremba et al.'s word models) or "adam" (the paper's character model, Sec. 7.4).
        bits_per_char: the tokens are characters: also report bits per character.
    """

    metric = "ppl"
    input_dtype = torch.long  # token ids

    @classmethod
    def data_options(cls, config) -> dict[str, Any]:
        return {"bptt": config.language_model.bptt}

    @classmethod
    def network_args(cls, config, datamodule) -> dict[str, Any]:
        lm = config.language_model  # two cell layers, as the paper's language models (Sec. 4.2)
        return {"vocab_size": datamodule.vocab_size, "embedding_size": lm.embedding_size, "hidden_size": lm.hidden_size,
                "num_layers": 2, "dropout": lm.dropout, "embedding_dropout": lm.embedding_dropout,
                "tie_weights": lm.tie_weights, "recurrent_dropout": lm.recurrent_dropout, "init_range": lm.init_range}

    @classmethod
    def batch_shape(cls, config, datamodule) -> tuple[int, ...]:
        return (config.batch_size, config.language_model.bptt)  # tokens [B, T]

    @classmethod
    def from_settings(cls, model: nn.Module, config, datamodule) -> LanguageModelSystem:
        opt = config.optimizer
        return cls(model, config.epochs, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay,
                   lr_decay_at=tuple(config.lr_decay_at), lr_decay_factor=config.lr_decay_factor,
                   optimizer=config.language_model.optimizer,
                   bits_per_char=getattr(datamodule, "level", "word") == "char")

    @classmethod
    def optimizer_states(cls, config) -> int:
        return 2 if config.language_model.optimizer == "adam" else 1  # Adam: two moments per weight

    def __init__(self, model: nn.Module, epochs: int, lr: float = 1.0, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, lr_decay_at: tuple[float, ...] = (0.5, 0.75),
                 lr_decay_factor: float = 0.1, optimizer: str = "sgd", bits_per_char: bool = False):
        super().__init__()
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer: expected 'sgd' or 'adam', got {optimizer!r}")
        self.model = model
        self.save_hyperparameters(ignore=["model"])
        self.meters = {split: TokenMeter() for split in ("train", "val", "test")}
        self.state = None
        self._train_state = None

    def configure_optimizers(self):
        """SGD as for every child, or Adam (its L2 weight decay added to the gradient, as TensorFlow's
        Adam with a regulariser does) under the same step schedule."""
        configured = super().configure_optimizers()
        h = self.hparams
        if h.optimizer == "adam":  # the shared schedule's milestones, moved onto Adam
            scheduler = configured["lr_scheduler"]["scheduler"]
            adam = torch.optim.Adam(self.model.parameters(), lr=h.lr, weight_decay=h.weight_decay)
            scheduler = torch.optim.lr_scheduler.MultiStepLR(adam, sorted(scheduler.milestones),
                                                             gamma=scheduler.gamma)
            configured = {"optimizer": adam, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        return configured

    def on_train_epoch_end(self):
        super().on_train_epoch_end()
        if self.hparams.bits_per_char:
            row = self.history[-1]
            row.update(train_bpc=row["train_loss"] / math.log(2), val_bpc=row["val_loss"] / math.log(2))
            self.log_dict({"train_bpc": row["train_bpc"], "val_bpc": row["val_bpc"]})

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        if self.hparams.bits_per_char:
            loss, _ = self.meters["test"].compute()
            self.log("test_bpc", loss / math.log(2))

    def forward(self, tokens: torch.Tensor, state=None):
        return self.model(tokens, state)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        if self.state is None or self.state[0][0].shape[0] != x.shape[0]:
            self.state = [(h.to(x.device), c.to(x.device)) for h, c in self.model.init_state(x.shape[0])]
        logits, state = self(x, self.state)
        self.state = _detach(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.meters[split].add(loss, y.numel())
        return loss

    # Every pass starts from a zero state; validation inside a training epoch keeps the
    # training stream's state aside and gives it back afterwards.
    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.state = None

    def on_validation_epoch_start(self):
        super().on_validation_epoch_start()
        self._train_state, self.state = self.state, None

    def on_validation_epoch_end(self):
        self.state = self._train_state

    def on_test_epoch_start(self):
        super().on_test_epoch_start()
        self.state = None
