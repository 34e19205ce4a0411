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
from nasrl.tracking.run_markers import before_logging, logged, marked_runs
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


def complete_runs(client, search: SearchRun, stage: str, keys: Iterable[str],
                  round_index: int | None = None) -> dict[str, Any]:
    """The complete run of each of ``keys`` at ``stage``; incomplete runs of these keys are
    deleted (they are logged again).

    Without ``round_index``: one query for every run of the stage. With it (the children of
    one round), the cost follows the round, not the search: one query for the runs first
    sampled in that round (``nasrl.round``: a sync or a killed update may have logged some),
    then each other key's marker (run_markers.py), and a query only for a key whose marker
    cannot be trusted."""
    keys, found = set(keys), {}

    def take(runs) -> None:
        for run in runs:
            key = run.data.tags.get("nasrl.key")
            if is_complete(run):
                found.setdefault(key, run)
            elif key in keys:
                client.delete_run(run.info.run_id)

    if round_index is None or not search.layout.child_run_marker("").parent.exists():
        # every run of the stage: asked for, or a search logged before the markers existed,
        # whose runs get their markers now
        take(nested_runs(client, search, stage=stage))
        if round_index is not None and stage == "child":
            for key, run in found.items():
                logged(search, key, run.info.run_id)
        return found if round_index is None else {key: run for key, run in found.items() if key in keys}
    take(nested_runs(client, search, stage=stage, round=str(round_index)))
    marked, ask = marked_runs(client, search, keys - set(found))
    found.update(marked)
    for key in sorted(ask):
        take(nested_runs(client, search, stage=stage, key=key))
        if key in found:  # the marker mended, so the next lookup needs no query
            logged(search, key, found[key].info.run_id)
    return {key: run for key, run in found.items() if key in keys}


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
    key = read_metrics(RunFolder(run_dir).metrics).key
    existing = find_run(client, search, stage, key)
    if existing is not None:
        return existing.info.run_id, False
    record = result_record(run_dir, arch, stage, search.run_id, tags, search.space, params,
                           diagram=search.child_diagrams or stage != "child")
    if stage == "child":
        before_logging(search, [key])  # run_markers.py: a child's marker comes before its run
    run_id = record.write(client, search.experiment_id)
    if stage == "child":
        logged(search, key, run_id)
    return run_id, True
