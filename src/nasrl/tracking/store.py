"""Where runs are logged, and how long a call waits for a busy SQLite file.

The default store is ``sqlite:///mlflow.db`` in the working directory (no server needed);
``MLFLOW_TRACKING_URI`` (say, a shared ``mlflow server`` on a cluster) or the config's
``tracking.uri`` override it. The search records the URI at its start (``recorded_uri``): a
SQLite file inside the working directory relative to it, so that a moved or copied folder
logs into its own store; every other URI as an absolute one, so that jobs on other nodes or
in other folders log to the same store. Each process resolves it again (``resolve_uri``).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

DEFAULT_URI = "sqlite:///mlflow.db"

# MLflow's HTTP client retries 7 times with a doubling back-off (minutes) and waits 120 s per
# request; for a job whose results are already safe on disk, a server that does not answer
# within seconds is better reported (and synced later) than waited for. Users may override.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# MLflow prints two "View run ... at" lines per run ended on a server: noise in a job's log.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

# SQLite allows one writer at a time; the others wait for its lock through SQLite's busy
# timeout, not by retrying. MLflow sets that timeout to 20 s in every store session (PRAGMA
# busy_timeout, which no URI lengthens), so a call locked out longer fails: the job goes on and
# `nasrl track sync` logs what it missed. Opening the store (MLflow's schema checks, outside any
# session) waits only pysqlite's default 5 s, so the URI MLflow is given sets SQLite's timeout
# for those connections (``mlflow_uri``). Measured (benchmarks/performance/sqlite_busy.py,
# docs/benchmarks.md): writers logging at once never came near the 20 s; a store locked when it
# was opened failed within 5 s without the URI's timeout, also with retries around each call.
BUSY_OPEN_SECONDS = 120.0
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
        return sqlite_file(uri)
    return None


def mlflow_uri(uri: str) -> str:
    """The URI MLflow is given for ``uri``: a SQLite store's with SQLite's busy timeout
    (``?timeout=``, which SQLAlchemy hands to ``sqlite3.connect``), so that opening the store
    waits out another writer's lock as its calls do; a URI with a query of its own, or of
    another store, as it is."""
    if sqlite_file(uri) is None or "?" in uri:
        return uri
    return f"{uri}?timeout={BUSY_OPEN_SECONDS:g}"


@lru_cache(maxsize=16)
def client(uri: str):
    """The MlflowClient for ``uri`` (the tracking and the model registry store), built once
    per URI in a process: every step of a job and every round of a sync share it.

    A SQLite store is looked at first (``open_store``): a file that is not a database is one
    error line, and a migration another process is running is waited for, since MLflow's own
    open would start migrating the same file beside it.

    The process-wide URI stays untouched: ``mlflow.set_tracking_uri`` also exports
    ``MLFLOW_TRACKING_URI``, which every later subprocess (a whole search) would inherit.
    """
    from mlflow import MlflowClient

    create_store(uri)
    open_store(uri)
    return MlflowClient(tracking_uri=mlflow_uri(uri), registry_uri=mlflow_uri(uri))


def create_store(uri: str) -> None:
    """Create a new SQLite store whole or not at all: MLflow builds its schema in a file of its
    own beside the store's path (dozens of migrations, not one transaction), and the finished
    file is then linked into place. A process killed while creating the store (the first job of
    a search) leaves that file, never a half-migrated store at the path; of two processes
    creating one at once, the first link wins and the other's file is dropped."""
    path = sqlite_file(uri)
    if path is None or path.exists():
        return
    from mlflow.tracking._tracking_service.utils import _get_sqlalchemy_store

    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}.new")
    building.unlink(missing_ok=True)  # left by a killed process of the same pid
    store = _get_sqlalchemy_store(f"sqlite:///{building}", None)  # migrates to MLflow's head revision
    store.engine.dispose()
    try:
        os.link(building, path)  # fails if another process's store got there first: keep that one
    except FileExistsError:
        pass
    finally:
        building.unlink(missing_ok=True)


class StoreError(ValueError):
    """The store given cannot be used as it is (a file that is not a SQLite database, a repair
    that is not safe now): the user's input, reported in one line."""


# MLflow creates and upgrades a SQLite store with Alembic, which rebuilds a table as
# ``_alembic_tmp_<table>`` (create, copy, drop the old one, rename). The migration is not one
# transaction on SQLite: Python's sqlite3 driver runs a CREATE outside any transaction, so the
# temporary table is committed before the copy takes the write lock, and other commits follow
# each rebuild. A store in the middle of a migration and one whose migration was killed hold
# the same tables, and no lock tells them apart.
LEFTOVER_PREFIX = "_alembic_tmp_"
# A migration changes the schema every few hundredths of a second, but pauses too: `mlflow db
# upgrade` of a new store took 10 s on 2 busy cores, with pauses of up to 3 s between schema
# changes (2026-12-04). A schema that has not changed for this long while behind MLflow's head
# revision is taken as not being migrated.
MIGRATION_SETTLE_SECONDS = 10.0
MIGRATION_WAIT_SECONDS = 120.0  # the longest a migration is waited for, as a busy store is when opened
_hinted: set[Path] = set()  # stores whose leftover tables this process has already named


def sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite URI (its query, such as ``?timeout=``, left out), else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):].split("?", 1)[0]) if uri.startswith(prefix) else None


