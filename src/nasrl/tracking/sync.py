"""Log to MLflow whatever a search's jobs could not: ``nasrl track sync --results DIR``.

Everything is read from the result files; a run already logged (complete) is left alone, so
sync can run any number of times, during or after a search.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from nasrl.architecture import read_json
from nasrl.io import read_metrics, read_top
from nasrl.layout import ResultsLayout, RunFolder
from nasrl.tracking.children import log_missing_children
from nasrl.tracking.record import DESCRIPTION
from nasrl.tracking.round import log_round
from nasrl.tracking.runs import complete_runs, find_run
from nasrl.tracking.search import finish_search, log_final_run, start_search
from nasrl.tracking.relocate import follow_move
from nasrl.tracking.state import SearchRun, portable_path
from nasrl.tracking.store import recorded_uri, resolve_uri, schema_state, sqlite_file


def read_settings(results: Path) -> dict[str, dict[str, Any]]:
    """The search and child settings a search run records as params."""
    return {name: yaml.safe_load(ResultsLayout(results).settings(name).read_text(encoding="utf-8"))
            for name in ("search", "child")}


def ensure_search_run(search: SearchRun) -> bool:
    """Create the search run if the store has none for this search; True when created now."""
    if search.run_id is not None:
        from mlflow.exceptions import MlflowException

        try:
            search.client.get_run(search.run_id)
            return False
        except MlflowException as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
    start_search(search, read_settings(search.results_dir))
    search.save(search.state_file)
    return True


def logged_round_steps(search: SearchRun) -> set[int]:
    """The rounds whose metrics the search run holds: the mark of a round logged in full."""
    history = search.client.get_metric_history(search.run_id, "mean_reward")
    return {m.step for m in history}


def sync_rounds(search: SearchRun, before: int | None = None) -> list[str]:
    """Every finished round not logged yet (metrics and child runs), and the finished children
    of a round still in progress; with ``before``, only the finished rounds before that one."""
    import pandas as pd

    layout, logged = search.layout, []
    done_steps = logged_round_steps(search)
    for round_dir in sorted(layout.rounds_dir.glob("[0-9][0-9][0-9][0-9]")):
        index = int(round_dir.name)
        rewards = layout.rewards(index)
        if before is not None and (index >= before or not rewards.exists()):
            continue
        if rewards.exists() and index not in done_steps:
            stats_file = layout.controller_stats(index + 1)
            stats = read_json(stats_file, "controller stats") if stats_file.exists() else None
            logged += log_round(search, index, pd.read_parquet(rewards), stats)
        elif not rewards.exists():
            logged += _sync_unfinished_round(search, index)
    return logged + _sync_batches(search, done_steps, before)


def _sync_batches(search: SearchRun, done_steps: set[int], before: int | None) -> list[str]:
    """search.updates async: each applied batch not logged yet, as the update its update.json
    names (MLflow step = version - 1, in the order the journal gave), before ``before`` if given."""
    import pandas as pd

    layout, logged = search.layout, []
    updates = [read_json(path, "batch update") for path in sorted(layout.batches_dir.glob("*/update.json"))]
    for stats in sorted(updates, key=lambda stats: stats["version"]):
        step = int(stats["version"]) - 1
        if step in done_steps or (before is not None and step >= before):
            continue
        rewards = layout.batch_rewards(stats["step"], stats["replica"])
        logged += log_round(search, step, pd.read_parquet(rewards), stats)
    return logged


def _sync_unfinished_round(search: SearchRun, index: int) -> list[str]:
    """The children of a round in progress that finished training; the round's update adds
    their reuse tags and the round's metrics later."""
    archs = search.layout.sampled(index)
    lines = archs.read_text(encoding="utf-8").splitlines() if archs.exists() else []
    samples = [json.loads(line) for line in lines if line.strip()]
    finished = {sample["key"]: sample["arch"] for sample in samples
                if search.layout.child_metrics(sample["key"]).exists()}
    if not finished:
        return []
    known = complete_runs(search.client, search, "child", finished, index)
    missing = {key: arch for key, arch in finished.items() if key not in known}
    first_index = {sample["key"]: int(sample["index"]) for sample in reversed(samples)}
    return log_missing_children(search.client, search, index, missing, first_index)


