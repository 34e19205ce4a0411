"""The accuracy-vs-cost Pareto front of a search's trained children (``child.reward.cost``).

A cost-aware reward (MnasNet, Tan et al. 2019) folds accuracy and cost into one number; the
front shows what it traded: the distinct architectures that trained and that no other beats on
both the validation metric (``val``: higher accuracy, or lower perplexity) and the cost (lower),
from history.parquet's ``val`` and ``cost`` columns. ``nasrl show``, the search figure and the
report draw it, and mark the chosen network on it.
"""

from __future__ import annotations

import pandas as pd

from nasrl.pipeline.collect import TRAINED
from nasrl.space_kinds import higher_is_better


def priced(history: pd.DataFrame) -> bool:
    """Whether the search priced its children (history has a cost for some trained child)."""
    return "cost" in history and bool(history.loc[history["status"].isin(TRAINED), "cost"].notna().any())


def candidates(history: pd.DataFrame) -> pd.DataFrame:
    """Trained children with a cost and a validation value, one per distinct architecture."""
    trained = history[history["status"].isin(TRAINED) & history["cost"].notna() & history["val"].notna()]
    return trained.drop_duplicates("arch_key")


def pareto_front(history: pd.DataFrame) -> pd.DataFrame:
    """The non-dominated distinct trained children, by cost ascending (module docstring).

    A child is dominated when another costs no more and validates no worse, and is strictly
    better on one of the two; equal children (same cost and value) all stay on the front."""
    children = candidates(history)
    if children.empty:
        return children
    sign = 1.0 if higher_is_better(str(children["metric"].iloc[0])) else -1.0
    score = sign * children["val"].astype(float)  # higher is better
    cost = children["cost"].astype(float)
    keep = [not ((cost <= c) & (score >= s) & ((cost < c) | (score > s))).any() for c, s in zip(cost, score)]
    return children[keep].sort_values(["cost", "round", "index"], kind="stable")
