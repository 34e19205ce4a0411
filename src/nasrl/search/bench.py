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

Updates come in rounds (``RoundPlan``: K replica batches from controller r - s, then K updates
in replica order, as the pipeline runs them) or asynchronously (``AsyncPlan``: the paper's
replicas, Sec. 3.3). In async mode each of K replicas samples m children from the newest
controller, its children train in parallel for simulated log-normal durations
(``nasrl.planning.durations``, median 1, spread sigma), and when the slowest of them ends the
batch's update is applied at once to the newest controller, with the gradient taken at the
state that sampled it; then that replica samples its next batch. Replica k's j-th batch uses
the random stream of offset (j K + k) m, as round j's replica k does, and the replicas' chains
are fixed (the batches whose offsets are within the budget), as in the workflow's async mode.
Its rows come in completion order, the order the controller learns from them: ``step`` counts
the samples told so far, ``round`` is j and ``replica`` is k. With K = 1 async is the
synchronous search, bit for bit.

A sampled key that is not in the table is an error naming the key: the space and table
disagree, and no reward can stand in for a missing result.
"""

from __future__ import annotations

import copy
import heapq
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.errors import TableError
from nasrl.planning.durations import ASSUMED_SIGMA, draw_durations
from nasrl.search.base import derived_seed
from nasrl.spaces.tabular import TabularSpace
from nasrl.search.registry import make_strategy
from nasrl.search.rounds import RoundPlan, tell_round
from nasrl.tables import table_path

TOP_K = (1, 5, 15)
BUDGET_UNITS = {"samples": "step", "trainings": "trainings"}  # unit -> the curves.csv column counting it
MAX_SAMPLES_PER_TRAINING = 20  # budget unit trainings: a search stops after 20 x budget samples at most
TRANSFORMS = {"identity": lambda x: x, "cube": lambda x: x**3}  # cube: CIFAR-10 reward, Sec. 4.1
UPDATES = ("rounds", "async")


@dataclass(frozen=True)
class AsyncPlan:
    """Asynchronous replicas: K replicas of m children, durations log-normal with spread sigma.

    ``duration_seed`` seeds the durations; None derives it from the search's seed."""

    children_per_replica: int  # m
    replicas: int = 1  # K
    duration_sigma: float = ASSUMED_SIGMA
    duration_seed: int | None = None

    def __post_init__(self):
        for name in ("children_per_replica", "replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        sigma = self.duration_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"duration_sigma: expected a finite number >= 0, got {sigma!r}")

    def offset(self, batch: int, replica: int = 0) -> int:
        """Samples of the whole search before replica ``replica``'s ``batch``-th batch (RoundPlan's)."""
        return (batch * self.replicas + replica) * self.children_per_replica


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
                 batch_size: int, config: dict[str, Any] | None, plan: RoundPlan | AsyncPlan | None = None,
                 budget_unit: str = "samples", max_samples: int | None = None) -> list[dict[str, Any]]:
    """One search of ``budget`` samples or trainings; one row per sample (with its round and replica).

    Rounds follow ``plan`` as the pipeline runs them: K replica batches of ``batch_size``
    sampled from controller r - s, then K updates. The last round is cut where the budget is
    reached: at the budget-th sample, or at the sample that is the budget-th distinct child
    (the repeats drawn after it in the round are not told to the strategy). An ``AsyncPlan``
    runs asynchronous replicas instead (``run_async``).
    """
    if budget_unit not in BUDGET_UNITS:
        raise ValueError(f"budget unit {budget_unit!r} is not one of {sorted(BUDGET_UNITS)}")
    by_trainings = budget_unit == "trainings"
    max_samples = (MAX_SAMPLES_PER_TRAINING * budget if max_samples is None else max_samples) if by_trainings else budget
    if isinstance(plan, AsyncPlan):
        return run_async(name, space, table, budget, seed=seed, config=config, plan=plan, budget_unit=budget_unit,
                         max_samples=max_samples)
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


