"""Language-model data as batched BPTT streams (docs/paper.md Sec. 7).

The RNN children are trained as in Zaremba et al. (2014), whose setup the paper keeps
(Sec. 7.1, 7.4): each split is one long token stream, cut into ``batch_size`` contiguous
rows, and the model reads consecutive, non-overlapping windows of ``bptt`` steps while
carrying its hidden state from one window to the next. Row ``b`` of window ``k + 1``
therefore continues row ``b`` of window ``k`` exactly, so the windows must be served in
order and never shuffled.

Choices the paper leaves open: the final window of a split may be shorter than ``bptt``
(so every token except the last is predicted once, which keeps validation perplexity
exact), and the tokens that do not fill a whole row are dropped.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from nasrl.data.vocab import Vocabulary

TEXT_SPLITS = ("train", "valid", "test")


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D token stream into ``batch_size`` contiguous rows.

    Args:
        stream: int64 token ids ``[N]``.
        batch_size: number of rows B.

    Returns:
        ``[B, N // B]``: row ``b`` holds tokens ``b * L .. (b + 1) * L - 1`` with
        ``L = N // B``; the ``N % B`` trailing tokens are dropped.
    """
    length = stream.numel() // batch_size
    return stream[:batch_size * length].view(batch_size, length)


class BpttWindows(Dataset):
    """The consecutive ``(x, y)`` windows of a batchified stream, in order.

    Item ``k`` is ``x = rows[:, k*T : k*T + T]`` and ``y = rows[:, k*T + 1 : k*T + T + 1]``
    (the next token at each position), both int64 ``[B, T]``; the last item may be
    shorter in T. Used with ``DataLoader(batch_size=None)`` since items are batches.

    Args:
        rows: ``[B, L]`` token ids from ``batchify``.
        bptt: window length T.
    """

    def __init__(self, rows: torch.Tensor, bptt: int) -> None:
        if bptt < 1:
            raise ValueError(f"bptt must be >= 1, got {bptt}")
        self.rows = rows
        self.bptt = bptt

    def __len__(self) -> int:
        # The last token of a row has no target, so L - 1 positions are predicted.
        predicted = max(self.rows.shape[1] - 1, 0)
        return (predicted + self.bptt - 1) // self.bptt

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= k < len(self):
            raise IndexError(k)
        start = k * self.bptt
        stop = min(start + self.bptt, self.rows.shape[1] - 1)
        x = self.rows[:, start:stop].contiguous()  # [B, T]
        y = self.rows[:, start + 1:stop + 1].contiguous()  # [B, T], x shifted by one
        return x, y


class TextDataModule(pl.LightningDataModule):
    """Base for language-model data: token streams in, ordered BPTT windows out.

    Give the streams directly, or subclass and implement ``load_streams``.

    Args:
        vocab: the vocabulary the ids refer to.
        streams: ``{"train"|"valid"|"test": 1-D int64 ids}``.
        batch_size: B, rows per batch (20 as in Zaremba et al. 2014).
        bptt: T, steps per window (35 as in Zaremba et al. 2014).
        eval_batch_size: B for validation and test; defaults to ``batch_size``.
    """

    def __init__(self, vocab: Vocabulary | None = None, streams: dict[str, torch.Tensor] | None = None,
                 batch_size: int = 20, bptt: int = 35, eval_batch_size: int | None = None) -> None:
        super().__init__()
        if batch_size < 1 or bptt < 1:
            raise ValueError(f"batch_size and bptt must be >= 1, got {batch_size} and {bptt}")
        self.batch_size = batch_size
        self.bptt = bptt
        self.eval_batch_size = eval_batch_size or batch_size
        self.vocab = vocab
        self.streams = streams

    def load_streams(self) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
        """Return the vocabulary and the three id streams; subclasses read their files here."""
        raise NotImplementedError("pass vocab and streams, or implement load_streams()")

    def setup(self, stage: str | None = None) -> None:
        """Load the streams once (idempotent, so properties may call it early)."""
        if self.vocab is None or self.streams is None:
            self.vocab, self.streams = self.load_streams()

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids (the model's embedding and softmax size)."""
        self.setup()
        return len(self.vocab)

    def num_tokens(self, split: str) -> int:
        """Length of the id stream of ``split`` ("train", "valid" or "test"), before batchify."""
        self.setup()
        return self.streams[split].numel()

    def windows(self, split: str, batch_size: int) -> BpttWindows:
        """The ordered BPTT windows of one split."""
        self.setup()
        return BpttWindows(batchify(self.streams[split], batch_size), self.bptt)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size)

    def _loader(self, split: str, batch_size: int) -> DataLoader:
        # batch_size=None: each item already is a [B, T] batch; shuffle=False keeps the
        # windows consecutive, which the carried hidden state relies on.
        return DataLoader(self.windows(split, batch_size), batch_size=None, shuffle=False)
