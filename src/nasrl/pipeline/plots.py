"""Plots of a search: is the controller learning? (matplotlib, no display needed).

One figure, two panels over the same x axis (sampled architectures, in sampling order):

- left: the reward of every child (a point each; failed children as red crosses), each
  round's mean, the best reward so far, and a vertical mark wherever the sampled depth
  changes: the depth schedule (Sec. 4.1) steps there, and a jump of the reward at that
  point is the schedule's doing, not the controller's;
- right: the mean reward of the top-k distinct architectures found so far, the measure of
  Zoph & Le (2017) Fig. 6 (control experiment 2), drawn for this search and, when a
  random-search control exists, for the control too, on the same axes.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path

import pandas as pd

TOP_K = (1, 5)  # Fig. 6 reads k = 1, 5, 15; a laptop search has a few dozen children


def child_depths(history: pd.DataFrame) -> pd.Series:
    """The number of layers of each sampled child (NaN for spaces without a depth schedule)."""
    def depth(arch: str) -> float:
        layers = json.loads(arch).get("layers")
        return float(len(layers)) if isinstance(layers, list) else float("nan")

    return history["arch"].map(depth)


def depth_steps(history: pd.DataFrame) -> list[tuple[int, int, int]]:
    """(position, old depth, new depth) wherever the depth changes from one sample to the next."""
    depths = child_depths(history.reset_index(drop=True))
    steps = []
    for position in range(1, len(depths)):
        old, new = depths.iloc[position - 1], depths.iloc[position]
        if pd.notna(old) and pd.notna(new) and old != new:
            steps.append((position, int(old), int(new)))
    return steps


def top_k_unique(history: pd.DataFrame, k: int) -> pd.Series:
    """After each sample, the mean reward of the k best distinct architectures seen so far
    (NaN until k distinct ones were sampled). A repeated architecture counts once: the paper's
    "top-k unique models"."""
    best: list[float] = []  # min-heap of the k best rewards
    seen: set[str] = set()
    values = []
    for arch_key, reward in zip(history["arch_key"], history["reward"]):
        if arch_key not in seen:
            seen.add(arch_key)
            if len(best) < k:
                heapq.heappush(best, float(reward))
            elif reward > best[0]:
                heapq.heapreplace(best, float(reward))
        values.append(sum(best) / k if len(best) == k else float("nan"))
    return pd.Series(values, index=history.index, name=f"top{k}")


def round_means(history: pd.DataFrame) -> pd.DataFrame:
    """Each round's mean reward, placed at the middle of the round's samples."""
    positions = pd.Series(range(len(history)), index=history.index)
    by_round = positions.groupby(history["round"])
    return pd.DataFrame({"x": by_round.mean(), "mean": history.groupby("round")["reward"].mean()})


def plot_search(history: pd.DataFrame, out: str | Path, control: pd.DataFrame | None = None) -> None:
    """Write the search figure (module docstring) as a PNG.

    Args:
        history: the search history (history.parquet): round, arch_key, arch, reward, status, strategy.
        out: the PNG to write.
        control: the history of the random-search control on the same config, if one ran.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: jobs run without a display
    import matplotlib.pyplot as plt

    history = history.reset_index(drop=True)
    strategy = str(history["strategy"].iloc[0])
    fig, (ax, ax_top) = plt.subplots(1, 2, figsize=(12, 4.4), dpi=120, sharey=True)

    ok, stopped = history["status"] == "ok", history["status"] == "stopped"
    failed = ~(ok | stopped)
    ax.scatter(history.index[ok], history["reward"][ok], s=14, alpha=0.55, label="child")
    if stopped.any():  # the median stopping rule: a real reward from fewer epochs
        ax.scatter(history.index[stopped], history["reward"][stopped], s=14, alpha=0.55, facecolors="none",
                   edgecolors="tab:blue", label="child stopped early")
    if failed.any():
        ax.scatter(history.index[failed], history["reward"][failed], s=18, color="tab:red", marker="x",
                   label="failed child")
    means = round_means(history)
    ax.plot(means["x"], means["mean"], color="black", marker="o", label="round mean")
    ax.step(history.index, history["reward"].cummax(), where="post", color="tab:green", label="best so far")
    if control is not None:
        control = control.reset_index(drop=True)
        control_means = round_means(control)
        ax.plot(control_means["x"], control_means["mean"], color="tab:gray", marker="s", linestyle="--",
                label=f"round mean, {control['strategy'].iloc[0]} control")
    ax.set_title(f"{strategy} search: {len(history)} children, {history['round'].nunique()} rounds")
    ax.set_ylabel("reward")

    colors = {1: "tab:blue", 5: "tab:orange"}
    for k in TOP_K:
        ax_top.plot(history.index, top_k_unique(history, k), color=colors[k], label=f"top-{k}, {strategy}")
        if control is not None:
            ax_top.plot(control.index, top_k_unique(control, k), color=colors[k], linestyle="--",
                        label=f"top-{k}, {control['strategy'].iloc[0]}")
    ax_top.set_title("mean reward of the top-k distinct architectures (Fig. 6)")

    for axis in (ax, ax_top):
        for position, old, new in depth_steps(history):
            axis.axvline(position - 0.5, color="tab:purple", linestyle=":", linewidth=1.2)
            axis.annotate(f"depth {old}\u2192{new}", (position - 0.5, 1.0), xycoords=("data", "axes fraction"),
                          xytext=(3, -12), textcoords="offset points", color="tab:purple", fontsize=8)
        axis.set_xlabel("sampled architectures")
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize=8)  # where it hides the fewest points
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
