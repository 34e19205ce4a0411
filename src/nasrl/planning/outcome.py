"""What one simulated search reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    mode: str                # "rounds" (in order, what the workflow runs) or "async" (completion order)
    slots: int
    replicas: int            # K
    staleness: int | None    # s of the rounds; None for async, whose staleness is measured only
    children: int            # children trained (whole rounds: K m x rounds >= the children asked)
    utilization: float
    limit: float             # the no-dependency schedule of the same durations
    mean_staleness: float    # updates applied between the controller that sampled a batch and its update
    max_staleness: int
    initial_share: float     # children sampled by the initial controller (before any update)
    hours: float             # first child's start to last child's end

    @property
    def of_limit(self) -> float:
        return self.utilization / self.limit