def schema_state(path: Path) -> tuple[int, str | None, set[str]]:
    """A SQLite store's schema cookie (SQLite counts every schema change), its Alembic revision
    and its tables; StoreError when the file is not a database."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(path, timeout=20)) as db:
            cookie = db.execute("PRAGMA schema_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = db.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in tables else None
    except sqlite3.DatabaseError as err:
        if is_busy(err):
            raise
        raise StoreError(f"MLflow store {path}: {err}; expected a SQLite database written by MLflow "
                         "(or no file: a new store is created)") from None
    return cookie, row[0] if row else None, tables


def head_revision() -> str | None:
    """The schema revision this MLflow writes (None if it cannot tell)."""
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision

        return _get_latest_schema_revision()
    except Exception:  # a private helper: without it, no migration is waited for
        return None


def open_store(uri: str) -> list[str]:
    """Check a SQLite store before MLflow opens it; returns the leftover Alembic tables it holds.

    A file that is not a database is a StoreError. A store behind MLflow's head revision whose
    schema is changing is being migrated (``mlflow db upgrade``, or another process's first
    open): waited for until it reaches the head or stops changing, at most
    ``MIGRATION_WAIT_SECONDS``. Leftover temporary tables are named in one line on stderr with
    the command that removes them (``nasrl track repair``); nothing is changed here, since a
    running migration leaves the same tables as a killed one."""
    path = sqlite_file(uri)
    if path is None or not path.is_file():
        return []
    try:
        tables = wait_for_migration(path)
    except Exception as err:  # locked for 20 s: MLflow's open waits longer (``mlflow_uri``), and reports it
        if not is_busy(err):
            raise
        return []
    leftovers = sorted(t for t in tables if t.startswith(LEFTOVER_PREFIX))
    if leftovers and path not in _hinted:
        _hinted.add(path)
        print(f"MLflow store {path} holds {', '.join(leftovers)}, left by a schema migration that is running or "
              f"was killed; when none is running, `nasrl track repair --uri {uri}` removes it", file=sys.stderr)
    return leftovers


def wait_for_migration(path: Path) -> set[str]:
    """The tables of a SQLite store, once no migration seems to be running (``open_store``)."""
    cookie, version, tables = schema_state(path)
    head = head_revision()  # an empty file too: the first moment of another process's migration
    if head is None or version == head:
        return tables
    start = changed = time.monotonic()
    while time.monotonic() - changed < MIGRATION_SETTLE_SECONDS and time.monotonic() - start < MIGRATION_WAIT_SECONDS:
        time.sleep(0.2)
        now, version, tables = schema_state(path)
        if version == head:
            break
        if now != cookie:
            cookie, changed = now, time.monotonic()
    return tables


def repair_interrupted_migration(uri: str, settle: float | None = None) -> list[str]:
    """Undo what a process killed while MLflow migrated a SQLite store left behind: ``nasrl
    track repair``. Returns the tables it removed or renamed back.

    A kill in the middle of a table's rebuild leaves ``_alembic_tmp_<table>``, and every later
    open of the store fails with "table _alembic_tmp_... already exists". The step is redone
    from the start by the next open (the store's revision was not advanced), so the temporary
    table is dropped; were the old table already dropped, the copy is renamed back instead.

    A running migration leaves the same tables for a moment, so this is a command to run when
    no migration runs, and it checks what it can: the schema must not change for ``settle``
    seconds (a migration changes it many times a second), and the repair is one write
    transaction taken after that (``BEGIN IMMEDIATE``), in which the schema is read again, so
    no other writer interleaves. A store being written, or whose schema changed, is a
    StoreError saying to run it again later. ``settle``: ``MIGRATION_SETTLE_SECONDS``."""
    import sqlite3
    from contextlib import closing

    settle = MIGRATION_SETTLE_SECONDS if settle is None else settle

    path = sqlite_file(uri)
    if path is None:
        raise StoreError(f"{uri}: only a SQLite store (sqlite:///FILE) is repaired here; a server's database "
                         "is migrated on the server (mlflow db upgrade)")
    if not path.is_file():
        raise StoreError(f"MLflow store {path}: no such file; expected the SQLite file of an MLflow store")
    cookie, _, tables = schema_state(path)
    if not any(t.startswith(LEFTOVER_PREFIX) for t in tables):
        return []
    time.sleep(settle)
    fixed = []
    with closing(sqlite3.connect(path, timeout=5, isolation_level=None)) as db:  # transactions taken by hand
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as err:
            if is_busy(err):
                raise StoreError(f"MLflow store {path} is being written by another process (a migration or a "
                                 "search); run `nasrl track repair` again when it has finished") from None
            raise StoreError(f"MLflow store {path}: {err}") from None
        try:
            if db.execute("PRAGMA schema_version").fetchone()[0] != cookie:
                raise StoreError(f"MLflow store {path}: its schema changed in the last {settle:g} s, so a "
                                 "migration is running; run `nasrl track repair` again when it has finished")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for temporary in sorted(t for t in tables if t.startswith(LEFTOVER_PREFIX)):
                original = temporary[len(LEFTOVER_PREFIX):]
                if original in tables:
                    db.execute(f'DROP TABLE "{temporary}"')
                else:
                    db.execute(f'ALTER TABLE "{temporary}" RENAME TO "{original}"')
                fixed.append(temporary)
            db.execute("COMMIT")
        except BaseException as err:
            db.execute("ROLLBACK")
            if isinstance(err, sqlite3.DatabaseError):  # a read-only file, a full disk: nothing was changed
                raise StoreError(f"MLflow store {path}: {err}; nothing was changed") from None
            raise
    _hinted.discard(path)
    return fixed


@contextmanager
def fluent_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (``mlflow.start_run``, ``mlflow.pytorch.log_model``) pointed at
    ``uri`` for the duration, then the process's previous URI and environment restored."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    previous_registry = os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_tracking_uri(mlflow_uri(uri))
    mlflow.set_registry_uri(mlflow_uri(uri))
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
