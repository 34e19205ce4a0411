"""The slots, the job cap and the submit host as one event loop, for the modes to drive.

- Snakemake holds a batch's children once its re-plan has ended and submits them while fewer
  than ``job_cap`` of its jobs are in flight (a job counts until Snakemake sees it end);
- SLURM starts submitted children in submission order (FIFO, equal priorities) whenever a
  slot is free, by itself: a freed slot is refilled at once;
- the controller steps run on the submit host, up to ``local_cores`` at once, ready steps by
  their key (oldest first);
- re-plans run one at a time and block Snakemake's loop: no step starts and nothing is
  submitted meanwhile (running steps and SLURM go on).

The k-th child submitted trains for ``durations[k]``: whatever a mode's dependencies, its
children start in the order of that sequence, which is what makes ``nasrl.planning.limit`` a
bound.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Callable

import numpy as np

from nasrl.planning.costs import SchedulingCosts


class Cluster:
    def __init__(self, slots: int, durations: np.ndarray, costs: SchedulingCosts, seed: int = 0):
        self.slots, self.durations, self.costs = slots, durations, costs
        self.now = 0.0
        self._events: list = []          # (time, seq, callback, args)
        self._seq = 0
        self._ready_steps: list = []     # (key, seq, seconds, on_start, on_done)
        self._steps_running = 0
        self._replans: deque = deque()   # (seconds, on_done) waiting for Snakemake's loop
        self._replanning = False
        self._held: list = []            # Snakemake's children not yet submitted: batch ids
        self._held_oldest: deque = deque()
        self._in_flight = 0              # submitted, end not yet seen by Snakemake
        self._queue: deque = deque()     # submitted children waiting for a slot: batch ids
        self._free = slots
        self._left: dict[int, int] = {}  # batch -> children not yet seen to end
        self._on_seen: dict[int, Callable[[], None]] = {}
        self._pick = np.random.default_rng([seed, 104_729])
        self.submitted = 0
        self.starts = np.full(len(durations), np.nan)

    # -- what the modes call -------------------------------------------------------------
    def at(self, delay: float, callback: Callable, *args) -> None:
        self._seq += 1
        heapq.heappush(self._events, (self.now + delay, self._seq, callback, args))

    def step(self, key: tuple, children: int, on_done: Callable[[], None],
             on_start: Callable[[], None] | None = None) -> None:
        """A controller step (a local rule) becomes ready; it runs when a host core is free."""
        self._seq += 1
        heapq.heappush(self._ready_steps, (key, self._seq, self.costs.step_time(children), on_start, on_done))

    def replan(self, batches_planned: int, on_done: Callable[[], None]) -> None:
        """A sampling checkpoint ended: Snakemake re-plans the DAG before it can go on."""
        self._replans.append((self.costs.replan_time(batches_planned), on_done))

    def train(self, batch: int, children: int, on_seen: Callable[[], None]) -> None:
        """A batch's children join the DAG; ``on_seen`` once Snakemake has seen the last one end."""
        self._left[batch] = children
        self._on_seen[batch] = on_seen
        if self.costs.cap_order == "oldest":
            self._held_oldest.extend([batch] * children)
        else:
            self._held.extend([batch] * children)

    def run(self) -> None:
        self._schedule()
        while self._events:
            self.now, _, callback, args = heapq.heappop(self._events)
            callback(*args)
            self._schedule()

    # -- the loop ------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Snakemake's loop: a waiting re-plan first (it blocks the rest), then submissions
        under the cap, then ready controller steps on free host cores."""
        if self._replanning:
            return
        if self._replans:
            seconds, on_done = self._replans.popleft()
            self._replanning = True
            self.at(seconds, self._replan_done, on_done)
            return
        self._submit()
        while self._ready_steps and self._steps_running < self.costs.local_cores:
            _, _, seconds, on_start, on_done = heapq.heappop(self._ready_steps)
            self._steps_running += 1
            if on_start is not None:
                on_start()
            self.at(seconds, self._step_done, on_done)

    def _replan_done(self, on_done) -> None:
        self._replanning = False
        on_done()
        self._submit()  # the re-planned batch is submitted before the loop takes the next re-plan

    def _step_done(self, on_done) -> None:
        self._steps_running -= 1
        on_done()

    def _submit(self) -> None:
        cap = self.costs.job_cap
        if cap is None:  # no cap: every held child goes at once, in the order it joined
            held = list(self._held_oldest) + self._held
            self._held_oldest.clear()
            self._held = []
            for batch in held:
                self._enqueue(batch)
        while self._in_flight < (cap or 0) and self._held_oldest:
            self._enqueue(self._held_oldest.popleft())
        while self._in_flight < (cap or 0) and self._held:
            # Snakemake's selection among ready jobs of equal priority: any of them
            i = int(self._pick.integers(len(self._held)))
            self._held[i], self._held[-1] = self._held[-1], self._held[i]
            self._enqueue(self._held.pop())
        self._fill_slots()

    def _enqueue(self, batch: int) -> None:
        self._queue.append((batch, self.submitted))
        self.submitted += 1
        self._in_flight += 1

    def _fill_slots(self) -> None:
        while self._free and self._queue:
            batch, k = self._queue.popleft()
            self._free -= 1
            self.starts[k] = self.now
            self.at(self.durations[k], self._child_end, batch)

    def _child_end(self, batch: int) -> None:
        self._free += 1
        self._fill_slots()  # SLURM refills the slot; Snakemake learns of the end after a poll
        self.at(self.costs.poll, self._child_seen, batch)

    def _child_seen(self, batch: int) -> None:
        self._in_flight -= 1
        self._left[batch] -= 1
        if self._left[batch] == 0:
            del self._left[batch]
            self._on_seen.pop(batch)()

    # -- the result ----------------------------------------------------------------------
    def utilization(self) -> float:
        """The children's busy time over slots x (last child's end - first child's start)."""
        used = self.durations[:self.submitted]
        starts = self.starts[:self.submitted]
        span = float(np.max(starts + used) - np.min(starts))
        return float(used.sum()) / (self.slots * span)

    def hours(self) -> float:
        started = self.starts[:self.submitted]
        return float(np.max(started + self.durations[:self.submitted]) - np.min(started)) / 3600.0
