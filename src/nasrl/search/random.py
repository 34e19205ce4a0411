"""Random search over the same decisions: the control experiment of Zoph & Le (2017), Sec. 4.2.

Every categorical decision is uniform over its choices and every candidate skip is kept
with probability 1/2: the distribution of an untrained controller with zero logits.
"""

from __future__ import annotations

from typing import Any

import torch

from nasrl.spaces.steps import Action, Anchor, Step
from nasrl.search.base import SearchStrategy


class RandomSearch(SearchStrategy):
    name = "random"

    def __init__(self, space, seed: int = 0, config: dict[str, Any] | None = None):
        if config:
            raise ValueError(f"random search takes no settings, got {sorted(config)}")
        super().__init__(space, seed)

    def _sample(self, steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
        return uniform_rows(steps, m, generator)

    def _update(self, archs: list[dict[str, Any]], rewards: torch.Tensor, sampler=None) -> dict[str, float]:
        return {}


def uniform_rows(steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
    """``m`` rows of actions drawn uniformly: each choice equally likely, each skip kept with p = 1/2."""
    rows: list[list[Action]] = [[] for _ in range(m)]
    for step in steps:
        if isinstance(step, Anchor):
            bits = torch.rand(m, len(step.candidates), generator=generator) < 0.5
            for b in range(m):
                rows[b].append(tuple(int(v) for v in bits[b].tolist()))
        else:
            picks = torch.randint(len(step.choices), (m,), generator=generator)
            for b in range(m):
                rows[b].append(int(picks[b]))
    return rows
