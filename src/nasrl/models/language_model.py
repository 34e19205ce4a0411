"""The Penn Treebank child: a word-level language model on searched cells (Zoph & Le 2017, Sec. 4.2).

During search each child is 2 layers of the sampled cell, regularised with embedding
dropout and Gal-style variational dropout (docs/paper.md Sec. 7.1); some final models tie the
input and output embeddings (Sec. 7.2), and the final grid searches the dropout rates and the
weight initialisation (Sec. 7.2). The paper gives no sizes or rates for the word-level models,
so every default here is a placeholder to be set by the caller.

Dropout, in Gal & Ghahramani's (2016) variational sense, with masks drawn once per ``forward``
call (one mask per sequence segment, shared by all its time steps):

- ``embedding_dropout`` drops whole word types: every occurrence of a dropped word in the
  batch reads a zero embedding;
- ``dropout`` masks the input of every cell layer and the last layer's output, with one
  mask per sequence and unit, shared over time;
- ``recurrent_dropout`` masks h_{t-1} where each cell's recurrent matrix reads it, one mask
  per layer, sequence and unit, shared over time (the state carried on is not masked).

``init_range`` r draws every weight uniformly from [-r, r], as Zaremba et al. (2014) and the
setups the paper compares to do (0.05 for their medium model); None keeps PyTorch's layer
defaults for the cells and [-0.1, 0.1] for the embedding and decoder. The training loop owns
detaching the state between truncated-BPTT segments.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasrl.models.rnn_cell import State, TreeCell


def sequence_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Variational dropout on [B, T, D]: one Bernoulli mask per (sequence, unit), shared over T."""
    if not training or p == 0.0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1.0 - p) / (1.0 - p)
    return x * mask


class CellLanguageModel(nn.Module):
    """Embedding -> ``num_layers`` TreeCells -> linear decoder over the vocabulary.

    Args:
        arch: ``rnn_cell`` architecture value shared by every layer.
        vocab_size: number of word types V.
        embedding_size: width of the input embedding (layer 0's input size).
        hidden_size: width H of every cell.
        num_layers: stacked cells (2 in the paper's search, Sec. 4.2).
        dropout: variational dropout on each layer's input and on the output.
        embedding_dropout: probability of dropping a word type.
        tie_weights: share the embedding matrix with the decoder (Inan et al.; Press & Wolf).
        recurrent_dropout: variational dropout on h_{t-1} inside every cell (Gal & Ghahramani).
        init_range: every weight uniform in [-init_range, init_range]; None: the defaults above.

    Raises:
        ValueError: ``tie_weights`` with ``embedding_size != hidden_size``, a rate outside [0, 1),
            or an ``init_range`` that is not > 0.
    """

    @staticmethod
    def tensor_specs(args: dict[str, Any], data: dict[str, Any]) -> tuple[tuple[str, tuple, str], ...]:
        """(dtype, shape, name) of the input and the output, batch and sequence dimensions free (-1):
        word ids [B, T] to next-word logits [B, T, vocabulary]."""
        return ("int64", (-1, -1), "tokens"), ("float32", (-1, -1, args["vocab_size"]), "logits")

    def __init__(self, arch: dict[str, Any], vocab_size: int, embedding_size: int, hidden_size: int,
                 num_layers: int = 2, dropout: float = 0.5, embedding_dropout: float = 0.1,
                 tie_weights: bool = False, recurrent_dropout: float = 0.0, init_range: float | None = None):
        super().__init__()
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(f"tie_weights needs embedding_size == hidden_size, got {embedding_size} and {hidden_size}")
        for name, rate in (("dropout", dropout), ("embedding_dropout", embedding_dropout),
                           ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {rate}")
        if init_range is not None and not init_range > 0:
            raise ValueError(f"init_range: expected a number > 0 or None, got {init_range}")
        self.dropout, self.embedding_dropout = dropout, embedding_dropout
        self.recurrent_dropout = recurrent_dropout
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.cells = nn.ModuleList(
            TreeCell(arch, embedding_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.decoder = nn.Linear(hidden_size, vocab_size)
        # Small uniform init for the word vectors, as Zaremba et al. (2014) and the PyTorch
        # word_language_model example do; nn.Embedding's N(0, 1) would swamp the cells.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight  # one Parameter, [V, H]
        else:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        if init_range is not None:  # Zaremba et al. (2014): all parameters, biases included
            for parameter in self.parameters():  # a tied matrix is one Parameter, drawn once
                nn.init.uniform_(parameter, -init_range, init_range)

    def init_state(self, batch_size: int) -> list[State]:
        """Zero (h, c) for every layer."""
        return [cell.init_state(batch_size) for cell in self.cells]

    def forward(self, tokens: torch.Tensor, state: list[State] | None = None) -> tuple[torch.Tensor, list[State]]:
        """Predict the next token at every position.

        Args:
            tokens: [B, T] word ids.
            state: per layer (h, c), each [B, H]; zeros when None.

        Returns:
            (logits [B, T, V], the state after the last step, to pass to the next segment).
        """
        if state is None:
            state = self.init_state(tokens.shape[0])
        x = F.embedding(tokens, self._dropped_embedding())  # [B, T, E]
        new_state = []
        for cell, layer_state in zip(self.cells, state):
            h_mask = self._recurrent_mask(layer_state[0])
            x, layer_state = cell.forward_sequence(sequence_dropout(x, self.dropout, self.training), layer_state,
                                                   h_mask)
            new_state.append(layer_state)
        x = sequence_dropout(x, self.dropout, self.training)  # [B, T, H]
        return self.decoder(x), new_state

    def _recurrent_mask(self, h: torch.Tensor) -> torch.Tensor | None:
        """One [B, H] Bernoulli mask (scaled by 1 / (1 - p)) for a layer's h_{t-1}, or None."""
        if not self.training or self.recurrent_dropout == 0.0:
            return None
        return h.new_empty(h.shape).bernoulli_(1.0 - self.recurrent_dropout) / (1.0 - self.recurrent_dropout)

    def _dropped_embedding(self) -> torch.Tensor:
        """Embedding matrix with whole rows (word types) zeroed at rate ``embedding_dropout``."""
        weight = self.embedding.weight
        if not self.training or self.embedding_dropout == 0.0:
            return weight
        keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - self.embedding_dropout)
        return weight * keep / (1.0 - self.embedding_dropout)
