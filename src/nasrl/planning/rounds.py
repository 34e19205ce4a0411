"""The workflow's in-order rounds (docs/pipeline.md, search.replicas and search.staleness).

Round r samples K batches of m children from controller max(0, r - s); when all of round r's
children are seen, collect r runs, then update r applies round r's K REINFORCE steps once
controller r exists (update r - 1 done): controller r -> r + 1, updates in round order.
Sample r is a checkpoint: Snakemake re-plans before round r's children are submitted.

Staleness of replica k's gradient in round r: it is update r K + k, taken at controller
max(0, r - s), whose parameters had seen max(0, r - s) K updates: (r - max(0, r - s)) K + k,
s K + (K - 1) / 2 on average once r >= s, and at most s K + K - 1.
"""

from __future__ import annotations

import math

import numpy as np

from nasrl.planning.cluster import Cluster
from nasrl.planning.costs import SchedulingCosts
from nasrl.planning.durations import draw_durations
from nasrl.planning.limit import limit_for
from nasrl.planning.outcome import Outcome

SAMPLE, COLLECT, UPDATE = 0, 1, 2  # ready steps of the same time and round: this order


def staleness_of_rounds(rounds: int, K: int, s: int) -> tuple[float, int]:
    """Mean and maximum staleness (in updates) of every gradient of the search."""
    lags = np.array([r - max(0, r - s) for r in range(rounds)], dtype=float)
    per_round = lags * K + (K - 1) / 2
    return float(per_round.mean()), int(lags.max()) * K + K - 1


def simulate_rounds(slots: int, children: int, K: int, s: int, sigma: float, seed: int,
                    costs: SchedulingCosts = SchedulingCosts(), m: int = 8, median: float = 3600.0) -> Outcome:
    n = K * m
    rounds = math.ceil(children / n)  # whole rounds, as the workflow runs them
    durations = draw_durations(rounds * n, sigma, seed, median)
    cluster = Cluster(slots, durations, costs, seed)
    controller = [True] + [False] * rounds  # controller c exists
    collected = [False] * rounds

    def sample(r):
        cluster.step((cluster.now, r, SAMPLE), n, lambda: cluster.replan(rounds - r, lambda: submit(r)))

    def submit(r):
        cluster.train(r, n, lambda: cluster.step((cluster.now, r, COLLECT), n, lambda: collect_done(r)))

    def collect_done(r):
        collected[r] = True
        if controller[r]:
            update(r)

    def update(r):
        cluster.step((cluster.now, r, UPDATE), n, lambda: update_done(r))

    def update_done(r):
        controller[r + 1] = True
        if r + 1 + s < rounds:
            sample(r + 1 + s)
        if r + 1 < rounds and collected[r + 1]:
            update(r + 1)

    for r in range(min(s + 1, rounds)):  # the first s + 1 rounds all come from controller 0
        sample(r)
    cluster.run()
    mean, most = staleness_of_rounds(rounds, K, s)
    return Outcome(mode="rounds", slots=slots, replicas=K, staleness=s, children=rounds * n,
                   utilization=cluster.utilization(), limit=limit_for(len(durations), slots, sigma, seed, median),
                   mean_staleness=mean, max_staleness=most,
                   initial_share=min(s + 1, rounds) / rounds, hours=cluster.hours())