def sync_final(search: SearchRun, register_model: bool = True) -> list[str]:
    """The final retraining runs; once the report exists, headline metrics and the best model."""
    layout, logged = search.layout, []
    if not layout.top.exists():
        return logged
    top = read_top(layout.top)
    for metrics_file in layout.final_runs_metrics:
        metrics = read_metrics(metrics_file)
        if metrics.status == "skipped":
            continue
        _, new = log_final_run(search, metrics_file.parent, top[metrics.get("rank")]["arch"])
        if new:
            logged.append(metrics_file.parent.name)
    if layout.best.exists() and layout.search_metrics.exists():
        best = read_json(layout.best, "best run")
        # finish_search ends the run last: a run still open was not finished (a transfer run,
        # which retrains presets without a search, has no search metrics to look for)
        if search.client.get_run(search.run_id).info.status != "FINISHED":
            finish_search(search, read_json(layout.search_metrics, "headline metrics"), best)
            logged.append("search results")
        if best.get("status") == "ok":
            logged += _best_final_run(search, best, register_model)
    return logged


def _best_final_run(search: SearchRun, best: dict[str, Any], register_model: bool) -> list[str]:
    """The test metrics (the one test evaluation, Sec. 4.1) and the ``nasrl.best`` tag on the
    final run the report chose, and its network registered."""
    from mlflow.entities import Metric, RunTag

    run_dir = Path(best["run"])
    if not run_dir.is_absolute():
        run_dir = search.results_dir.parents[1] / run_dir  # best.json paths are relative to the workflow root
    metrics = read_metrics(RunFolder(run_dir).metrics)
    client = search.client
    run = find_run(client, search, "final", metrics.key)
    logged = []
    test = {name: float(value) for name, value in (best.get("test") or {}).items()}
    if run.data.tags.get("nasrl.best") != "true":
        now = int(time.time() * 1000)
        tested = ", ".join(f"{k} {v:.4f}" for k, v in test.items())
        described = f"{run.data.tags.get(DESCRIPTION, 'final run')}; chosen on validation, tested once: {tested}"
        client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in test.items()],
                         tags=[RunTag("nasrl.best", "true"), RunTag(DESCRIPTION, described)])
        logged.append(f"test metrics of final run {run_dir.name}")
    # A table lookup (surrogate child) trained no network: there is no model to register.
    if register_model and search.registered_model and not metrics.get("surrogate"):
        logged += _register(search, best, run, run_dir)
    return logged


def _register(search: SearchRun, best: dict[str, Any], run, run_dir: Path) -> list[str]:
    from nasrl.models.saved import load_model
    from nasrl.tracking.model import register_best_model

    name = search.registered_model
    # A version already registered from this run is not logged again; checked before the model is loaded.
    if search.client.search_model_versions(f"name = '{name}' and run_id = '{run.info.run_id}'"):
        return []
    model, saved = load_model(run_dir)
    version = register_best_model(search, best, run.info.run_id, model, saved)
    return [f"model {name} version {version}"]


def sync(results: str | Path, uri: str | None = None) -> list[str]:
    """Log everything of the search in ``results`` that the store lacks; returns what was logged."""
    search = SearchRun.load(ResultsLayout(Path(results)).tracking_state)
    search.results = portable_path(results)
    if uri is not None and resolve_uri(uri) != resolve_uri(search.uri):
        search.uri, search.experiment_id, search.run_id = recorded_uri(uri), None, None
    database = sqlite_file(resolve_uri(search.uri))
    if search.enabled and database is not None and database.is_file():
        schema_state(database)  # a file that is not a database: one error line before a move rewrites it
    if follow_move(search):
        search.save(search.state_file)
    if not search.enabled:
        raise ValueError(f"{results}: tracking is off for this search (config tracking.enabled: false)")
    logged = ["search run"] if ensure_search_run(search) else []
    return logged + sync_rounds(search) + sync_final(search)
