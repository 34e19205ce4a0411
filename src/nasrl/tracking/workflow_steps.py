"""What each workflow step logs to MLflow: one call per step, after its own files are written.

    search_started      nasrl track start        the search run; the tracking state file
    round_finished      nasrl update-controller  the round's metrics and all its children's runs
    final_run_finished  nasrl retrain            one final retraining run
    report_written      nasrl report             headline metrics, best model, search run ended
    search_files_written nasrl report-tables, plot-search   the report's tables; the search
                                                 figure drawn again with the random control

Child jobs log nothing: their round's update logs them all in one process (round.py).
Each call takes plain paths and values and never fails the job (hooks.after_job): a store
that cannot be reached costs one line on stderr naming what was not logged, and
``nasrl track sync`` logs it later. MLflow is imported only when something is logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasrl.io import read_metrics
from nasrl.layout import ResultsLayout, RunFolder
from nasrl.tracking.hooks import after_job, describe
from nasrl.tracking.state import SearchRun

StateFile = str | Path | None  # tracking/search.json; None when the step is run untracked


def search_started(out: Path, experiment: str, uri: str | None, registered_model: str | None,
                   off: bool = False, child_diagrams: bool = True) -> SearchRun:
    """Create the search run and write the state file ``out`` that every later step reads;
    an unreachable store is reported (stdout, the step's log) and the search goes on."""
    from nasrl.tracking.state import portable_path
    from nasrl.tracking.store import recorded_uri

    results = ResultsLayout.of_tracking_state(Path(out)).root
    search = SearchRun(experiment=experiment, results=portable_path(results), enabled=not off,
                       uri=recorded_uri(uri) if not off else "", registered_model=registered_model,
                       root=str(Path.cwd()), child_diagrams=child_diagrams)
    if search.enabled:
        from nasrl.tracking.search import start_search
        from nasrl.tracking.sync import read_settings

        try:
            start_search(search, read_settings(results))
        except Exception as err:  # the search goes on; its jobs' results are synced later
            search.error = describe(err)
            print(f"MLflow: the search run could not be created in {search.uri}: {search.error}; "
                  f"{search.sync_hint()}")
    search.save(out)
    return search


def round_finished(state_file: StateFile, round_index: int, rewards: str | Path,
                   stats: dict[str, Any] | None = None) -> bool:
    """Round ``round_index`` (its rewards table, the update's stats) and every child it trained;
    first, any earlier round whose own update could not log it, so reuse is counted in order."""
    def log(search: SearchRun) -> None:
        import pandas as pd

        from nasrl.tracking.round import log_round
        from nasrl.tracking.sync import logged_round_steps, sync_rounds

        sync_rounds(search, before=round_index)
        if round_index not in logged_round_steps(search):  # a rerun update logs nothing twice
            log_round(search, round_index, pd.read_parquet(rewards), stats)

    return after_job(state_file, f"round {round_index} and its children", log)


def final_run_finished(state_file: StateFile, run_dir: str | Path, top: str | Path, rank: int) -> bool:
    """One final retraining run (a grid point of the rank-th architecture); a skipped one
    (fewer distinct architectures than ranks) has nothing to log."""
    if read_metrics(RunFolder(run_dir).metrics).status == "skipped":
        return False

    def log(search: SearchRun) -> None:
        from nasrl.io import read_top
        from nasrl.tracking.search import log_final_run

        log_final_run(search, run_dir, read_top(top)[rank]["arch"])

    return after_job(state_file, f"final run {Path(run_dir).name}", log)


def report_written(state_file: StateFile) -> bool:
    """The final runs not logged yet, the headline metrics, the registered best model."""
    def log(search: SearchRun) -> None:
        from nasrl.tracking.sync import sync_final

        print(json.dumps({"mlflow_logged_now": sync_final(search)}))

    return after_job(state_file, "the final results and the best model", log)


def search_files_written(state_file: StateFile, paths: list[str | Path], what: str) -> bool:
    """Search files written after the report logged the others: the report's tables, and the
    search figure drawn again once the random-search control has run (the run's copy replaced)."""
    def log(search: SearchRun) -> None:
        from nasrl.tracking.search import log_search_files

        log_search_files(search, [Path(path) for path in paths])

    return after_job(state_file, what, log)
