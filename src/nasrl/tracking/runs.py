"""One result folder (a child's or a final run's) as one MLflow run, nested under the search.

A run is logged from the files its job wrote (metrics.json, curve.csv) and marked complete
last (tag ``nasrl.complete``): a run found without the mark was cut short and is logged
again from scratch, so a run is never logged twice nor left half-logged.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

from nasrl.io import read_metrics
from nasrl.tracking.params import flatten
from nasrl.tracking.state import SearchRun
from nasrl.tracking.store import retrying

BATCH = 100  # MLflow accepts at most 100 params (and 1,000 metrics) per log_batch call
COMPLETE = "nasrl.complete"
FAILED_STATUSES = {"failed", "diverged"}


def tag_filter(**tags: str) -> str:
    """An MLflow search filter matching every ``nasrl.<name> = value`` tag given."""
    return " and ".join(f"tags.`nasrl.{name}` = '{value}'" for name, value in tags.items())


def nested_runs(client, search: SearchRun, **tags: str) -> list:
    """Runs nested under the search run with the given nasrl tags (all pages)."""
    query = f"tags.`mlflow.parentRunId` = '{search.run_id}'"
    if tags:
        query += " and " + tag_filter(**tags)
    runs, token = [], None
    while True:
        page = retrying(client.search_runs, [search.experiment_id], query, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_run(client, search: SearchRun, stage: str, key: str):
    """The complete run of ``key`` at ``stage`` under the search; an incomplete one is deleted."""
    found = None
    for run in nested_runs(client, search, stage=stage, key=key):
        if run.data.tags.get(COMPLETE) == "true" and found is None:
            found = run
        elif run.data.tags.get(COMPLETE) != "true":
            retrying(client.delete_run, run.info.run_id)
    return found


def read_curve(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def summary_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar results of a run: reward, best and last validation metric, times, size."""
    names = {"reward": "reward", "best_val": f"best_{metrics.get('metric', 'val')}",
             "last_val": f"last_{metrics.get('metric', 'val')}", "seconds": "seconds",
             "setup_seconds": "setup_seconds", "params": "num_params", "conv_weights": "conv_weights"}
    out = {name: float(metrics[k]) for k, name in names.items() if isinstance(metrics.get(k), (int, float))}
    for name, value in (metrics.get("test") or {}).items():
        out[name] = float(value)
    return {k: v for k, v in out.items() if math.isfinite(v)}


def log_result_run(client, search: SearchRun, run_dir: str | Path, arch: dict[str, Any], stage: str,
                   tags: dict[str, str], params: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Log ``run_dir`` as a run nested under the search; returns (run id, newly logged)."""
    from mlflow.entities import Metric, Param, RunTag

    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir).raw
    existing = find_run(client, search, stage, metrics["key"])
    if existing is not None:
        return existing.info.run_id, False
    now = int(time.time() * 1000)
    started = now - int(1000 * (metrics.get("seconds") or 0))
    run_tags = {"mlflow.parentRunId": search.run_id, "nasrl.stage": stage, "nasrl.key": metrics["key"],
                "nasrl.arch_key": metrics.get("arch_key", ""), "nasrl.status": metrics["status"], **tags}
    if metrics.get("error"):
        run_tags["nasrl.error"] = str(metrics["error"])[:5000]
    run = retrying(client.create_run, search.experiment_id, start_time=started, tags=run_tags,
                   run_name=tags.get("mlflow.runName"))
    run_id = run.info.run_id
    all_params = [Param(k, v) for k, v in flatten({**flatten(arch), **(params or {})}).items()]
    values = [Metric(name, value, now, int(row.get("epoch", i)))
              for i, row in enumerate(read_curve(run_dir / "curve.csv"))
              for name, value in row.items() if name != "epoch" and math.isfinite(value)]
    values += [Metric(name, value, now, 0) for name, value in summary_metrics(metrics).items()]
    for i in range(0, max(len(all_params), len(values), 1), BATCH):
        retrying(client.log_batch, run_id, metrics=values[i:i + BATCH], params=all_params[i:i + BATCH])
    retrying(client.log_dict, run_id, arch, "architecture.json")
    retrying(client.log_artifact, run_id, str(run_dir / "metrics.json"))
    retrying(client.set_tag, run_id, COMPLETE, "true")
    status = "FAILED" if metrics["status"] in FAILED_STATUSES else "FINISHED"
    retrying(client.set_terminated, run_id, status, end_time=now)
    return run_id, True
