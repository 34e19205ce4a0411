"""Measure search strategies on a published results table, with no training.

Each strategy runs ``repeats`` times for ``budget`` samples against a tabular space; a
sample's reward is the table's value for its key. The same seeds are used for every
strategy. Outputs (``write_bench``):

- ``curves.csv``: strategy, repeat, step, key, reward, best_so_far (one row per sample);
- ``summary.json``: per strategy, mean and std over repeats of the best reward found, of the
  report column of the best-by-reward architecture, and of the mean over the top-k unique
  architectures found (k = 1, 5, 15; the metric of Zoph & Le 2017 Fig. 6), at the full
  budget and at every ``eval_at`` step.

A sampled key that is not in the table is an error naming the key: the space and table
disagree, and no reward can stand in for a missing result.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.architecture import ArchitectureError
from nasrl.spaces.tabular import TabularSpace
from nasrl.search.registry import make_strategy
from nasrl.search.rounds import RoundPlan, tell_round

TOP_K = (1, 5, 15)
TRANSFORMS = {"identity": lambda x: x, "cube": lambda x: x**3}  # cube: CIFAR-10 reward, Sec. 4.1


class ResultsTable:
    """Rewards (and an optional report value) by architecture key, from a CSV table."""

    def __init__(self, path: str | Path, key_column: str, reward_column: str,
                 report_column: str | None = None, reward_transform: str = "identity"):
        path = Path(path)
        if reward_transform not in TRANSFORMS:
            raise ValueError(f"reward transform {reward_transform!r} is not one of {sorted(TRANSFORMS)}")
        try:
            frame = pd.read_csv(path, dtype={key_column: str})
        except FileNotFoundError:
            raise ArchitectureError(f"results table not found: {path}") from None
        for role, column in (("key", key_column), ("reward", reward_column), ("report", report_column)):
            if column is not None and column not in frame.columns:
                raise ArchitectureError(f"{path}: no {role} column {column!r}; columns are {list(frame.columns)}")
        duplicated = frame[key_column][frame[key_column].duplicated()]
        if len(duplicated):
            raise ArchitectureError(f"{path}: key column {key_column!r} repeats keys, e.g. {duplicated.iloc[0]!r}")
        for column in (reward_column, report_column):
            if column is not None and not pd.api.types.is_numeric_dtype(frame[column]):
                raise ArchitectureError(f"{path}: column {column!r} must be numeric")
        transform = TRANSFORMS[reward_transform]
        self.path = path
        self.key_column = key_column
        self.reward = {k: float(transform(v)) for k, v in zip(frame[key_column], frame[reward_column])}
        self.report = dict(zip(frame[key_column], frame[report_column].astype(float))) if report_column else None

    def lookup(self, key: str) -> float:
        try:
            return self.reward[key]
        except KeyError:
            raise ArchitectureError(
                f"architecture key {key!r} is not in column {self.key_column!r} of {self.path}"
            ) from None


def run_strategy(name: str, space: TabularSpace, table: ResultsTable, budget: int, seed: int,
                 batch_size: int, config: dict[str, Any] | None, plan: RoundPlan | None = None) -> list[dict[str, Any]]:
    """One search of ``budget`` samples; one row per sample (with its round and replica).

    Rounds follow ``plan`` as the pipeline runs them: K replica batches of ``batch_size``
    sampled from controller r - s, then K updates. The last round is cut at the budget.
    """
    plan = plan or RoundPlan(batch_size)
    synchronous = plan.replicas == 1 and plan.staleness == 0
    controllers = {0: make_strategy(name, space, seed=seed, config=config)}
    rows: list[dict[str, Any]] = []
    best = float("-inf")
    round_index = 0
    while len(rows) < budget:
        sampler = controllers[plan.sampling_controller(round_index)]
        batches = []
        for replica in range(plan.replicas):
            size = min(plan.children_per_replica, budget - len(rows) - replica * plan.children_per_replica)
            if size < 1:
                break
            archs = sampler.ask(size, offset=plan.offset(round_index, replica))
            keys = [space.table_key(a) for a in archs]
            batches.append((archs, [table.lookup(k) for k in keys], keys, replica))
        # The synchronous search updates its one state in place; otherwise controller r is kept
        # for the rounds that will still sample from it.
        current = controllers[round_index] if synchronous else copy.deepcopy(controllers[round_index])
        tell_round(current, [(archs, rewards) for archs, rewards, _, _ in batches],
                   None if synchronous else sampler)
        for archs, rewards, keys, replica in batches:
            for key, reward in zip(keys, rewards):
                best = max(best, reward)
                rows.append({"step": len(rows) + 1, "round": round_index, "replica": replica, "key": key,
                             "reward": reward, "best_so_far": best})
        round_index += 1
        controllers[round_index] = current
        for old in [r for r in controllers if r < plan.sampling_controller(round_index)]:
            del controllers[old]
    return rows


def summarize(curves: pd.DataFrame, table: ResultsTable, step: int) -> dict[str, Any]:
    """Statistics over repeats of each strategy's first ``step`` samples."""
    out: dict[str, Any] = {}
    seen = curves[curves["step"] <= step]
    for strategy, runs in seen.groupby("strategy", sort=False):
        per_repeat: dict[str, list[float]] = {}
        for _, run in runs.groupby("repeat"):
            unique = run.drop_duplicates("key").sort_values("reward", ascending=False, kind="stable")
            best_key = unique["key"].iloc[0]
            values = {"best_reward": float(unique["reward"].iloc[0])}
            if table.report is not None:
                values["report_of_best"] = table.report[best_key]
            for k in TOP_K:
                top = unique.head(k)
                values[f"top{k}_unique_reward"] = float(top["reward"].mean())
                if table.report is not None:
                    values[f"top{k}_unique_report"] = float(sum(table.report[x] for x in top["key"]) / len(top))
            values["unique_fraction"] = len(unique) / len(run)
            for name, v in values.items():
                per_repeat.setdefault(name, []).append(v)
        out[strategy] = {name: _mean_std(vs) for name, vs in per_repeat.items()}
    return out


