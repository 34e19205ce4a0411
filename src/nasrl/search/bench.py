"""Measure search strategies on a published results table, with no training.

Each strategy runs ``repeats`` times against a tabular space; a sample's reward is the
table's value for its key. The same seeds are used for every strategy. The budget is counted
in ``samples`` (every sampled child) or in ``trainings`` (distinct children: the pipeline
trains a repeated architecture once, so a repeat costs nothing and the search goes on until it
has trained ``budget`` distinct children, or has drawn ``max_samples``). Outputs (``write_bench``):

- ``curves.csv``: strategy, repeat, step (samples so far), trainings (distinct children so
  far), round, replica, key, reward, best_so_far (one row per sample);
- ``summary.json``: per strategy, mean and std over repeats of the best reward found, of the
  report column of the best-by-reward architecture, of the mean over the top-k unique
  architectures found (k = 1, 5, 15; the metric of Zoph & Le 2017 Fig. 6), and of the samples
  and trainings spent, at the full budget and at every ``eval_at`` point (in the budget's unit).

A sampled key that is not in the table is an error naming the key: the space and table
disagree, and no reward can stand in for a missing result.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.errors import TableError
from nasrl.spaces.tabular import TabularSpace
from nasrl.search.registry import make_strategy
from nasrl.search.rounds import RoundPlan, tell_round
from nasrl.tables import table_path

TOP_K = (1, 5, 15)
BUDGET_UNITS = {"samples": "step", "trainings": "trainings"}  # unit -> the curves.csv column counting it
MAX_SAMPLES_PER_TRAINING = 20  # budget unit trainings: a search stops after 20 x budget samples at most
TRANSFORMS = {"identity": lambda x: x, "cube": lambda x: x**3}  # cube: CIFAR-10 reward, Sec. 4.1


class ResultsTable:
    """Rewards (and an optional report value) by architecture key, from a CSV table."""

    def __init__(self, path: str | Path, key_column: str, reward_column: str,
                 report_column: str | None = None, reward_transform: str = "identity"):
        path = table_path(path)  # nasrl:FILE, a table that ships with the package, or a path
        if reward_transform not in TRANSFORMS:
            raise ValueError(f"reward transform {reward_transform!r} is not one of {sorted(TRANSFORMS)}")
        try:
            frame = pd.read_csv(path, dtype={key_column: str})
        except FileNotFoundError:
            raise TableError(f"results table not found: {path}") from None
        for role, column in (("key", key_column), ("reward", reward_column), ("report", report_column)):
            if column is not None and column not in frame.columns:
                raise TableError(f"{path}: no {role} column {column!r}; columns are {list(frame.columns)}")
        duplicated = frame[key_column][frame[key_column].duplicated()]
        if len(duplicated):
            raise TableError(f"{path}: key column {key_column!r} repeats keys, e.g. {duplicated.iloc[0]!r}")
        for column in (reward_column, report_column):
            if column is not None and not pd.api.types.is_numeric_dtype(frame[column]):
                raise TableError(f"{path}: column {column!r} must be numeric")
        transform = TRANSFORMS[reward_transform]
        self.path = path
        self.key_column = key_column
        self.reward = {k: float(transform(v)) for k, v in zip(frame[key_column], frame[reward_column])}
        self.report = dict(zip(frame[key_column], frame[report_column].astype(float))) if report_column else None

    def lookup(self, key: str) -> float:
        try:
            return self.reward[key]
        except KeyError:
            raise TableError(
                f"architecture key {key!r} is not in column {self.key_column!r} of {self.path}"
            ) from None


def run_strategy(name: str, space: TabularSpace, table: ResultsTable, budget: int, *, seed: int,
                 batch_size: int, config: dict[str, Any] | None, plan: RoundPlan | None = None,
                 budget_unit: str = "samples", max_samples: int | None = None) -> list[dict[str, Any]]:
    """One search of ``budget`` samples or trainings; one row per sample (with its round and replica).

    Rounds follow ``plan`` as the pipeline runs them: K replica batches of ``batch_size``
    sampled from controller r - s, then K updates. The last round is cut where the budget is
    reached: at the budget-th sample, or at the sample that is the budget-th distinct child
    (the repeats drawn after it in the round are not told to the strategy).
    """
    if budget_unit not in BUDGET_UNITS:
        raise ValueError(f"budget unit {budget_unit!r} is not one of {sorted(BUDGET_UNITS)}")
    by_trainings = budget_unit == "trainings"
    max_samples = (MAX_SAMPLES_PER_TRAINING * budget if max_samples is None else max_samples) if by_trainings else budget
    plan = plan or RoundPlan(batch_size)
    synchronous = plan.replicas == 1 and plan.staleness == 0
    controllers = {0: make_strategy(name, space, seed=seed, config=config)}
    rows: list[dict[str, Any]] = []
    trained: set[str] = set()
    best = float("-inf")
    round_index = 0

    def spent() -> bool:
        return len(rows) >= max_samples or (by_trainings and len(trained) >= budget)

    while not spent():
        sampler = controllers[plan.sampling_controller(round_index)]
        batches = []
        for replica in range(plan.replicas):
            size = min(plan.children_per_replica, max_samples - len(rows))
            if spent() or size < 1:
                break
            archs = sampler.ask(size, offset=plan.offset(round_index, replica))
            keys = [space.table_key(a) for a in archs]
            kept = 0
            for key in keys:  # count in sampling order; stop at the budget
                if spent():
                    break
                reward = table.lookup(key)
                trained.add(key)
                best = max(best, reward)
                rows.append({"step": len(rows) + 1, "trainings": len(trained), "round": round_index,
                             "replica": replica, "key": key, "reward": reward, "best_so_far": best})
                kept += 1
            batches.append((archs[:kept], [r["reward"] for r in rows[len(rows) - kept:]]))
        # The synchronous search updates its one state in place; otherwise controller r is kept
        # for the rounds that will still sample from it.
        current = controllers[round_index] if synchronous else copy.deepcopy(controllers[round_index])
        tell_round(current, batches, None if synchronous else sampler)
        round_index += 1
        controllers[round_index] = current
        for old in [r for r in controllers if r < plan.sampling_controller(round_index)]:
            del controllers[old]
    return rows


def summarize(curves: pd.DataFrame, table: ResultsTable, step: int, budget_unit: str = "samples") -> dict[str, Any]:
    """Statistics over repeats of each strategy's first ``step`` samples (or trainings: the
    samples up to the one before the (step + 1)-th distinct child)."""
    out: dict[str, Any] = {}
    seen = curves[curves[BUDGET_UNITS[budget_unit]] <= step]
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
            values["samples"] = float(len(run))
            values["trainings"] = float(len(unique))
            for name, v in values.items():
                per_repeat.setdefault(name, []).append(v)
        out[strategy] = {name: _mean_std(vs) for name, vs in per_repeat.items()}
    return out


def _mean_std(values: list[float]) -> dict[str, float]:
    s = pd.Series(values, dtype=float)
    return {"mean": float(s.mean()), "std": float(s.std(ddof=1)) if len(s) > 1 else 0.0}


def run_bench(space: TabularSpace, table: ResultsTable, strategies: list[str], budget: int, repeats: int, *,
              seed: int = 0, batch_size: int = 8, reinforce_config: dict[str, Any] | None = None,
              eval_at: list[int] | None = None, replicas: int = 1, staleness: int = 0,
              budget_unit: str = "samples", evolution_config: dict[str, Any] | None = None,
              max_samples: int | None = None, labels: dict[str, tuple[str, dict[str, Any] | None]] | None = None,
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run every strategy ``repeats`` times; returns (curves, summary).

    ``labels`` adds named variants (label -> (strategy, its config)), e.g. two controller
    settings side by side; a label's rows carry the label as their strategy.
    """
    if budget < 1 or repeats < 1 or batch_size < 1:
        raise ValueError("budget, repeats and batch size must be >= 1")
    if budget_unit not in BUDGET_UNITS:
        raise ValueError(f"budget unit {budget_unit!r} is not one of {sorted(BUDGET_UNITS)}")
    if budget_unit == "trainings" and budget > len(table.reward):
        raise ValueError(f"budget {budget} trainings: the table has only {len(table.reward)} architectures")
    runs = {name: (name, {"reinforce": reinforce_config, "evolution": evolution_config}.get(name))
            for name in dict.fromkeys(strategies)}
    runs.update(labels or {})
    if not runs:
        raise ValueError("give at least one strategy")
    plan = RoundPlan(batch_size, replicas, staleness)
    records = []
    for label, (name, config) in runs.items():
        for repeat in range(repeats):
            for row in run_strategy(name, space, table, budget, seed=seed + repeat, batch_size=batch_size,
                                    config=config, plan=plan, budget_unit=budget_unit, max_samples=max_samples):
                records.append({"strategy": label, "repeat": repeat, **row})
    curves = pd.DataFrame.from_records(records, columns=["strategy", "repeat", "step", "trainings", "round", "replica",
                                                         "key", "reward", "best_so_far"])
    steps = sorted({s for s in (eval_at or []) if 1 <= s <= budget} | {budget})
    summary = {
        "space": space.spec,
        "table": str(table.path),
        "budget": budget,
        "budget_unit": budget_unit,
        "repeats": repeats,
        "seed": seed,
        "batch_size": batch_size,
        "replicas": replicas,
        "staleness": staleness,
        "configs": {label: {"strategy": name, "config": config or {}} for label, (name, config) in runs.items()},
        "reinforce": reinforce_config or {},
        "strategies": summarize(curves, table, budget, budget_unit),
        "at_step": {str(s): summarize(curves, table, s, budget_unit) for s in steps},
    }
    return curves, summary


def write_bench(out: str | Path, curves: pd.DataFrame, summary: dict[str, Any]) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves.to_csv(out / "curves.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
