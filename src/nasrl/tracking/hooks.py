"""Logging at the end of a pipeline job: never fails the job, says clearly what was not logged."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nasrl.tracking.relocate import follow_move
from nasrl.tracking.state import SearchRun

# MLflow logs every database error with its traceback before raising it, and urllib3 each
# retry of a server that does not answer: they would fill the job's log. The failure is
# reported once, in one line.
NOISY_LOGGERS = ("mlflow.store.db.utils", "urllib3.connectionpool")


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
        with store_noise_unlogged():
            if follow_move(search):  # the folder moved: its own store, its own artifacts
                search.save(state_file)
            log(search)
        return True
    except Exception as err:  # a busy or unreachable store: the job's own files are already written
        print(f"MLflow: {what} not logged to {search.uri}: {describe(err)}; {search.sync_hint()}", file=sys.stderr)
        return False


def describe(err: BaseException) -> str:
    """The error's type and the first line of its message (a database error goes on with the
    SQL statement and its parameters), so that a failure is one line of the job's log."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0][:500] if lines else ''}"


@contextmanager
def store_noise_unlogged() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
