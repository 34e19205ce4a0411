"""A cost-aware reward: MnasNet's soft or hard constraint on the paper's reward (``child.reward.cost``).

Tan et al. (2019, MnasNet, Sec. 3) search with the same policy-gradient controller for the
objective ACC(m) x [LAT(m) / T] ** w, with w = -0.07 whether a network is over or under the
target T (their alpha = beta = -0.07 soft constraint), or with alpha = 0, beta = -1 (a hard
constraint: a network within T is not penalised, one above it sharply). Here the cost is the
measure that ``child.reward.cost.measure`` names (parameters, FLOPs or latency) and the factor
multiplies the validation accuracy before the paper's power, so with the default accuracy cubed
(Sec. 4.1):

    reward = (accuracy x factor) ** 3 = paper_reward x factor ** 3,
    factor = (cost / T) ** w              (soft)
    factor = 1 if cost <= T else (cost / T) ** w   (hard)

and for perplexity (Sec. 4.2), which is lower for better, c / (perplexity / factor) ** 2: the
factor scales the metric towards worse in both cases. Children thus rank as MnasNet's objective
ranks them, and the paper's reward shaping (the power) is kept. Without ``child.reward.cost`` no
factor is applied and nothing in a child's results changes.

No torch here: surrogate children (whose cost is a column of their table) use it without it;
the measurement of a trained network's cost is ``nasrl.training.cost_measure``.
"""

from __future__ import annotations

import math
from typing import Any

from nasrl.settings.child import CostConfig


def cost_factor(cost: float, config: CostConfig) -> float:
    """MnasNet's (cost / target) ** w, or 1 within the target under a hard constraint."""
    if not (math.isfinite(cost) and cost > 0):
        raise ValueError(f"child.reward.cost: a {config.measure} cost must be a finite number > 0, got {cost!r}")
    ratio = cost / config.target
    if config.hard and ratio <= 1:
        return 1.0
    return ratio ** config.exponent


def cost_aware_reward(plain: float, cost: float, config: CostConfig, power: float) -> float:
    """``plain`` (the paper's reward, a metric raised to ``power``) with the cost factor applied
    to the metric: plain x factor ** power (module docstring)."""
    return plain * cost_factor(cost, config) ** power


def cost_fields(plain: float, cost: float, config: CostConfig, power: float) -> dict[str, Any]:
    """What a child's metrics.json records of its cost: the reward with the factor, the paper's
    reward without it (``plain_reward``), the cost and its measure and target, so that the
    accuracy-vs-cost front can be drawn from the files."""
    return {"reward": cost_aware_reward(plain, cost, config, power), "plain_reward": plain, "cost": cost,
            "cost_measure": config.measure, "cost_target": config.target}


def within_budget(cost: float | None, target: float) -> bool:
    """Whether a child's cost is at most the target (a child without a cost is not)."""
    return cost is not None and math.isfinite(cost) and cost <= target
