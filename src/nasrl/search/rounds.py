"""Rounds of a search with controller replicas and bounded staleness (Zoph & Le 2017, Sec. 3.3).

The paper trains 800 children at once: 100 controller replicas each sample m = 8 children and
send their gradients to a parameter server asynchronously. Here the same estimator is made
deterministic, with no server:

- **Replicas (K).** Round r samples K batches of m children; replica k's batch is drawn with
  the random stream of its place in the search, offset (r K + k) m. The round's update then
  applies K REINFORCE steps in replica order, each gradient taken at the parameters that
  sampled the batch and applied to the newest controller: an asynchronous replica's update
  is stale by fewer than K steps, as here. The baseline absorbs each batch in turn.
- **Staleness (s).** Round r is sampled from controller max(0, r - s), so round r + 1 can
  train while round r's slowest children finish. s = 0 is the synchronous search.

With K = 1 and s = 0 a round is exactly one ``ask(m)`` and one ``tell``: the same history as
a plain synchronous search, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasrl.search.base import SearchStrategy


@dataclass(frozen=True)
class RoundPlan:
    """How rounds are shaped: m children per replica, K replicas, staleness s."""

    children_per_replica: int  # m
    replicas: int = 1  # K
    staleness: int = 0  # s

    def __post_init__(self):
        for name, low in (("children_per_replica", 1), ("replicas", 1), ("staleness", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")

    @property
    def children_per_round(self) -> int:
        return self.children_per_replica * self.replicas

    def sampling_controller(self, round_index: int) -> int:
        """The controller (index = updates applied) that samples round ``round_index``."""
        return max(0, round_index - self.staleness)

    def offset(self, round_index: int, replica: int = 0) -> int:
        """Samples of the whole search before replica ``replica``'s batch of this round."""
        return (round_index * self.replicas + replica) * self.children_per_replica


def ask_round(sampler: SearchStrategy, plan: RoundPlan, round_index: int) -> list[dict[str, Any]]:
    """The round's K x m children, in replica order: dicts with replica, index, arch."""
    rows = []
    for replica in range(plan.replicas):
        archs = sampler.ask(plan.children_per_replica, offset=plan.offset(round_index, replica))
        for arch in archs:
            rows.append({"replica": replica, "index": len(rows), "arch": arch})
    return rows


def tell_round(current: SearchStrategy, batches: list[tuple[list[dict[str, Any]], list[float]]],
               sampler: SearchStrategy | None = None) -> list[dict[str, float]]:
    """Apply one update per replica batch (in replica order) to ``current``; ``sampler`` is the
    state that sampled the round, or None when it is ``current`` itself with one replica."""
    if sampler is None and len(batches) > 1:
        raise ValueError("tell_round: several replica batches need the sampling state, not the updated one")
    return [current.tell(archs, rewards, sampler=sampler) for archs, rewards in batches]
