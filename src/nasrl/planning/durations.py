"""The children's training times: log-normal, heavy tailed (a few children take many times the
median; Zoph & Le 2017 Sec. 3.3 trained each child for 50 epochs, about an hour on one GPU)."""

from __future__ import annotations

import math

import numpy as np

HOUR = 3600.0
# The assumed spread: the sigma whose expected slowest of 8 children is 3x the median
# (sigma_for(3.0, 8) = 0.7027).
ASSUMED_SIGMA = 0.703
# The measured spreads (benchmarks/performance/child_durations.py, docs/benchmarks.md,
# 2026-12-04): 200 children of the digits search, log-normal sigma 0.43-0.46 in wall time and
# 0.30-0.33 in CPU time, within a depth.
MEASURED_SIGMAS = (0.45, 0.32)


def draw_durations(children: int, sigma: float, seed: int, median: float = HOUR) -> np.ndarray:
    """Seconds of ``children`` children, in the order they reach the cluster's queue.

    Every mode and configuration of one seed draws the same sequence (common random numbers),
    and the simulations hand the k-th duration to the k-th child submitted, so the no-dependency
    schedule of ``nasrl.planning.limit`` bounds each of them (see there)."""
    rng = np.random.default_rng([seed, 7_919])
    return median * np.exp(sigma * rng.standard_normal(children))


def mean_duration(sigma: float, median: float = HOUR) -> float:
    """E[duration] of the log-normal: median * exp(sigma^2 / 2)."""
    return median * math.exp(sigma * sigma / 2)


def expected_max_ratio(sigma: float, n: int) -> float:
    """E[slowest of n children] / median = E[exp(sigma * max of n standard normals)], by
    integrating against the density of the maximum, n phi(z) Phi(z)^(n - 1)."""
    z = np.linspace(-9.0, 12.0, 42_001)
    dz = z[1] - z[0]
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = np.clip(np.cumsum(phi) * dz, 1e-300, 1.0)
    return float(np.sum(np.exp(sigma * z) * n * phi * np.exp((n - 1) * np.log(cdf))) * dz)


def sigma_for(ratio: float, n: int) -> float:
    """The sigma whose expected slowest of n children is ``ratio`` times the median."""
    lo, hi = 0.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected_max_ratio(mid, n) < ratio else (lo, mid)
    return (lo + hi) / 2
