"""The search run: started with the search, one step of metrics per round, finished by the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from nasrl.io import read_metrics
from nasrl.tracking.params import dvc_data_hash, flatten, git_commit
from nasrl.tracking.runs import COMPLETE, log_result_run, nested_runs
from nasrl.tracking.state import SearchRun
from nasrl.tracking.store import client as make_client, retrying


def start_search(search: SearchRun, settings: dict[str, dict[str, Any]]) -> SearchRun:
    """Create the experiment (if new) and the search run with the resolved settings as params."""
    from mlflow.entities import Param

    client = make_client(search.uri)
    experiment = retrying(client.get_experiment_by_name, search.experiment)
    search.experiment_id = (experiment.experiment_id if experiment is not None
                            else retrying(client.create_experiment, search.experiment))
    strategy = str(settings.get("search", {}).get("strategy", "reinforce"))
    tags = {"nasrl.stage": "search", "nasrl.strategy": strategy, "nasrl.git_commit": git_commit(),
            "nasrl.dvc_data": dvc_data_hash(), "nasrl.results": search.results}
    run = retrying(client.create_run, search.experiment_id, tags=tags, run_name=f"search-{strategy}")
    search.run_id, search.error = run.info.run_id, None
    params = [Param(k, v) for k, v in flatten(settings).items()]
    for i in range(0, len(params), 100):
        retrying(client.log_batch, search.run_id, params=params[i:i + 100])
    return search


def log_child(client, search: SearchRun, key: str, arch: dict[str, Any], round_index: int,
              run_dir: str | Path | None = None) -> tuple[str, bool]:
    """The run of child ``key`` (trained in its first round, ``round_index``), from its folder."""
    tags = {"nasrl.round": str(round_index), "mlflow.runName": f"child-r{round_index}-{key[:8]}"}
    return log_result_run(client, search, run_dir or search.layout.child_dir(key), arch, "child", tags)


def log_round(search: SearchRun, round_index: int, table, stats: dict[str, Any] | None = None) -> list[str]:
    """Round metrics on the search run, and a run for every child of the round.

    ``table`` is the round's rewards (one row per sample). A child trained in an earlier
    round, or earlier in this round, is a cache hit: not trained again, so its run gets a
    tag with every round that sampled it; a child trained by an earlier search (the same
    key under other search settings) gets a small run here that points to the one that
    trained it. Returns the keys whose runs were logged now (missed by their own job).
    """
    from mlflow.entities import Metric, RunTag

    client = make_client(search.uri)
    runs = {r.data.tags["nasrl.key"]: r for r in nested_runs(client, search, stage="child")
            if r.data.tags.get(COMPLETE) == "true"}  # one query for the whole round
    logged, hits, seen, reused = [], 0, set(), set()
    for row in table.sort_values("index").itertuples():
        run = runs.get(row.key)
        if run is None:
            source = _trained_elsewhere(client, search, row.key)
            arch = json.loads(row.arch)
            if source is not None:
                run_id = _log_cache_link(client, search, row, arch, source)
            else:
                run_id, _ = log_child(client, search, row.key, arch, round_index)
                logged.append(row.key)
            run = runs[row.key] = retrying(client.get_run, run_id)
        first = int(run.data.tags.get("nasrl.round", round_index))
        if row.key in seen or first < round_index or run.data.tags.get("nasrl.cache_hit") == "true":
            hits += 1
            reused.add(row.key)
        seen.add(row.key)
    for key in seen:
        run = runs[key]
        rounds = sorted({int(r) for r in run.data.tags.get("nasrl.sampled_in_rounds", "").split(",") if r} | {round_index})
        tags = [RunTag("nasrl.sampled_in_rounds", ",".join(map(str, rounds)))]
        tags += [RunTag("nasrl.reused", "true")] if key in reused else []
        retrying(client.log_batch, run.info.run_id, tags=tags)
    values = {"mean_reward": float(table["reward"].mean()), "max_reward": float(table["reward"].max()),
              "failed_children": float((table["status"] != "ok").sum()), "cache_hits": float(hits)}
    for name in ("baseline", "loss", "entropy", "log_prob"):
        if isinstance((stats or {}).get(name), (int, float)):
            values[name] = float(stats[name])
    now = int(time.time() * 1000)
    retrying(client.log_batch, search.run_id, metrics=[Metric(k, v, now, round_index) for k, v in values.items()])
    return logged


def _trained_elsewhere(client, search: SearchRun, key: str):
    query = f"tags.`nasrl.stage` = 'child' and tags.`nasrl.key` = '{key}' and tags.`{COMPLETE}` = 'true'"
    runs = retrying(client.search_runs, [search.experiment_id], query, max_results=10)
    runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") != search.run_id
            and r.data.tags.get("nasrl.cache_hit") != "true"]
    return runs[0] if runs else None


def _log_cache_link(client, search: SearchRun, row, arch: dict[str, Any], source) -> str:
    """A run for a child reused from an earlier search's results: its decisions and reward only."""
    from mlflow.entities import Metric, Param

    tags = {"mlflow.parentRunId": search.run_id, "nasrl.stage": "child", "nasrl.key": row.key,
            "nasrl.arch_key": row.arch_key, "nasrl.status": row.status, "nasrl.round": str(row.round),
            "nasrl.cache_hit": "true", "nasrl.source_run_id": source.info.run_id}
    run = retrying(client.create_run, search.experiment_id, tags=tags, run_name=f"cached-r{row.round}-{row.key[:8]}")
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    retrying(client.log_batch, run_id, metrics=[Metric("reward", float(row.reward), now, 0)],
             params=[Param(k, v) for k, v in list(flatten(arch).items())[:100]])
    retrying(client.set_tag, run_id, COMPLETE, "true")
    retrying(client.set_terminated, run_id, "FINISHED")
    return run_id


def log_final_run(search: SearchRun, run_dir: str | Path, arch: dict[str, Any]) -> tuple[str, bool]:
    """One retraining run of the final grid (Sec. 4.1), params = decisions + grid point."""
    metrics = read_metrics(run_dir).raw
    tags = {"nasrl.rank": str(metrics["rank"]), "nasrl.point": str(metrics["point"]),
            "mlflow.runName": f"final-{metrics['rank']}-{metrics['point']}"}
    grid = {f"grid.{k}": v for k, v in metrics["grid"].items()}
    return log_result_run(make_client(search.uri), search, run_dir, arch, "final", tags, grid)


def finish_search(search: SearchRun, headline: dict[str, Any], best: dict[str, Any]) -> None:
    """Headline metrics on the search run, the best model registered, the search run ended."""
    from mlflow.entities import Metric

    client = make_client(search.uri)
    now = int(time.time() * 1000)
    scalars = {k: float(v) for k, v in headline.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    scalars.update({f"final_{k}": float(v) for k, v in (headline.get("final_test") or {}).items()})
    retrying(client.log_batch, search.run_id, metrics=[Metric(k, v, now, 0) for k, v in scalars.items()])
    if best.get("status") == "ok":
        retrying(client.set_tag, search.run_id, "nasrl.best_arch_key", best["arch_key"])
    retrying(client.set_terminated, search.run_id, "FINISHED")
