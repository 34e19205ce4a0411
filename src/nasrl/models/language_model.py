"""The Penn Treebank child: a word-level language model on searched cells (Zoph & Le 2017, Sec. 4.2).

During search each child is 2 layers of the sampled cell, regularised with embedding
dropout and Gal-style variational dropout (docs/paper.md Sec. 7.1); some final models tie the
input and output embeddings (Sec. 7.2). The paper gives no sizes or rates, so every
default here is a placeholder to be set by the caller.

Dropout, in Gal & Ghahramani's (2016) sense, with masks drawn once per ``forward`` call
(one mask per sequence segment, shared by all its time steps):

- ``embedding_dropout`` drops whole word types: every occurrence of a dropped word in the
  batch reads a zero embedding;
- ``dropout`` masks the input of every cell layer and the last layer's output, with one
  mask per sequence and unit, shared over time.

Not done: Gal's dropout on the recurrent connection h_{t-1} (a later refinement; it would
need the mask inside ``TreeCell.step``). The training loop owns detaching the state
between truncated-BPTT segments.
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

    Raises:
        ValueError: ``tie_weights`` with ``embedding_size != hidden_size``, or a rate outside [0, 1).
    """

    def __init__(self, arch: dict[str, Any], vocab_size: int, embedding_size: int, hidden_size: int,
                 num_layers: int = 2, dropout: float = 0.5, embedding_dropout: float = 0.1,
                 tie_weights: bool = False):
        super().__init__()
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(f"tie_weights needs embedding_size == hidden_size, got {embedding_size} and {hidden_size}")
        for name, rate in (("dropout", dropout), ("embedding_dropout", embedding_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {rate}")
        self.dropout, self.embedding_dropout = dropout, embedding_dropout
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
            x, layer_state = cell.forward_sequence(sequence_dropout(x, self.dropout, self.training), layer_state)
            new_state.append(layer_state)
        x = sequence_dropout(x, self.dropout, self.training)  # [B, T, H]
        return self.decoder(x), new_state

    def _dropped_embedding(self) -> torch.Tensor:
        """Embedding matrix with whole rows (word types) zeroed at rate ``embedding_dropout``."""
        weight = self.embedding.weight
        if not self.training or self.embedding_dropout == 0.0:
            return weight
        keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - self.embedding_dropout)
        return weight * keep / (1.0 - self.embedding_dropout)