def _mean_std(values: list[float]) -> dict[str, float]:
    s = pd.Series(values, dtype=float)
    return {"mean": float(s.mean()), "std": float(s.std(ddof=1)) if len(s) > 1 else 0.0}


def run_bench(space: TabularSpace, table: ResultsTable, strategies: list[str], budget: int, repeats: int,
              seed: int = 0, batch_size: int = 8, reinforce_config: dict[str, Any] | None = None,
              eval_at: list[int] | None = None, replicas: int = 1,
              staleness: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run every strategy ``repeats`` times; returns (curves, summary)."""
    if budget < 1 or repeats < 1 or batch_size < 1:
        raise ValueError("budget, repeats and batch size must be >= 1")
    if not strategies:
        raise ValueError("give at least one strategy")
    plan = RoundPlan(batch_size, replicas, staleness)
    records = []
    for name in dict.fromkeys(strategies):
        config = reinforce_config if name == "reinforce" else None
        for repeat in range(repeats):
            for row in run_strategy(name, space, table, budget, seed + repeat, batch_size, config, plan):
                records.append({"strategy": name, "repeat": repeat, **row})
    curves = pd.DataFrame.from_records(records, columns=["strategy", "repeat", "step", "round", "replica", "key", "reward",
                                                         "best_so_far"])
    steps = sorted({s for s in (eval_at or []) if 1 <= s <= budget} | {budget})
    summary = {
        "space": space.spec,
        "table": str(table.path),
        "budget": budget,
        "repeats": repeats,
        "seed": seed,
        "batch_size": batch_size,
        "replicas": replicas,
        "staleness": staleness,
        "reinforce": reinforce_config or {},
        "strategies": summarize(curves, table, budget),
        "at_step": {str(s): summarize(curves, table, s) for s in steps},
    }
    return curves, summary


def write_bench(out: str | Path, curves: pd.DataFrame, summary: dict[str, Any]) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves.to_csv(out / "curves.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
