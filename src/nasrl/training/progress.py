"""What a child prints while it trains: one line per epoch, and a progress bar in a terminal.

A workflow job's output goes to its log file (``logs/{experiment}/children/{key}.log``): one
line per finished epoch (loss, validation metric, seconds) tells whoever reads it, or follows
it with ``tail -f``, how far a child got and how fast, without a bar's redraws filling the
file. ``nasrl train-child`` run by hand in a terminal also shows Lightning's progress bar.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import pytorch_lightning as pl


def show_progress_bar(stream: TextIO | None = None) -> bool:
    """A bar only where someone watches it: a terminal (Lightning's bar writes to stderr)."""
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def epoch_line(row: dict[str, float], epochs: int, seconds: float) -> str:
    """``epoch 2/4  lr 0.1  train_loss 0.4120  val_loss 0.3811  val_acc 0.9310  3.21 s``"""
    values = "  ".join(f"{name} {value:.4g}" if name == "lr" else f"{name} {value:.4f}"
                       for name, value in row.items() if name != "epoch")
    return f"epoch {int(row['epoch'])}/{epochs}  {values}  {seconds:.2f} s"


class EpochLog(pl.Callback):
    """Prints each row of the training system's history (one per finished epoch) as it appears.

    The system appends a row in its own ``on_train_epoch_end``, which Lightning calls after
    the callbacks' hook of the same name; so the row is printed when the next epoch starts,
    or when training ends."""

    def __init__(self, epochs: int, stream: TextIO | None = None):
        self.epochs = epochs
        self.stream = stream
        self.printed = 0
        self.epoch_start = time.perf_counter()

    def _print_new_rows(self, pl_module) -> None:
        history = getattr(pl_module, "history", [])
        seconds = time.perf_counter() - self.epoch_start
        for row in history[self.printed:]:
            print(epoch_line(row, self.epochs, seconds), file=self.stream or sys.stdout, flush=True)
        self.printed = len(history)

    def on_train_epoch_start(self, trainer, pl_module):
        self._print_new_rows(pl_module)
        self.epoch_start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self._print_new_rows(pl_module)
