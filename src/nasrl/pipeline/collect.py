"""Tables of the search: one round's rewards, then the whole history (pandas, parquet).

Columns of a round table and of ``history.parquet`` (one row per sampled child):
round, index, replica (which of the round's K controller replicas sampled it), controller
(the index of the controller that sampled it: round - staleness), key (child content key),
arch_key, arch (canonical JSON), strategy, status, reward, metric, val (best validation
metric), seconds, params, surrogate (the reward came from a table), epochs (trained; fewer than
child.epochs for a child stopped early, status ``stopped``); the history adds
``repeat`` (this child key was already sampled earlier in the search, so it was not
trained again). With ``child.reward.cost``, both also hold ``cost``, ``cost_measure``,
``cost_target`` and ``plain_reward`` (``COST_COLUMNS``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nasrl.architecture import canonical_json
from nasrl.io import read_metrics
from nasrl.layout import RunFolder, SampleFolder

COLUMNS = ["round", "index", "replica", "controller", "key", "arch_key", "arch", "strategy", "status", "reward",
           "metric", "val", "seconds", "params", "surrogate", "epochs", "stopped_epoch", "projected_val",
           "reference_children"]
# A stopped child's reward is the paper's rule on its curve completed by the references' median
# progress: ``projected_val`` is that completed curve's last value, ``reference_children`` how many
# earlier children the median was taken over (nasrl.training.early_stopping). Empty otherwise.
# With child.reward.cost (MnasNet's cost-aware reward, nasrl.training.cost): the cost in its measure,
# the measure's name, the target and the paper's reward without the cost factor (``reward`` has
# it). Added only then, so the tables of a search without a cost keep their columns.
COST_COLUMNS = ["cost", "cost_measure", "cost_target", "plain_reward"]
# A child stopped early by the median stopping rule trained and has a real reward: not a failure.
TRAINED = ("ok", "stopped")


def read_sampled(sample_dir: str | Path) -> list[dict]:
    """The lines of a round's archs.jsonl (written by ``search_steps.sample_round``)."""
    with open(SampleFolder(sample_dir).sampled, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def collect_rewards(sample_dir: str | Path, children_dir: str | Path, strategy: str, out: str | Path) -> pd.DataFrame:
    """Join a round's samples with their children's metrics.json; write the round table."""
    rows = []
    for sample in read_sampled(sample_dir):
        metrics = read_metrics(RunFolder(Path(children_dir) / sample["key"]).metrics).raw
        rows.append({
            "round": sample["round"], "index": sample["index"], "replica": sample.get("replica", 0),
            "controller": sample.get("controller", sample["round"]), "key": sample["key"], "arch_key": sample["arch_key"],
            "arch": canonical_json(sample["arch"]), "strategy": strategy, "status": metrics["status"],
            "reward": float(metrics["reward"]), "metric": metrics["metric"], "val": metrics["best_val"],
            "seconds": metrics["seconds"], "params": metrics["params"], "surrogate": bool(metrics.get("surrogate")),
            "epochs": int(metrics.get("epochs") or 0), "stopped_epoch": metrics.get("stopped_epoch"),
            "projected_val": metrics.get("projected_val"),
            "reference_children": (metrics.get("reference") or {}).get("children"),
            **{column: metrics.get(column) for column in COST_COLUMNS if column in metrics},
        })
    priced = any("cost" in row for row in rows)
    table = pd.DataFrame(rows, columns=COLUMNS + (COST_COLUMNS if priced else []))
    numbers = ("val", "stopped_epoch", "projected_val", "reference_children")
    for column in numbers + (("cost", "cost_target", "plain_reward") if priced else ()):
        table[column] = table[column].astype(float)  # NaN where a child has none
    table.to_parquet(out, index=False)
    return table


def build_history(round_tables: list[str | Path], out: str | Path) -> pd.DataFrame:
    """Concatenate the round tables in order; mark children sampled before (not retrained)."""
    history = pd.concat([pd.read_parquet(p) for p in round_tables], ignore_index=True)
    history = history.sort_values(["round", "index"], kind="stable").reset_index(drop=True)
    history["repeat"] = history.duplicated("key")
    history.to_parquet(out, index=False)
    return history


def reward_curve(history: pd.DataFrame) -> pd.DataFrame:
    """One row per sampled child in sampling order (``sample``): the reward-vs-samples curve
    that DVC plots and comparisons between strategies read (plain CSV, no architecture text)."""
    # absent in older searches; the cost columns only with child.reward.cost
    explained = [c for c in ("stopped_epoch", "projected_val", "cost", "plain_reward") if c in history]
    curve = history[["round", "index", "strategy", "status", "reward", "val", *explained, "repeat"]].copy()
    curve.insert(0, "sample", range(len(curve)))
    return curve


def round_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Mean and max reward per round, the failures and the children stopped early: is the
    controller learning?"""
    return history.groupby("round").agg(
        mean_reward=("reward", "mean"), max_reward=("reward", "max"),
        failed=("status", lambda s: int((~s.isin(TRAINED)).sum())), children=("key", "size"),
        stopped=("status", lambda s: int((s == "stopped").sum())),
    ).reset_index()
