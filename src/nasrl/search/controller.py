"""The LSTM controller of Zoph & Le (2017), Sec. 3.1-3.3.

A 2-layer LSTM with 35 units per layer, weights uniform in [-0.08, 0.08] (Sec. 4.1). At each
step one softmax head per decision kind picks a choice, whose embedding is the next step's
input (Fig. 2). At a layer's anchor point (Fig. 4, Sec. 3.3) each candidate earlier layer j
feeds the current layer with probability sigmoid(v^T tanh(W_prev h_j + W_curr h_i)), where
h_j, h_i are the top LSTM outputs at the two anchor steps; the skips are independent
Bernoulli draws and their log-probabilities enter REINFORCE unchanged.

Choices the paper leaves open (docs/paper.md Sec. 9), made here as in ENAS (Pham et al. 2018):
the first input is a learned start vector; after an anchor step the next input is the mean
of the chosen layers' anchor states, sum(skip * h_j) / (1 + sum(skip)) (zero when none).
Temperature and a tanh logit constant (ENAS) are optional and off by default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasrl.spaces.steps import Action, Anchor, Step


class Controller(nn.Module):
    """Autoregressive policy over a search space's step sequence.

    Args:
        decision_kinds: every categorical decision kind with its number of choices.
        hidden_size: LSTM units per layer (35 in the paper).
        num_layers: LSTM layers (2 in the paper).
        init_range: weights start uniform in [-init_range, init_range] (0.08 in the paper).
        temperature: divide logits by this (ENAS; None = off).
        tanh_constant: squash logits to C * tanh(logits) (ENAS; None = off).
    """

    def __init__(
        self,
        decision_kinds: dict[str, int],
        hidden_size: int = 35,
        num_layers: int = 2,
        init_range: float = 0.08,
        temperature: float | None = None,
        tanh_constant: float | None = None,
    ):
        super().__init__()
        self.hidden_size = hidden_size
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.start = nn.Parameter(torch.zeros(hidden_size))
        # A stack of LSTM cells, stepped by hand: the controller runs one step at a time,
        # where nn.LSTM's per-call overhead costs twice as much (measured on CPU).
        self.lstm = nn.ModuleList(nn.LSTMCell(hidden_size, hidden_size) for _ in range(num_layers))
        self.embeddings = nn.ModuleDict({k: nn.Embedding(n, hidden_size) for k, n in decision_kinds.items()})
        self.heads = nn.ModuleDict({k: nn.Linear(hidden_size, n) for k, n in decision_kinds.items()})
        self.attn_prev = nn.Linear(hidden_size, hidden_size, bias=False)  # W_prev
        self.attn_curr = nn.Linear(hidden_size, hidden_size, bias=False)  # W_curr
        self.attn_v = nn.Linear(hidden_size, 1, bias=False)  # v
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def _shape_logits(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def forward(
        self,
        steps: list[Step],
        batch_size: int,
        actions: list[torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Run the policy over ``steps``: sample (``actions=None``) or score given actions.

        Args:
            steps: the step sequence (from ``SearchSpace.steps`` or ``.encode``).
            batch_size: number of architectures B.
            actions: per step, a LongTensor [B] (categorical) or a float 0/1 tensor
                [B, C] (anchor with C candidates); given -> teacher forcing.
            generator: random source for sampling.

        Returns:
            (actions per step, summed log-probability [B], summed entropy [B]).
        """
        B, H = batch_size, self.hidden_size
        x = self.start.expand(B, H)
        state = [(torch.zeros(B, H), torch.zeros(B, H)) for _ in self.lstm]
        log_prob = torch.zeros(B)
        entropy = torch.zeros(B)
        anchor_h: dict[int, torch.Tensor] = {}  # layer -> h_j            [B, H]
        anchor_key: dict[int, torch.Tensor] = {}  # layer -> W_prev h_j   [B, H]
        taken: list[torch.Tensor] = []
        for t, step in enumerate(steps):
            h = self._lstm_step(x, state)  # [B, H], top layer output
            if isinstance(step, Anchor):
                x, a, lp, ent = self._anchor(step, h, anchor_h, anchor_key, actions[t] if actions else None, generator)
                anchor_h[step.layer], anchor_key[step.layer] = h, self.attn_prev(h)
            else:
                log_p = F.log_softmax(self._shape_logits(self.heads[step.kind](h)), dim=-1)  # [B, n_choices]
                if actions is None:
                    a = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(1)
                else:
                    a = actions[t]
                lp = log_p.gather(1, a.unsqueeze(1)).squeeze(1)
                ent = -(log_p.exp() * log_p).sum(-1)
                x = self.embeddings[step.kind](a)
            taken.append(a)
            log_prob = log_prob + lp
            entropy = entropy + ent
        return taken, log_prob, entropy

    def _lstm_step(self, x: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Advance every LSTM layer by one step (``state`` is updated in place)."""
        for layer, cell in enumerate(self.lstm):
            state[layer] = cell(x, state[layer])
            x = state[layer][0]
        return x

    def _anchor(self, step, h, anchor_h, anchor_key, given, generator):
        """One anchor point: independent sigmoids over the candidate earlier layers."""
        B = h.shape[0]
        if not step.candidates:
            zeros = torch.zeros(B)
            return torch.zeros_like(h), torch.zeros(B, 0), zeros, zeros
        keys = torch.stack([anchor_key[j] for j in step.candidates], dim=1)  # [B, C, H]
        logits = self.attn_v(torch.tanh(keys + self.attn_curr(h).unsqueeze(1))).squeeze(-1)  # [B, C]
        logits = self._shape_logits(logits)
        p = torch.sigmoid(logits)
        if given is None:
            skips = (torch.rand(logits.shape, generator=generator) < p).float()
        else:
            skips = given.float()
        log_on, log_off = F.logsigmoid(logits), F.logsigmoid(-logits)  # log p, log (1 - p)
        log_prob = (skips * log_on + (1.0 - skips) * log_off).sum(-1)
        entropy = -(p * log_on + (1.0 - p) * log_off).sum(-1)
        chosen = torch.stack([anchor_h[j] for j in step.candidates], dim=1)  # [B, C, H]
        x = (skips.unsqueeze(-1) * chosen).sum(1) / (1.0 + skips.sum(1, keepdim=True))
        return x, skips, log_prob, entropy


def actions_to_rows(steps: list[Step], taken: list[torch.Tensor]) -> list[list[Action]]:
    """Per-step batch tensors -> one list of plain actions per architecture."""
    batch = taken[0].shape[0] if taken else 0
    rows: list[list[Action]] = [[] for _ in range(batch)]
    for step, a in zip(steps, taken):
        for b in range(batch):
            rows[b].append(tuple(int(v) for v in a[b].tolist()) if isinstance(step, Anchor) else int(a[b]))
    return rows


def rows_to_actions(steps: list[Step], rows: list[list[Action]]) -> list[torch.Tensor]:
    """One list of plain actions per architecture -> per-step batch tensors."""
    out = []
    for t, step in enumerate(steps):
        if isinstance(step, Anchor):
            out.append(torch.tensor([row[t] for row in rows], dtype=torch.float32).reshape(len(rows), len(step.candidates)))
        else:
            out.append(torch.tensor([row[t] for row in rows], dtype=torch.long))
    return out