def run_async(name: str, space: TabularSpace, table: ResultsTable, budget: int, *, seed: int,
              config: dict[str, Any] | None, plan: AsyncPlan, budget_unit: str = "samples",
              max_samples: int | None = None) -> list[dict[str, Any]]:
    """One search with asynchronous replicas, simulated in completion order; one row per sample
    told, in the order the updates were applied.

    Replica k runs a fixed chain of batches j = 0, 1, ..., as the workflow's replicas do: the
    batches whose offsets (j K + k) m are below ``max_samples`` (the last one cut there), so the
    search's batches and their random streams are the rounds' and only the controllers that
    sample them and the order of the updates depend on timing. At time 0 every replica samples
    its first batch from the initial controller. The search's n-th child submitted gets the
    n-th of ``draw_durations`` (median 1; common random numbers: the same seed gives every K
    the same sequence); a batch ends with its slowest child, and batches ending together are
    told in replica order. A batch's update goes to the newest controller, with ``sampler`` the
    state that sampled it (None when no update came in between: K = 1 is the synchronous
    search), and its replica then samples its next batch from the newest controller. The search
    stops when the budget is spent, the batch that spends it cut there as in rounds; batches
    still running then are not told.
    """
    by_trainings = budget_unit == "trainings"
    if max_samples is None:
        max_samples = MAX_SAMPLES_PER_TRAINING * budget if by_trainings else budget
    m, replicas = plan.children_per_replica, plan.replicas
    duration_seed = derived_seed("durations", seed) if plan.duration_seed is None else plan.duration_seed
    durations = draw_durations(max_samples, float(plan.duration_sigma), duration_seed, median=1.0)
    newest = make_strategy(name, space, seed=seed, config=config)
    version = 0  # updates applied to the newest controller
    snapshots: dict[int, Any] = {}  # version -> a copy of that state, while a running batch was sampled by it
    running: list[tuple[float, int, int, int, list[dict[str, Any]]]] = []  # (end, replica, j, version, archs)
    rows: list[dict[str, Any]] = []
    trained: set[str] = set()
    best = float("-inf")
    sampled = 0

    def spent() -> bool:
        return len(rows) >= max_samples or (by_trainings and len(trained) >= budget)

    def start(replica: int, batch: int, now: float) -> None:
        nonlocal sampled
        offset = plan.offset(batch, replica)
        size = min(m, max_samples - offset)
        if size < 1:  # the replica's chain ends where the search's samples do
            return
        archs = newest.ask(size, offset=offset)
        end = now + float(durations[sampled:sampled + size].max())
        sampled += size
        heapq.heappush(running, (end, replica, batch, version, archs))

    for replica in range(replicas):
        start(replica, 0, 0.0)
    while running and not spent():
        end, replica, batch, sampled_at, archs = heapq.heappop(running)  # replicas are unique: ties go by replica
        kept = 0
        for arch in archs:  # count in sampling order within the batch; stop at the budget
            if spent():
                break
            key = space.table_key(arch)
            reward = table.lookup(key)
            trained.add(key)
            best = max(best, reward)
            rows.append({"step": len(rows) + 1, "trainings": len(trained), "round": batch, "replica": replica,
                         "key": key, "reward": reward, "best_so_far": best})
            kept += 1
        sampler = None if sampled_at == version else snapshots[sampled_at]
        if any(b[3] == version for b in running) and version not in snapshots:
            snapshots[version] = copy.deepcopy(newest)  # a running batch was sampled by the state about to change
        newest.tell(archs[:kept], [r["reward"] for r in rows[len(rows) - kept:]], sampler=sampler)
        version += 1
        needed = {b[3] for b in running}
        for old in [v for v in snapshots if v not in needed]:
            del snapshots[old]
        if not spent():
            start(replica, batch + 1, end)
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
              updates: str = "rounds", duration_sigma: float = ASSUMED_SIGMA,
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run every strategy ``repeats`` times; returns (curves, summary).

    ``labels`` adds named variants (label -> (strategy, its config)), e.g. two controller
    settings side by side; a label's rows carry the label as their strategy. ``updates``
    "async" runs asynchronous replicas (``AsyncPlan``; durations of spread ``duration_sigma``
    seeded from each repeat's seed) instead of rounds; it takes no staleness.
    """
    if budget < 1 or repeats < 1 or batch_size < 1:
        raise ValueError("budget, repeats and batch size must be >= 1")
    if updates not in UPDATES:
        raise ValueError(f"updates {updates!r} is not one of {list(UPDATES)}")
    if updates == "async" and staleness != 0:
        raise ValueError(f"staleness {staleness} with async updates: an async replica samples from the newest "
                         "controller, so staleness must be 0")
    if budget_unit not in BUDGET_UNITS:
        raise ValueError(f"budget unit {budget_unit!r} is not one of {sorted(BUDGET_UNITS)}")
    if budget_unit == "trainings" and budget > len(table.reward):
        raise ValueError(f"budget {budget} trainings: the table has only {len(table.reward)} architectures")
    runs = {name: (name, {"reinforce": reinforce_config, "evolution": evolution_config}.get(name))
            for name in dict.fromkeys(strategies)}
    runs.update(labels or {})
    if not runs:
        raise ValueError("give at least one strategy")
    plan = (AsyncPlan(batch_size, replicas, duration_sigma) if updates == "async"
            else RoundPlan(batch_size, replicas, staleness))
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
        "updates": updates,
        "duration_sigma": float(duration_sigma) if updates == "async" else None,
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
