"""Plots of a search: is the controller learning? (matplotlib, no display needed).

One figure, panels over the same x axis (sampled architectures, in sampling order):

- left: the reward of every child (a point each; failed children as red crosses), each
  round's mean, the best reward so far, and a vertical mark wherever the sampled depth
  changes: the depth schedule (Sec. 4.1) steps there, and a jump of the reward at that
  point is the schedule's doing, not the controller's. A child stopped early by the median
  rule is an open circle: its reward is a projection (its curve completed by the earlier
  children's median progress), and the caption says so;
- middle, when children were stopped: the fully trained children alone, with their round
  means: rewards measured, not projected (round 0 has nothing to stop against, so it is all
  fully trained, while later rounds may hold few);
- right: the mean reward of the top-k distinct architectures found so far, the measure of
  Zoph & Le (2017) Fig. 6 (control experiment 2), drawn for this search and, when a
  random-search control exists, for the control too, on the same axes;
- below, only with a cost-aware reward (``child.reward.cost``, MnasNet): each distinct trained
  child's validation metric against its cost, the Pareto front of those (nasrl.pipeline.pareto),
  the target cost, and the child with the best reward marked: the one the final step retrains
  first. Without a cost the figure is what it was.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path

import pandas as pd

from nasrl.pipeline.pareto import candidates, pareto_front, priced
from nasrl.spaces import space_class_of

TOP_K = (1, 5)  # Fig. 6 reads k = 1, 5, 15; a laptop search has a few dozen children


def child_depths(history: pd.DataFrame) -> pd.Series:
    """The depth the space's schedule grew each sampled child to (NaN for a kind without one)."""
    def depth(arch_json: str) -> float:
        arch = json.loads(arch_json)
        space = space_class_of(arch)
        grown = space.grown_depth(arch) if space is not None else None
        return float("nan") if grown is None else float(grown)

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
    """Each round's mean reward, placed at the middle of the round's samples (their positions
    in ``history``'s index, so a subset of a history keeps its children's places)."""
    positions = pd.Series(history.index, index=history.index)
    by_round = positions.groupby(history["round"])
    return pd.DataFrame({"x": by_round.mean(), "mean": history.groupby("round")["reward"].mean()})


STOPPED_CAPTION = ("Open circles: children stopped early by the median rule (child.early_stopping). Their reward is "
                   "projected: the paper's rule on their curve completed by the earlier children's median progress. "
                   "Round 0 has no earlier children to stop against and trains fully.")


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
    ok, stopped = history["status"] == "ok", history["status"] == "stopped"
    failed = ~(ok | stopped)
    panels = 3 if stopped.any() else 2
    height = 4.4 if panels == 2 else 4.9
    if priced(history):  # a row below for the accuracy-vs-cost front
        fig = plt.figure(figsize=(6 * panels, height + 4.6), dpi=120)
        grid = fig.add_gridspec(2, panels, height_ratios=(height, 4.6))
        axes = [fig.add_subplot(grid[0, 0])]
        axes += [fig.add_subplot(grid[0, i], sharey=axes[0]) for i in range(1, panels)]
        draw_front(fig.add_subplot(grid[1, :]), history)
    else:
        fig, axes = plt.subplots(1, panels, figsize=(6 * panels, height), dpi=120, sharey=True)
    ax, ax_top = axes[0], axes[-1]

    ax.scatter(history.index[ok], history["reward"][ok], s=14, alpha=0.55, label="child")
    if stopped.any():  # the median stopping rule: a projected reward from fewer epochs
        ax.scatter(history.index[stopped], history["reward"][stopped], s=14, alpha=0.55, facecolors="none",
                   edgecolors="tab:blue", label="stopped early (reward projected)")
        ax_trained = axes[1]
        trained = history[ok]
        ax_trained.scatter(trained.index, trained["reward"], s=14, alpha=0.55, label="fully trained child")
        means = round_means(trained)
        ax_trained.plot(means["x"], means["mean"], color="black", marker="o", label="round mean, fully trained")
        ax_trained.set_title(f"fully trained children only: {len(trained)} of {len(history)}")
        fig.text(0.01, 0.01, STOPPED_CAPTION, fontsize=8, color="dimgray", ha="left", va="bottom", wrap=True)
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

    for axis in axes:
        for position, old, new in depth_steps(history):
            axis.axvline(position - 0.5, color="tab:purple", linestyle=":", linewidth=1.2)
            axis.annotate(f"depth {old}\u2192{new}", (position - 0.5, 1.0), xycoords=("data", "axes fraction"),
                          xytext=(3, -12), textcoords="offset points", color="tab:purple", fontsize=8)
        axis.set_xlabel("sampled architectures")
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize=8)  # where it hides the fewest points
    fig.tight_layout(rect=(0, 0.06 if panels == 3 else 0, 1, 1))  # room for the caption
    fig.savefig(out)
    plt.close(fig)


def draw_front(ax, history: pd.DataFrame) -> None:
    """The accuracy-vs-cost panel: every distinct trained child, the Pareto front, the target and
    the best-reward child (module docstring)."""
    children, front = candidates(history), pareto_front(history)
    measure, metric = str(children["cost_measure"].iloc[0]), str(children["metric"].iloc[0])
    stopped = children["status"] == "stopped"  # their val is the best before the stop: an open circle
    ax.scatter(children["cost"][~stopped], children["val"][~stopped], s=14, alpha=0.45, label="distinct trained child")
    if stopped.any():
        ax.scatter(children["cost"][stopped], children["val"][stopped], s=14, alpha=0.45, facecolors="none",
                   edgecolors="tab:blue", label="stopped early (validation at the stop)")
    ax.step(front["cost"], front["val"], where="post", color="tab:orange", marker="o", markersize=4,
            label=f"Pareto front ({len(front)} children)")
    ax.axvline(float(children["cost_target"].iloc[0]), color="tab:red", linestyle="--", linewidth=1.2,
               label="target cost")
    best = children.loc[children["reward"].idxmax()]
    ax.scatter([best["cost"]], [best["val"]], s=160, marker="*", color="tab:green", zorder=3,
               label=f"best reward (first of the final step's top-k): {measure} {best['cost']:.4g}")
    ax.set_xlabel(f"cost: {measure}")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title("accuracy against cost (child.reward.cost, MnasNet's reward)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
