"""The physical limit: the same children on the same slots with no dependencies at all.

Every child is submitted at time 0 and starts, in the order of ``durations``, on the first
free slot. Durations are unknown before a child runs, so no scheduler can sort them; what is
left is the tail: the last children started may be long ones while the other slots run dry.

It bounds every schedule of ``nasrl.planning.cluster``: there child k starts in the same
order, at max(its submission, child k - 1's start, the time the (k - N)-th earliest of the
children before it ends); each term is non-decreasing in the earlier children's starts, so by
induction no child starts earlier than here (release times >= 0), and the span from the first
start to the last end is no shorter.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from nasrl.planning.durations import draw_durations


def no_dependency_utilization(durations: np.ndarray, slots: int) -> float:
    """Busy time over slots x span of the list schedule of ``durations`` in their order."""
    ends = [0.0] * min(slots, len(durations))
    heapq.heapify(ends)
    last = 0.0
    for d in durations.tolist():
        end = heapq.heappop(ends) + d  # the slot that frees first takes the next child
        last = max(last, end)
        heapq.heappush(ends, end)
    return float(durations.sum()) / (slots * last)


@lru_cache(maxsize=256)
def limit_for(children: int, slots: int, sigma: float, seed: int, median: float) -> float:
    """The limit of ``draw_durations(children, sigma, seed, median)`` on ``slots``, kept: every
    candidate of a seed shares it."""
    return no_dependency_utilization(draw_durations(children, sigma, seed, median), slots)
