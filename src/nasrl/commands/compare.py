"""``nasrl compare results/A results/B ...``: searches side by side, from their files alone.

For each search: the mean and max reward per round (what ``rounds.csv`` holds, computed from
the children's table that ``nasrl show`` reads: history.parquet, or the round tables of a
search still running), the best child found, and the final run chosen (``final/best.json``)
with the search's headline counts (``metrics.json``).

The figure overlays the reward per round. When one of the searches is a random search, the
paper's control experiment 2, a second panel draws Zoph & Le (2017) Fig. 6: how far the mean
reward of the top-k distinct architectures found by each other search lies above the random
control's, against the architectures sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.architecture import read_json
from nasrl.commands.show import best_children, children_table
from nasrl.errors import NasrlError, ResultsError
from nasrl.io import atomic_path
from nasrl.layout import ResultsLayout
from nasrl.pipeline.collect import round_summary

FIGURE_FORMATS = (".png", ".svg")
CONTROL = "random"  # the strategy of the paper's control experiment 2 (Fig. 6)


@dataclass(frozen=True)
class ComparedSearch:
    """One search's folder, what it ran and the children it has sampled so far."""

    name: str
    layout: ResultsLayout
    settings: dict[str, Any]
    history: pd.DataFrame | None  # None: no round finished yet

    @property
    def strategy(self) -> str:
        if "strategy" in self.settings:
            return str(self.settings["strategy"])
        return str(self.history["strategy"].iloc[0]) if self.history is not None else "?"

    @property
    def label(self) -> str:
        """How the figure and the tables name the search: its experiment and strategy."""
        return f"{self.name} ({self.strategy})"

    def rounds(self) -> pd.DataFrame | None:
        return round_summary(self.history) if self.history is not None else None

    def progress(self) -> str:
        done = 0 if self.history is None else self.history["round"].nunique()
        return f"{done}/{self.settings.get('rounds', '?')}"


def read_search(folder: str | Path, name: str) -> ComparedSearch:
    layout = ResultsLayout(Path(folder))
    if not layout.root.is_dir():
        raise ResultsError(f"{folder}: no such folder; expected a search's results folder (results/EXP)")
    if not (layout.settings("search").exists() or layout.rounds_dir.exists()):
        raise ResultsError(f"{folder}: not a search's results folder (no settings/search.yaml, no rounds/)")
    settings: dict[str, Any] = {}
    if layout.settings("search").exists():
        from nasrl.settings import read_yaml

        settings = read_yaml(layout.settings("search"))
    return ComparedSearch(name, layout, settings, children_table(layout))


def read_searches(folders: list[str | Path]) -> list[ComparedSearch]:
    """The searches to compare, named by their experiment (the folder's name; its path where two share one)."""
    if len(folders) < 2:
        raise ResultsError(f"compare needs two or more search results folders (results/EXP), got {len(folders)}"
                           + (f": {folders[0]}" if folders else ""))
    resolved = [Path(f).resolve() for f in folders]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise ResultsError(f"{folders[i]}: given twice; expected different search results folders")
    names = [Path(f).resolve().name for f in folders]
    return [read_search(f, name if names.count(name) == 1 else str(f)) for f, name in zip(folders, names)]


def rounds_side_by_side(searches: list[ComparedSearch]) -> pd.DataFrame:
    """Round by round, each search's mean and max reward (columns: search label, then mean|max)."""
    parts = {}
    for search in searches:
        rounds = search.rounds()
        if rounds is not None:
            rewards = rounds.set_index("round")[["mean_reward", "max_reward"]]
            parts[search.label] = rewards.rename(columns={"mean_reward": "mean", "max_reward": "max"})
    return pd.concat(parts, axis=1).sort_index() if parts else pd.DataFrame()


def best_found(searches: list[ComparedSearch]) -> pd.DataFrame:
    """The best trained child of each search: its reward, round and architecture."""
    rows = []
    for search in searches:
        best = best_children(search.history, 1) if search.history is not None else pd.DataFrame()
        row = {"search": search.label, "rounds": search.progress(),
               "children": 0 if search.history is None else len(search.history)}
        if len(best):
            row.update(best.iloc[0][["reward", "round", "arch_key", "architecture"]].to_dict())
        rows.append(row)
    found = pd.DataFrame(rows, columns=["search", "rounds", "children", "reward", "round", "arch_key", "architecture"])
    found["round"] = found["round"].map(lambda r: "-" if pd.isna(r) else str(int(r)))  # none: no child trained yet
    return found


def final_lines(search: ComparedSearch) -> list[str]:
    """The chosen final run and the search's headline counts, or why there are none yet."""
    layout = search.layout
    if not layout.best.exists():
        return ["no final results yet (no final/best.json, no metrics.json)"]
    best = read_json(layout.best, "best")
    if best.get("status") != "ok":
        lines = [f"no final run chosen ({best.get('status')})"]
    else:
        test = ", ".join(f"{k} {v:.4f}" for k, v in best.get("test", {}).items())
        lines = [f"chosen {Path(best['run']).name}: {best['metric']} {best['val']:.4f}; test: {test or 'none'}"]
    if layout.search_metrics.exists():
        headline = read_json(layout.search_metrics, "metrics")
        counts = [(headline.get(key), what) for key, what in (("children", "children"), ("trained_children", "trained"),
                                                               ("failed_children", "failed"),
                                                               ("stopped_children", "stopped early"))]
        lines.append(", ".join(f"{n} {what}" for n, what in counts if n is not None))
    return lines


