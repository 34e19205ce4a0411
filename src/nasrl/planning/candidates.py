"""The (mode, K, s) candidates for N slots, each simulated over seeds, and the one to run.

In-order rounds keep slots busy only with many children in flight, (s + 1) K m, which means
large staleness, and the first s + 1 rounds are all sampled by the untrained controller. Async
replicas (``search.updates: async``) keep K m children in flight with each batch sampled from the
newest controller, so only the replicas' first batches come from the untrained one. The
recommendation weighs both modes alike: RECOMMENDATION_RULE below.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from nasrl.planning.costs import SchedulingCosts
from nasrl.planning.limit import limit_for
from nasrl.planning.outcome import Outcome
from nasrl.planning.replicas import simulate_replicas
from nasrl.planning.rounds import simulate_rounds

IN_FLIGHT = (1, 2, 4, 8, 16)      # (s + 1) K m as multiples of N: the rounds' staleness grid
ASYNC_IN_FLIGHT = (1, 2, 4)       # K m as multiples of N for the async replicas
RECOMMENDATION_RULE = ("among the candidates of either mode within 2 points of the best mean utilization, "
                       "the one with the least share of children sampled by the initial controller (then the "
                       "least mean staleness, then rounds before async)")
NEAR_BEST = 0.02
OVERSHOOT = 1.05  # rounds' children over the asked count, at most


@dataclass(frozen=True)
class Candidate:
    mode: str               # "rounds" or "async"
    replicas: int           # K
    staleness: int | None   # s (rounds only)

    def label(self) -> str:
        return f"K={self.replicas}" + (f", s={self.staleness}" if self.staleness is not None else "")


@dataclass(frozen=True)
class Summary:
    """A candidate's outcomes over seeds: means, the utilization's sd, the largest staleness."""

    candidate: Candidate
    seeds: int
    children: int
    utilization: float
    utilization_sd: float
    limit: float
    limit_sd: float
    mean_staleness: float
    max_staleness: int
    initial_share: float

    @property
    def of_limit(self) -> float:
        return self.utilization / self.limit


def _powers_of(base: int, top: int) -> list[int]:
    values, v = [], 1
    while v <= top:
        values.append(v)
        v *= base
    return values


def candidate_grid(slots: int, children: int, m: int = 8) -> list[Candidate]:
    """Rounds: K = 1, and K in powers of 4 up to 4N/m and K m = N with whole rounds within 5%
    of C; for each, s = 0 and the s that puts 1, 2, 4, 8 or 16 N children in flight, as long as
    a round past the first s + 1 is left (else the initial controller samples everything).
    Async: about N, 2N, 4N children in flight (``async_replicas``)."""
    most_replicas = max(1, children // m)
    ks = sorted({k for k in _powers_of(4, max(1, 4 * slots // m)) + [max(1, slots // m)] if k <= most_replicas})
    grid = []
    for K in ks:
        rounds = math.ceil(children / (K * m))
        if K > 1 and rounds * K * m > OVERSHOOT * children:  # whole rounds would train many more than asked
            continue
        stalenesses = {0} | {math.ceil(x * slots / (K * m)) - 1 for x in IN_FLIGHT}
        grid += [Candidate("rounds", K, s) for s in sorted(stalenesses) if s >= 0 and (s == 0 or s < rounds - 1)]
    return grid + [Candidate("async", K, None) for K in async_replicas(slots, children, m)]


def async_replicas(slots: int, children: int, m: int) -> list[int]:
    """K for about N, 2N and 4N children in flight, each replica a chain of ceil(C / (K m))
    batches; K is then the fewest chains of that length covering C, so that whole chains train
    at most one chain's batches more than C (K = 512 of 4 batches would train 16,384 of 12,800)."""
    most_replicas = max(1, children // m)
    ks = set()
    for x in ASYNC_IN_FLIGHT:
        K = min(most_replicas, max(1, math.ceil(x * slots / m)))
        steps = math.ceil(children / (K * m))
        ks.add(math.ceil(children / (steps * m)))
    return sorted(ks)


def simulate(candidate: Candidate, slots: int, children: int, sigma: float, seed: int,
             costs: SchedulingCosts = SchedulingCosts(), m: int = 8, median: float = 3600.0) -> Outcome:
    if candidate.mode == "rounds":
        return simulate_rounds(slots, children, candidate.replicas, candidate.staleness, sigma, seed, costs, m, median)
    return simulate_replicas(slots, children, candidate.replicas, sigma, seed, costs, m, median)


def evaluate(candidate: Candidate, slots: int, children: int, sigma: float, seeds: int,
             costs: SchedulingCosts = SchedulingCosts(), m: int = 8, median: float = 3600.0) -> Summary:
    """The candidate on seeds 0 .. seeds - 1 (the same duration draws for every candidate)."""
    runs = [simulate(candidate, slots, children, sigma, seed, costs, m, median) for seed in range(seeds)]
    use = [r.utilization for r in runs]
    lim = [r.limit for r in runs]
    return Summary(candidate=candidate, seeds=seeds, children=runs[0].children,
                   utilization=statistics.fmean(use), utilization_sd=statistics.stdev(use) if seeds > 1 else 0.0,
                   limit=statistics.fmean(lim), limit_sd=statistics.stdev(lim) if seeds > 1 else 0.0,
                   mean_staleness=statistics.fmean(r.mean_staleness for r in runs),
                   max_staleness=max(r.max_staleness for r in runs),
                   initial_share=statistics.fmean(r.initial_share for r in runs))


def limit_over_seeds(slots: int, children: int, sigma: float, seeds: int, median: float = 3600.0) -> tuple[float, float]:
    """Mean and sd of the no-dependency limit for exactly ``children`` children."""
    values = [limit_for(children, slots, sigma, seed, median) for seed in range(seeds)]
    return statistics.fmean(values), statistics.stdev(values) if seeds > 1 else 0.0


def recommend(summaries: list[Summary], mode: str | None = None) -> Summary:
    """RECOMMENDATION_RULE: the slots first (within 2 points of the best is as good as the
    best, given the seeds' spread), then as little of the search as possible sampled before the
    controller has learned anything (docs/scaling.md, Search quality: K = 100 at 800 samples was
    random search), then the freshest updates; on a tie in-order rounds, reproducible from the
    seed alone (async only through its journal). ``mode``: among that mode's candidates only."""
    pool = [x for x in summaries if mode is None or x.candidate.mode == mode]
    best = max(x.utilization for x in pool)
    close = [x for x in pool if x.utilization >= best - NEAR_BEST]
    return min(close, key=lambda x: (x.initial_share, x.mean_staleness, x.candidate.mode != "rounds", -x.utilization))


def least_initial(summaries: list[Summary], slots: int, children: int) -> Summary | None:
    """The busiest in-order candidate that samples at most two slot-loads (2N of C children)
    from the initial controller, as async does with 2N children in flight; None if none does."""
    within = [x for x in summaries if x.candidate.mode == "rounds" and x.initial_share <= 2 * slots / children + 1e-12]
    return max(within, key=lambda x: (x.utilization, -x.mean_staleness), default=None)


def best_of(summaries: list[Summary], mode: str) -> Summary:
    return max((x for x in summaries if x.candidate.mode == mode), key=lambda x: x.utilization)
