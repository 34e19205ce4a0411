"""Which MLflow run holds each child, kept beside the search's results, so that an update finds
the runs of its children without reading the search's other runs.

MLflow's run filters have no ``IN`` for tags, and a filter on one child's key scans every run
of the experiment, so looking the children up in the store costs either a query that reads
every child run of the search (~2 ms a run: ~25 s an update after 1,600 updates of 8) or a
query per child that grows with the search too. A marker file per child,
``tracking/runs/{key}.json``, makes the lookup a ``get_run`` per child already logged:

- ``{"search_run": ID, "run_id": null}`` is written *before* the child's run is created, and
  ``run_id`` filled in once the run is complete. A child without a marker of this search run
  (none, or one of another search run: a store rebuilt by ``nasrl track sync`` has a new
  search run) therefore has no run under it, and needs no query at all.
- A marker without its run id (the logging was killed), or naming a run that is gone or
  incomplete, falls back to asking the store about that one key.

The store stays the truth: a marker only says where to look, or that there is nothing to find.
"""

from __future__ import annotations

from typing import Any

from nasrl.architecture import read_json
from nasrl.io import write_json
from nasrl.tracking.state import SearchRun


def before_logging(search: SearchRun, keys: list[str]) -> None:
    """Mark ``keys`` as being logged under the search run, before any of their runs exists."""
    for key in keys:
        write_json(search.layout.child_run_marker(key), {"search_run": search.run_id, "run_id": None})


def logged(search: SearchRun, key: str, run_id: str) -> None:
    """The child's run is complete: its id, for the next lookup."""
    write_json(search.layout.child_run_marker(key), {"search_run": search.run_id, "run_id": run_id})


def marked_runs(client, search: SearchRun, keys: set[str]) -> tuple[dict[str, Any], set[str]]:
    """(key -> its complete run found through its marker, the keys the store must be asked
    about); a key in neither has no run under this search run."""
    from mlflow.exceptions import MlflowException

    from nasrl.tracking.record import COMPLETE

    found, ask = {}, set()
    for key in sorted(keys):
        path = search.layout.child_run_marker(key)
        if not path.exists():
            continue
        try:
            marker = read_json(path, "child run marker")
        except ValueError:  # a torn marker: the store knows
            ask.add(key)
            continue
        if not isinstance(marker, dict):
            ask.add(key)
            continue
        if marker.get("search_run") != search.run_id:  # this search run never began logging it
            continue
        if not marker.get("run_id"):  # began, and was cut short: the store knows how far it got
            ask.add(key)
            continue
        try:
            run = client.get_run(marker["run_id"])
        except MlflowException:
            ask.add(key)
            continue
        tags = run.data.tags
        if (run.info.lifecycle_stage == "active" and tags.get(COMPLETE) == "true"
                and tags.get("mlflow.parentRunId") == search.run_id and tags.get("nasrl.key") == key):
            found[key] = run
        else:
            ask.add(key)
    return found, ask
