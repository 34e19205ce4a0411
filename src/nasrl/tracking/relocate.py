"""A search folder moved or copied with its SQLite store logs into its own store.

The search records its store and results folder relative to the working directory
(state.py, store.recorded_uri), so a job in a moved folder opens the moved ``mlflow.db``. But
MLflow stores artifact locations as absolute paths (each experiment's artifact root, each
run's artifact URI, each model version's source), which still point into the old folder:
new runs would write their artifacts there, and the UI would read the old files.

Before a job of a moved search logs anything, the store's absolute locations under the old
working directory are rewritten to the new one (the artifacts moved with the folder). Only a
SQLite file inside the working directory is rewritten; a server or a shared store is left alone.
Rewriting is idempotent: a location already under the new folder matches nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nasrl.tracking.state import SearchRun
from nasrl.tracking.store import local_sqlite_file

# MLflow's columns that hold absolute artifact locations; a column this MLflow version's
# schema lacks is skipped.
LOCATION_COLUMNS = {
    "experiments": ("artifact_location",),
    "runs": ("artifact_uri",),
    "model_versions": ("source", "storage_location"),
    "logged_models": ("artifact_location",),
}


def rewrite_locations(database: Path, old_root: str, new_root: str) -> int:
    """Replace the prefix ``old_root`` (a plain path or a file:// URI) by ``new_root`` in
    every location column; returns the number of values changed."""
    changed = 0
    with sqlite3.connect(database, timeout=120) as connection:
        for table, columns in LOCATION_COLUMNS.items():
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            for column in (c for c in columns if c in present):
                for old, new in ((old_root, new_root), (f"file://{old_root}", f"file://{new_root}")):
                    cursor = connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE substr({column}, 1, ?) = ? AND substr({column}, ?, 1) IN ('/', '') "
                        f"AND substr({column}, 1, ?) NOT IN (?, ?)",  # not already moved
                        (new, len(old) + 1, len(old), old, len(old) + 1, len(new) + 1, new + "/", new))
                    changed += cursor.rowcount
    return changed


def follow_move(search: SearchRun, workdir: str | Path = ".") -> bool:
    """If the search last logged from another folder, point its SQLite store's locations at
    ``workdir`` and record the new folder; returns True when it moved."""
    here = str(Path(workdir).resolve())
    if not search.root:
        search.root = here
        return False
    if search.root == here:
        return False
    database = local_sqlite_file(search.uri)
    if database is not None and (Path(workdir) / database).exists():
        rewrite_locations(Path(workdir) / database, search.root.rstrip("/"), here)
    search.root = here
    return True
