"""Logging at the end of a pipeline job: never fails the job, says clearly what was not logged."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from nasrl.tracking.state import SearchRun


def after_job(state_file: str | Path | None, what: str, log: Callable[[SearchRun], object]) -> bool:
    """Run ``log(search)`` if the search is tracked; on failure print one line naming what was
    not logged and how to log it later. Returns True when logged."""
    if state_file is None:
        return False
    try:
        search = SearchRun.load(state_file)
    except (ValueError, OSError) as err:
        print(f"MLflow: {what} not logged: {err}", file=sys.stderr)
        return False
    if not search.enabled:
        return False
    if search.run_id is None:
        print(f"MLflow: {what} not logged: the search run could not be created when the search started "
              f"({search.error}); {search.sync_hint()}", file=sys.stderr)
        return False
    try:
        log(search)
        return True
    except Exception as err:  # a busy or unreachable store: the job's own files are already written
        print(f"MLflow: {what} not logged to {search.uri}: {type(err).__name__}: {str(err)[:500]}; "
              f"{search.sync_hint()}", file=sys.stderr)
        return False
