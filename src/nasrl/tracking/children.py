"""The child runs a round lacks, logged in one pass by the round's update (or by sync).

Child jobs do not log: a round of hundreds of children would otherwise mean as many
processes importing MLflow and opening the store. The one process that logs the round finds
which children the store lacks (runs.complete_runs: one query for the round, then each child's marker, run_markers.py), then writes each missing
child in four store calls (record.py).

A child whose key an earlier search of the experiment trained (same results folder, other
search settings) is not trained again; it gets a small link run pointing to the run that
trained it.
"""

from __future__ import annotations

from typing import Any

from nasrl.tracking.record import COMPLETE, link_record, result_record
from nasrl.tracking.run_markers import before_logging
from nasrl.tracking.run_markers import logged as marker_logged
from nasrl.tracking.state import SearchRun


def child_tags(round_index: int, index: int, key: str) -> dict[str, str]:
    """Tags of the child first sampled as child ``index`` of round ``round_index``; its run name
    says where (``r3-c5``: round 3, child 5), so the runs table reads in sampling order."""
    return {"nasrl.round": str(round_index), "nasrl.index": str(index), "mlflow.runName": f"r{round_index}-c{index}"}


def log_missing_children(client, search: SearchRun, round_index: int, archs: dict[str, dict[str, Any]],
                         indexes: dict[str, int], extra_tags: dict[str, dict[str, str]] | None = None,
                         sources: dict[str, str] | None = None) -> list[str]:
    """A run for each child in ``archs`` (key -> architecture, all missing from the store),
    first sampled in ``round_index`` as its child ``indexes[key]``; ``extra_tags`` (by key) are
    set as the run is created; ``sources`` is runs_elsewhere(archs) when the caller has it.
    Returns the keys logged."""
    if sources is None:
        sources = runs_elsewhere(client, search, list(archs))
    logged = []
    before_logging(search, list(archs))  # run_markers.py: no marker, no run
    for key, arch in archs.items():
        tags = {**child_tags(round_index, indexes[key], key), **(extra_tags or {}).get(key, {})}
        run_dir = search.layout.child_dir(key)
        if key in sources:
            record = link_record(run_dir, arch, search.run_id, sources[key], tags, search.space)
        else:
            record = result_record(run_dir, arch, "child", search.run_id, tags, search.space,
                                   diagram=search.child_diagrams)
        marker_logged(search, key, record.write(client, search.experiment_id))
        logged.append(key)
    return logged


def runs_elsewhere(client, search: SearchRun, keys: list[str]) -> dict[str, str]:
    """key -> id of the complete run that trained it under another search of the experiment.
    One query per key, made only when the experiment holds another search at all."""
    if not keys or not other_searches_exist(client, search):
        return {}
    found = {}
    for key in keys:
        query = f"tags.`nasrl.stage` = 'child' and tags.`nasrl.key` = '{key}' and tags.`{COMPLETE}` = 'true'"
        for run in client.search_runs([search.experiment_id], query, max_results=10):
            tags = run.data.tags
            if tags.get("mlflow.parentRunId") != search.run_id and tags.get("nasrl.cache_hit") != "true":
                found[key] = run.info.run_id
                break
    return found


def other_searches_exist(client, search: SearchRun) -> bool:
    runs = client.search_runs([search.experiment_id], "tags.`nasrl.stage` = 'search'", max_results=2)
    return any(run.info.run_id != search.run_id for run in runs)