def text_table(frame: pd.DataFrame, **options) -> str:
    text = frame.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-", **options)
    return "\n".join(line.rstrip() for line in text.splitlines())


def compare_searches(folders: list[str | Path], figure: str | Path | None = None) -> str:
    """What ``nasrl compare`` prints for the searches in ``folders``; the figure written too when asked."""
    if figure is not None:
        check_figure_name(figure)
    searches = read_searches(folders)
    width = max(len(s.label) for s in searches)
    out = ["searches"] + [f"  {s.label:<{width}}  {s.layout.root}, {s.progress()} rounds" for s in searches]
    rounds = rounds_side_by_side(searches)
    out += ["", "reward per round (mean and max)",
            text_table(rounds) if len(rounds) else "  no round finished yet in any of them"]
    out += ["", "best found (the best trained child of each search)", text_table(best_found(searches), index=False)]
    out += ["", "final (final/best.json, metrics.json)"]
    for search in searches:
        first, *more = final_lines(search)
        out += [f"  {search.label:<{width}}  {first}"] + [f"  {'':<{width}}  {line}" for line in more]
    if figure is not None:
        out += ["", f"figure      {compare_figure(searches, figure)}"]
    return "\n".join(out) + "\n"


# --- the figure ---------------------------------------------------------------------------------


def check_figure_name(path: str | Path) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise NasrlError(f"figure file {path}: expected a name ending in .png or .svg, got {suffix or 'no suffix'!r}")


def control_gap(search: pd.DataFrame, control: pd.DataFrame, k: int) -> pd.Series:
    """Fig. 6's curve: after each sample, the mean reward of the search's top-k distinct
    architectures minus the random control's, over the samples both have."""
    from nasrl.pipeline.plots import top_k_unique

    n = min(len(search), len(control))
    ours = top_k_unique(search.reset_index(drop=True).head(n), k)
    theirs = top_k_unique(control.reset_index(drop=True).head(n), k)
    return (ours - theirs).set_axis(range(1, n + 1))


def compare_figure(searches: list[ComparedSearch], out: str | Path) -> Path:
    """Reward per round of every search; with a random search among them, Fig. 6 beside it."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from nasrl.pipeline.plots import TOP_K

    out = Path(out)
    check_figure_name(out)
    drawn = [s for s in searches if s.history is not None]
    colour = {s.name: f"C{i}" for i, s in enumerate(searches)}
    control = next((s for s in drawn if s.strategy == CONTROL), None)
    others = [s for s in drawn if s is not control] if control is not None else []
    fig, axes = plt.subplots(1, 2 if others else 1, figsize=(12 if others else 6.5, 4.4), dpi=120, squeeze=False)
    ax = axes[0][0]
    for search in drawn:
        rounds = search.rounds()
        ax.plot(rounds["round"], rounds["mean_reward"], color=colour[search.name], marker="o",
                linestyle="--" if search is control else "-", label=f"{search.label}, mean")
        ax.plot(rounds["round"], rounds["max_reward"], color=colour[search.name], marker="^", linestyle=":",
                alpha=0.7, label=f"{search.label}, max")
    ax.set_title("reward per round")
    ax.set_xlabel("round")
    ax.set_ylabel("reward")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if others:
        gap_ax = axes[0][1]
        for search in others:
            for k, style in zip(TOP_K, ("-", "--")):
                gap = control_gap(search.history, control.history, k)
                gap_ax.plot(gap.index, gap.values, color=colour[search.name], linestyle=style,
                            label=f"top-{k}, {search.label}")
        gap_ax.axhline(0, color="tab:gray", linewidth=0.8)
        gap_ax.set_title(f"Fig. 6: top-k distinct mean reward above {control.label}", fontsize=10)
        gap_ax.set_xlabel("sampled architectures")
        gap_ax.set_ylabel("reward difference")
    for axis in axes[0]:
        axis.grid(alpha=0.3)
        if axis.lines:  # a search with no finished round draws nothing
            # below the panel: inside it, it hides points wherever it sits
            axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    if any((s.history["status"] == "stopped").any() for s in drawn):
        fig.text(0.01, 0.01, "Rewards include the projected rewards of children stopped early (child.early_stopping): "
                 "their curves completed by the earlier children's median progress.", fontsize=8, color="dimgray")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    # SVG text kept as text (searchable, read by screen readers), and the same file for the same searches
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nasrl"}), atomic_path(out) as tmp:
        svg = out.suffix.lower() == ".svg"
        fig.savefig(tmp, format="svg" if svg else "png", metadata={"Date": None} if svg else None)
    plt.close(fig)
    return out
