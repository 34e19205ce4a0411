"""Search strategies share one interface: ``ask`` for architectures, ``tell`` their rewards.

``ask(m)`` is a pure function of the strategy's state: it samples the next ``m``
architectures with a random stream derived from (seed, samples seen so far), so a pipeline
can sample in one process and update in another, and a search restarted from any saved
state draws exactly what an uninterrupted one would. ``tell(archs, rewards)`` advances
the state: it counts the samples and, for REINFORCE, takes one controller step.

The whole state (weights, optimizer, baseline, counters, seed, space spec) is one file:
:func:`nasrl.search.registry.save_strategy` / :func:`~nasrl.search.registry.load_strategy`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from nasrl.architecture import content_key
from nasrl.spaces import SearchSpace
from nasrl.spaces.steps import Action, Step

STATE_FORMAT = 1


def derived_seed(*parts: Any) -> int:
    """A 63-bit seed that depends on every part (stable across processes and machines)."""
    return int(content_key(list(parts)), 16) & (2**63 - 1)


class SearchStrategy(ABC):
    """Base class: depth schedule, derived random streams, counters and state io."""

    name: str

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        self.seed = int(seed)
        self.samples_seen = 0
        self.updates = 0

    def ask(self, m: int, offset: int | None = None) -> list[dict[str, Any]]:
        """Sample ``m`` architectures (does not change the state).

        ``offset`` is the number of samples of the whole search before these (default: the
        samples this state has seen). It picks the random stream and the depth schedule's
        step, so a stale controller (bounded staleness) or one of several replicas draws a
        batch that depends only on (seed, offset) and its own weights.
        """
        if m < 1:
            raise ValueError(f"ask: m must be >= 1, got {m}")
        offset = self.samples_seen if offset is None else int(offset)
        steps = self.space.steps(offset)
        generator = torch.Generator().manual_seed(derived_seed("sample", self.seed, offset))
        rows = self._sample(steps, m, generator)
        return [self.space.decode(steps, row) for row in rows]

    def tell(self, archs: list[dict[str, Any]], rewards: list[float],
             sampler: "SearchStrategy | None" = None) -> dict[str, float]:
        """Report the rewards of ``archs``; returns statistics of the update.

        ``sampler`` is the state that sampled ``archs`` when it is not this one (an older
        controller under bounded staleness, or this round's controller for a later replica):
        a learning strategy takes its gradient there and applies it here, as the paper's
        asynchronous replicas apply gradients computed at the parameters they sampled with.
        """
        if len(archs) != len(rewards) or not archs:
            raise ValueError(f"tell: need one reward per architecture, got {len(archs)} archs and {len(rewards)} rewards")
        rewards_t = torch.tensor([float(r) for r in rewards], dtype=torch.float64)
        if not torch.isfinite(rewards_t).all():
            raise ValueError(f"tell: rewards must be finite numbers, got {list(rewards)}")
        stats = self._update(archs, rewards_t, sampler)
        self.samples_seen += len(archs)
        self.updates += 1
        return {"mean_reward": float(rewards_t.mean()), "max_reward": float(rewards_t.max()), **stats}

    @abstractmethod
    def _sample(self, steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
        """``m`` rows of actions for ``steps``."""

    @abstractmethod
    def _update(self, archs: list[dict[str, Any]], rewards: torch.Tensor,
                sampler: "SearchStrategy | None") -> dict[str, float]:
        """Learn from one batch of rewards (sampled by ``sampler``, or by this state if None)."""

    # --- state ------------------------------------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "strategy": self.name,
            "seed": self.seed,
            "space": self.space.spec,
            "config": self.config_dict(),
            "samples_seen": self.samples_seen,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.samples_seen = int(state["samples_seen"])
        self.updates = int(state["updates"])
