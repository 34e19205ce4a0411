"""``nasrl show results/EXP``: a search summarised in the terminal, from its files alone.

What it reads is what ``nasrl.layout.ResultsLayout`` names: the settings, the round tables
(``history.parquet`` once summarised, the rounds' ``rewards.parquet`` while the search runs),
the final runs' ``metrics.json``, ``final/best.json`` and the tracking state. A search still
running is shown as far as it got. A search with a cost-aware reward (``child.reward.cost``) also
shows the accuracy-vs-cost Pareto front of its trained children, the chosen network marked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.architecture import read_json
from nasrl.errors import NasrlError, ResultsError
from nasrl.io import read_metrics
from nasrl.layout import ResultsLayout
from nasrl.commands.progress import progress_line
from nasrl.pipeline.collect import TRAINED
from nasrl.pipeline.pareto import candidates, pareto_front, priced
from nasrl.spaces import space_class_of

TOP = 5  # best children listed


def children_table(layout: ResultsLayout) -> pd.DataFrame | None:
    """One row per sampled child: history.parquet, or the round tables written so far."""
    if layout.history.exists():
        return pd.read_parquet(layout.history)
    tables = layout.rewards_so_far
    if not tables:
        return None
    history = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
    history["repeat"] = history.duplicated("key")
    return history


def arch_summary(arch_json: str) -> str:
    """A few words about an architecture: its depth and filters, its cell, or its decisions."""
    arch = json.loads(arch_json)
    space = space_class_of(arch)
    return space.brief(arch) if space is not None else arch_json[:60]


def depth_of(arch_json: str) -> int | None:
    """The depth a space's schedule grows (CNNs, Sec. 4.1); None for a kind without one."""
    arch = json.loads(arch_json)
    space = space_class_of(arch)
    return space.grown_depth(arch) if space is not None else None


def rounds_section(history: pd.DataFrame) -> pd.DataFrame:
    rounds = history.groupby("round").agg(
        children=("key", "size"), trained=("repeat", lambda r: int((~r).sum())),
        failed=("status", lambda s: int((~s.isin(TRAINED)).sum())),
        mean_reward=("reward", "mean"), max_reward=("reward", "max"),
    ).reset_index()
    rounds["best_so_far"] = rounds["max_reward"].cummax()
    stopped = history["status"] == "stopped"
    if stopped.any():  # child.early_stopping: children stopped by the median rule, not failures
        rounds.insert(rounds.columns.get_loc("failed") + 1, "stopped", stopped.groupby(history["round"]).sum().values)
    depths = history["arch"].map(depth_of)
    if depths.notna().all():  # CNN children: the depth schedule (Sec. 4.1) shows in the rewards
        rounds.insert(1, "depth", depths.groupby(history["round"]).max().values.astype(int))
    return rounds


def best_children(history: pd.DataFrame, n: int = TOP) -> pd.DataFrame:
    trained = history[history["status"].isin(TRAINED)]
    ok = trained.sort_values(["reward", "round", "index"], ascending=[False, True, True], kind="stable")
    best = ok.drop_duplicates("arch_key").head(n)
    priced_columns = ["cost", "plain_reward"] if "cost" in best else []  # child.reward.cost
    table = best[["round", "index", "arch_key", "reward", "val", "params", *priced_columns]].copy()
    if priced_columns:
        table["cost"] = table["cost"].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    table["architecture"] = best["arch"].map(arch_summary)
    return table.reset_index(drop=True)


def front_lines(history: pd.DataFrame, layout: ResultsLayout) -> list[str]:
    """The accuracy-vs-cost Pareto front of a cost-aware search (child.reward.cost): its heading
    and table, the chosen network marked (``*``: the final choice, else the best reward)."""
    front = pareto_front(history)
    trained = candidates(history)
    measure, target = str(trained["cost_measure"].iloc[0]), float(trained["cost_target"].iloc[0])
    best = read_json(layout.best, "best") if layout.best.exists() else {}
    chosen = best.get("arch_key") if best.get("status") == "ok" else \
        str(trained.loc[trained["reward"].idxmax(), "arch_key"])
    rows = front[["round", "index", "arch_key", "cost", "val", "plain_reward", "reward"]].copy()
    rows["cost"] = rows["cost"].map(lambda v: f"{v:.4g}")  # parameters and FLOPs are counts, not 4-decimal figures
    rows.insert(0, "chosen", ["*" if key == chosen else "" for key in front["arch_key"]])
    rows["architecture"] = front["arch"].map(arch_summary)
    lines = [f"Pareto front, {front['metric'].iloc[0]} against {measure} (target {target:g}): {len(front)} of "
             f"{len(trained)} distinct trained children; * the "
             + ("chosen network" if best.get("status") == "ok" else "best reward")]
    lines.append(table(rows.reset_index(drop=True)))
    if chosen not in set(front["arch_key"]):
        off = trained[trained["arch_key"] == chosen]
        if len(off):
            row = off.iloc[0]
            lines.append(f"chosen      {chosen[:12]} is off the front: {measure} {row['cost']:.4g}, "
                         f"{row['metric']} {row['val']:.4f}")
    return lines


