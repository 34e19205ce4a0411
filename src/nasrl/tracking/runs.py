"""Runs nested under the search, found by their nasrl tags; one result folder logged as one.

A run is marked complete last (tag ``nasrl.complete``, see record.py): a run found without
the mark was cut short, so it is deleted and logged again from scratch, and a run is never
logged twice nor left half-logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from nasrl.io import read_metrics
from nasrl.layout import RunFolder
from nasrl.tracking.record import COMPLETE, result_record
from nasrl.tracking.state import SearchRun


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
        page = client.search_runs([search.experiment_id], query, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def is_complete(run) -> bool:
    return run.data.tags.get(COMPLETE) == "true"


def complete_runs(client, search: SearchRun, stage: str, keys: Iterable[str]) -> dict[str, Any]:
    """The complete run of each of ``keys`` at ``stage``, from one query for the whole stage;
    incomplete runs of these keys are deleted (they are logged again)."""
    keys, found = set(keys), {}
    for run in nested_runs(client, search, stage=stage):
        key = run.data.tags.get("nasrl.key")
        if is_complete(run):
            found.setdefault(key, run)
        elif key in keys:
            client.delete_run(run.info.run_id)
    return found


def find_run(client, search: SearchRun, stage: str, key: str):
    """The complete run of ``key`` at ``stage`` under the search; an incomplete one is deleted."""
    found = None
    for run in nested_runs(client, search, stage=stage, key=key):
        if is_complete(run) and found is None:
            found = run
        elif not is_complete(run):
            client.delete_run(run.info.run_id)
    return found


def log_result_run(client, search: SearchRun, run_dir: str | Path, arch: dict[str, Any], stage: str,
                   tags: dict[str, str], params: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Log ``run_dir`` as a run nested under the search unless it is; returns (run id, newly logged)."""
    existing = find_run(client, search, stage, read_metrics(RunFolder(run_dir).metrics).key)
    if existing is not None:
        return existing.info.run_id, False
    record = result_record(run_dir, arch, stage, search.run_id, tags, search.space, params,
                           diagram=search.child_diagrams or stage != "child")
    return record.write(client, search.experiment_id), True
