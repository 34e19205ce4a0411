"""Rewards from a child's validation curve (Zoph & Le 2017, Sec. 4.1 and 4.2).

- Image classification: R = (max validation accuracy over the last 5 epochs)^3.
- Language modelling: R = c / (validation perplexity)^2 with c = 80, taking the best
  (lowest) perplexity over the last epochs the same way.

A child stopped early by the median stopping rule (``nasrl.training.early_stopping``) gets
the same rule applied to its curve completed to the full epochs by the references' median
progress (``projected_curve``: its best value at the stop, moved as the median reference
moved from that epoch on). Its own truncated curve would give an epoch-e accuracy cubed, far
below every fully trained child, which would swamp the controller's signal; the projection
keeps its rank at the stop (below the median) on the scale of the others. It trained, so it
never gets the failure reward.
"""

from __future__ import annotations

import math

from nasrl.settings.child import RewardConfig  # window, exponent and constant (``child.reward``)

KINDS = ("accuracy", "perplexity")


def reward_from_curve(values: list[float], kind: str, config: RewardConfig | None = None) -> float:
    """The reward of a child from its per-epoch validation metric.

    Args:
        values: validation accuracy (fraction in [0, 1]) or perplexity, one per epoch.
        kind: "accuracy" or "perplexity".
        config: window, exponent and constant.

    Returns:
        The reward; raises ValueError when the curve is empty or its last value is not finite.
    """
    config = config or RewardConfig()
    if kind not in KINDS:
        raise ValueError(f"reward kind {kind!r} is not one of {list(KINDS)}")
    if not values:
        raise ValueError("no validation epochs: cannot compute a reward")
    window = values[-config.last_epochs:]
    if not all(math.isfinite(v) for v in window):
        raise ValueError(f"non-finite validation metric in the last {len(window)} epochs: {window}")
    if kind == "accuracy":
        return max(window) ** reward_power(kind, config)
    return config.c / min(window) ** reward_power(kind, config)


def reward_power(kind: str, config: RewardConfig | None = None) -> float:
    """The exponent of the metric in the reward: ``child.reward.power``, else 3 for accuracy
    (Sec. 4.1) and 2 for perplexity (Sec. 4.2). A cost factor is raised to it too
    (nasrl.training.cost)."""
    config = config or RewardConfig()
    if config.power is not None:
        return config.power
    return 3.0 if kind == "accuracy" else 2.0
