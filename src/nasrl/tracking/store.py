"""Where runs are logged, and calls to the store that survive a busy SQLite file.

The default store is ``sqlite:///mlflow.db`` in the working directory (no server needed);
``MLFLOW_TRACKING_URI`` (say, a shared ``mlflow server`` on a cluster) or the config's
``tracking.uri`` override it. The search records the URI at its start (``recorded_uri``): a
SQLite file inside the working directory relative to it, so that a moved or copied folder
logs into its own store; every other URI as an absolute one, so that jobs on other nodes or
in other folders log to the same store. Each process resolves it again (``resolve_uri``).
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

DEFAULT_URI = "sqlite:///mlflow.db"
T = TypeVar("T")

# MLflow's HTTP client retries 7 times with a doubling back-off (minutes) and waits 120 s per
# request; for a job whose results are already safe on disk, a server that does not answer
# within seconds is better reported (and synced later) than waited for. Users may override.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# MLflow prints two "View run ... at" lines per run ended on a server: noise in a job's log.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

# SQLite allows one writer at a time; concurrent children see "database is locked" when
# another holds the lock. Such errors are retried with jittered back-off for this long.
BUSY_RETRY_SECONDS = 120.0
BUSY_MARKERS = ("database is locked", "database is busy", "database table is locked")


class TrackingError(RuntimeError):
    """Logging to MLflow failed; the job's own result files are unaffected."""


def resolve_uri(configured: str | None = None) -> str:
    """The tracking URI: config, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``;
    a relative SQLite path is made absolute against the working directory."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        uri = prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


def recorded_uri(configured: str | None = None, workdir: str | Path = ".") -> str:
    """The URI a search records: ``resolve_uri``'s, with a SQLite file inside ``workdir``
    written relative to it."""
    uri = resolve_uri(configured)
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path, root = Path(uri[len(prefix):]), Path(workdir).resolve()
        if path.is_relative_to(root):
            return prefix + str(path.relative_to(root))
    return uri


def local_sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite URI relative to the working directory, else None."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        return Path(uri[len(prefix):])
    return None


@lru_cache(maxsize=16)
def client(uri: str):
    """The MlflowClient for ``uri`` (the tracking and the model registry store), built once
    per URI in a process: every step of a job and every round of a sync share it.

    The process-wide URI stays untouched: ``mlflow.set_tracking_uri`` also exports
    ``MLFLOW_TRACKING_URI``, which every later subprocess (a whole search) would inherit.
    """
    from mlflow import MlflowClient

    repair_interrupted_migration(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def repair_interrupted_migration(uri: str) -> list[str]:
    """Undo what a process killed while MLflow migrated a SQLite store left behind.

    MLflow creates or upgrades a SQLite store with Alembic, which on SQLite rebuilds a table as
    ``_alembic_tmp_<table>`` (create, copy, drop the old one, rename) one statement at a time.
    A kill in between leaves the temporary table, and every later open of the store fails with
    "table _alembic_tmp_... already exists". The step is redone from the start by the next open
    (the store's alembic_version was not advanced), so the temporary table is dropped; were the
    old table already dropped, the copy is renamed back to it instead. Returns what it fixed."""
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return []
    path = Path(uri[len("sqlite:///"):])
    if not path.is_file():
        return []
    fixed = []
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for temporary in sorted(t for t in tables if t.startswith("_alembic_tmp_")):
            original = temporary[len("_alembic_tmp_"):]
            if original in tables:
                db.execute(f'DROP TABLE "{temporary}"')
            else:
                db.execute(f'ALTER TABLE "{temporary}" RENAME TO "{original}"')
            fixed.append(temporary)
    return fixed


@contextmanager
def fluent_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (``mlflow.start_run``, ``mlflow.pytorch.log_model``) pointed at
    ``uri`` for the duration, then the process's previous URI and environment restored."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    previous_registry = os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous_registry)
        if previous_registry is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)


def is_busy(err: BaseException) -> bool:
    text = f"{err} {err.__cause__ or ''}".lower()
    return any(marker in text for marker in BUSY_MARKERS)


def retrying(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, retried while the SQLite store is locked by another writer."""
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if not is_busy(err) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
