"""Plots of a search: is the controller learning? (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_search(history: pd.DataFrame, out: str | Path) -> None:
    """Reward of every sampled child in order, with each round's mean; failed children in red.

    Args:
        history: the search history (history.parquet): round, reward, status, strategy.
        out: the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: jobs run without a display
    import matplotlib.pyplot as plt

    history = history.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ok = history["status"] == "ok"
    ax.scatter(history.index[ok], history["reward"][ok], s=12, alpha=0.6, label="child")
    if (~ok).any():
        ax.scatter(history.index[~ok], history["reward"][~ok], s=16, color="tab:red", marker="x", label="failed child")
    by_round = history.groupby("round")
    centers = by_round.apply(lambda g: g.index.to_series().mean(), include_groups=False)
    ax.plot(centers.to_numpy(), by_round["reward"].mean().to_numpy(), color="black", marker="o", label="round mean")
    ax.set_xlabel("sampled architectures")
    ax.set_ylabel("reward")
    ax.set_title(f"{history['strategy'].iloc[0]} search: {len(history)} children, {history['round'].nunique()} rounds")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
