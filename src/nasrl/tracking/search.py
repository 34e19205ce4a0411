"""The search run: started with the search, finished by the report; its final runs.

Rounds are logged by round.py (one step of metrics per round, and the round's children).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nasrl.data_kinds import dataset_label
from nasrl.io import read_metrics
from nasrl.layout import RunFolder
from nasrl.tracking.children import child_tags
from nasrl.tracking.params import dvc_data_hash, flatten, git_commit
from nasrl.tracking.record import DESCRIPTION
from nasrl.tracking.runs import log_result_run
from nasrl.tracking.state import SearchRun
from nasrl.tracking.views import final_view_tag, search_view_tag


# Marks the experiment as model training for MLflow's UI, which then opens it on its runs table
# rather than on the GenAI overview.
EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_TAGS = {EXPERIMENT_KIND: "custom_model_development"}


def start_search(search: SearchRun, settings: dict[str, dict[str, Any]]) -> SearchRun:
    """Create the experiment (if new) and the search run with the resolved settings as params."""
    from mlflow.entities import Param

    client = search.client
    experiment = client.get_experiment_by_name(search.experiment)
    if experiment is None:
        search.experiment_id = client.create_experiment(search.experiment, tags=EXPERIMENT_TAGS)
    else:
        search.experiment_id = experiment.experiment_id
        if experiment.tags.get(EXPERIMENT_KIND) is None:  # a store from before the tag
            client.set_experiment_tag(search.experiment_id, EXPERIMENT_KIND, EXPERIMENT_TAGS[EXPERIMENT_KIND])
    # The runs table's columns and sort (views.py), written at every start: a store from
    # before the view gets it, and one from an older nasrl gets the current columns.
    child = settings.get("child", {})
    stopping = bool((child.get("early_stopping") or {}).get("enabled"))
    client.set_experiment_tag(search.experiment_id, *search_view_tag(child.get("dataset"), early_stopping=stopping))
    strategy = str(settings.get("search", {}).get("strategy", "reinforce"))
    tags = {"nasrl.stage": "search", "nasrl.strategy": strategy, DESCRIPTION: search_description(search, settings),
            "nasrl.git_commit": git_commit(),
            "nasrl.dvc_data": dvc_data_hash(), "nasrl.results": search.results, "nasrl.root": search.root}
    run = unclaimed_search_run(client, search) or client.create_run(
        search.experiment_id, tags=tags, run_name=f"search-{strategy}")
    search.run_id, search.error = run.info.run_id, None
    params = [Param(k, v) for k, v in flatten(settings).items()]
    for i in range(0, len(params), 100):
        client.log_batch(search.run_id, params=params[i:i + 100])
    return search


def unclaimed_search_run(client, search: SearchRun):
    """The search run a start of this same search created before it was killed, if any.

    A start killed after creating its run but before writing the state file runs again; it
    takes over that run instead of leaving a second one. Such a run is still RUNNING, has no
    nested run yet (nothing logs before the state file exists) and names this results folder
    and working directory; a finished or a logged-into search run is never taken."""
    query = (f"tags.`nasrl.stage` = 'search' and tags.`nasrl.results` = '{search.results}' "
             f"and tags.`nasrl.root` = '{search.root}' and attributes.status = 'RUNNING'")
    for run in client.search_runs([search.experiment_id], query, max_results=10):
        nested = f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
        if not client.search_runs([search.experiment_id], nested, max_results=1):
            return run
    return None


def log_child(client, search: SearchRun, key: str, arch: dict[str, Any], round_index: int, index: int,
              run_dir: str | Path | None = None) -> tuple[str, bool]:
    """The run of one child (first sampled as child ``index`` of round ``round_index``) from its
    folder, unless logged; a round logs its children together (round.py), this logs one alone."""
    return log_result_run(client, search, run_dir or search.layout.child_dir(key), arch, "child",
                          child_tags(round_index, index, key))


def log_final_run(search: SearchRun, run_dir: str | Path, arch: dict[str, Any]) -> tuple[str, bool]:
    """One retraining run of the final grid (Sec. 4.1), params = decisions + grid point."""
    metrics = read_metrics(RunFolder(run_dir).metrics).raw
    tags = {"nasrl.rank": str(metrics["rank"]), "nasrl.point": str(metrics["point"]),
            "mlflow.runName": f"final-{metrics['rank']}-{metrics['point']}"}
    grid = {f"grid.{k}": v for k, v in metrics["grid"].items()}
    # The final runs' saved view (views.py), with this grid's keys as columns: set by each
    # final run, as the first one logged is not known in advance.
    search.client.set_experiment_tag(search.experiment_id, *final_view_tag(metrics.get("dataset"), sorted(metrics["grid"])))
    return log_result_run(search.client, search, run_dir, arch, "final", tags, grid)


PER_ROUND_COUNTS = ("failed_children", "stopped_children")  # logged per round by round.py too


def search_description(search: SearchRun, settings: dict[str, dict[str, Any]]) -> str:
    """One line about a search: strategy, space, rounds and children, dataset."""
    values, child = settings.get("search", {}), settings.get("child", {})
    space = values.get("space")
    space = space if isinstance(space, str) else (space or {}).get("type", "a space")
    children = int(values.get("replicas") or 1) * int(values.get("children_per_round") or 0)
    data = "surrogate children (a results table)" if child.get("surrogate") else dataset_label(child.get("dataset"))
    return (f"nasrl {values.get('strategy', 'reinforce')} search of experiment '{search.experiment}': space {space}, "
            f"{values.get('rounds')} rounds of {children} children, on {data}")


def search_files(search: SearchRun) -> list[Path]:
    """The search's own result files that its run carries as artifacts (under ``search/``)."""
    layout = search.layout
    candidates = (layout.search_plot, layout.rounds_table, layout.history, layout.reward_curve, layout.best,
                  layout.search_metrics, *(layout.report_page(name) for name in REPORT_PAGES))
    return [path for path in candidates if path.exists()]


REPORT_PAGES = ("rounds", "final_grid", "metrics")  # the report's tables (report_pages.py)


def log_search_files(search: SearchRun, paths: list[Path]) -> None:
    """Files of the search on its run, under ``search/``; a file logged again replaces its copy."""
    for path in paths:
        search.client.log_artifact(search.run_id, str(path), artifact_path="search")


def finish_search(search: SearchRun, headline: dict[str, Any], best: dict[str, Any]) -> None:
    """Headline metrics, the search's files and the best model's tag on the search run, which ends."""
    from mlflow.entities import Metric

    client = search.client
    now = int(time.time() * 1000)
    scalars = {k: float(v) for k, v in headline.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    # a search's totals named apart from the per-round metric of the same name (round.py), whose
    # latest step the UI shows: stopped_children would read as round 7's count, not the search's
    scalars = {f"total_{k}" if k in PER_ROUND_COUNTS else k: v for k, v in scalars.items()}
    scalars.update({f"final_{k}": float(v) for k, v in (headline.get("final_test") or {}).items()})
    client.log_batch(search.run_id, metrics=[Metric(k, v, now, 0) for k, v in scalars.items()])
    log_search_files(search, search_files(search))  # the figure, the tables, the choice: the whole story in one run
    if best.get("status") == "ok":
        client.set_tag(search.run_id, "nasrl.best_arch_key", best["arch_key"])
    client.set_terminated(search.run_id, "FINISHED")