def final_section(layout: ResultsLayout) -> pd.DataFrame | None:
    rows = []
    for path in layout.final_runs_metrics:
        metrics = read_metrics(path)
        grid = metrics.get("grid") or {}
        rows.append({"run": path.parent.name, "rank": metrics.get("rank"), "point": metrics.get("point"),
                     "grid": " ".join(f"{k}={v}" for k, v in sorted(grid.items())), "status": metrics.status,
                     "metric": metrics.metric or "", "best_val": metrics.best_val})
    if not rows:
        return None
    return pd.DataFrame(rows).sort_values(["rank", "point"], kind="stable").reset_index(drop=True)


def tracking_lines(layout: ResultsLayout) -> list[str]:
    """The search's MLflow store, run and model, and how to open its runs table."""
    from nasrl.tracking.links import ui_hint
    from nasrl.tracking.state import SearchRun

    if not layout.tracking_state.exists():
        return ["not started"]
    search = SearchRun.load(layout.tracking_state)
    if not search.enabled:
        return ["off (tracking.enabled: false)"]
    lines = [f"store       {search.uri}", f"experiment  {search.experiment} (id {search.experiment_id})",
             f"search run  {search.run_id}"]
    if search.registered_model:
        lines.append(f"model       {search.registered_model} (the best final run's network)")
    return lines + ui_hint(layout.tracking_state).splitlines()


def async_line(layout: ResultsLayout, settings: dict[str, Any]) -> str:
    """search.updates async: the updates applied so far, from the journal (nasrl.search.journal)."""
    from nasrl.search.journal import read_journal

    planned = settings.get("rounds", 0) * settings.get("replicas", 1)
    if not layout.journal.exists():
        return f"updates     async, none applied yet of {planned}"
    journal = read_journal(layout.journal)
    return (f"updates     async, {journal.newest} of {planned} applied in completion order "
            f"({settings.get('replicas')} replicas; {layout.journal})")


def files_lines(layout: ResultsLayout) -> list[str]:
    named = [("history", layout.history), ("rounds", layout.rounds_table), ("rewards", layout.reward_curve),
             ("search plot", layout.search_plot), ("best", layout.best), ("diagram", layout.best_diagram),
             ("metrics", layout.search_metrics), ("children", layout.children_dir), ("controller", layout.controller(0).parent),
             ("journal", layout.journal)]
    return [f"{name:<12}{path}" for name, path in named if path.exists()]


def table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def show_search(folder: str | Path) -> str:
    """The summary ``nasrl show`` prints for the search in ``folder`` (results/EXP)."""
    layout = ResultsLayout(Path(folder))
    if not layout.root.is_dir():
        raise ResultsError(f"{folder}: no such folder; expected a search's results folder (results/EXP)")
    if not (layout.settings("search").exists() or layout.rounds_dir.exists()):
        raise ResultsError(f"{folder}: not a search's results folder (no settings/search.yaml, no rounds/)")
    out = [f"search      {layout.root}"]
    settings: dict[str, Any] = {}
    if layout.settings("search").exists():
        from nasrl.settings import read_yaml

        settings = read_yaml(layout.settings("search"))
        space = settings.get("space")
        space_name = space if isinstance(space, str) else space.get("type")  # a preset's name, or a spec's type
        out.append(f"strategy    {settings.get('strategy')}, space {space_name}, seed {settings.get('seed')}")
    if layout.data_summary.exists():
        out.append(f"data        {read_json(layout.data_summary, 'data summary').get('dataset')}")
    history = children_table(layout)
    if history is None:
        out.append("rounds      none finished yet")
    else:
        planned = settings.get("rounds", "?")
        done = history["round"].nunique()
        state = "finished" if layout.best.exists() else "running" if done < planned else "search done, final runs pending"
        stopped = int((history["status"] == "stopped").sum())
        out.append(f"progress    {done} of {planned} rounds ({state}); {len(history)} children sampled, "
                   f"{int((~history['repeat']).sum())} trained, {int((~history['status'].isin(TRAINED)).sum())} failed"
                   + (f", {stopped} stopped early" if stopped else ""))
    if settings.get("updates") == "async":
        out.append(async_line(layout, settings))
    children = progress_line(layout, settings) if settings else None
    if children is not None:  # while a round trains, before its table exists, too
        out.append(children)
    if history is not None:
        out += ["", "rounds", table(rounds_section(history)), "", f"best children (distinct architectures, top {TOP})",
                table(best_children(history))]
    if history is not None and priced(history):
        out += ["", *front_lines(history, layout)]
    final = final_section(layout)
    if final is not None:
        out += ["", "final grid", table(final)]
    if layout.best.exists():
        best = read_json(layout.best, "best")
        if best.get("status") == "ok":
            test = ", ".join(f"{k} {v:.4f}" for k, v in best.get("test", {}).items())
            out.append(f"chosen      {Path(best['run']).name}: {best['metric']} {best['val']:.4f}; test: {test}")
        else:
            out.append(f"chosen      none ({best.get('status')})")
    out += ["", "files"] + [f"  {line}" for line in files_lines(layout)]
    out += ["", "MLflow"] + [f"  {line}" for line in tracking_lines(layout)]
    return "\n".join(out) + "\n"


def watch(folder: str | Path, seconds: float) -> None:
    """Print the summary every ``seconds`` until the search has chosen its network; Ctrl-C stops."""
    import time

    if not seconds > 0:
        raise NasrlError(f"--watch: expected a number of seconds > 0, got {seconds:g}")
    layout = ResultsLayout(Path(folder))
    try:
        while True:
            print(show_search(folder), flush=True)
            if layout.best.exists():
                return
            time.sleep(seconds)
    except KeyboardInterrupt:  # the user has seen enough: not an error
        print()
