"""A search folder moved to another place mid-search goes on logging into its own store.

The tracking state records the store and the results folder relative to the working directory,
and the first job that logs in the new place points the SQLite store's artifact locations at it
(src/nasrl/tracking/relocate.py).
"""

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from nasrl.tracking.relocate import rewrite_locations
from workflow_helpers import make_workdir, snakemake, surrogate_config

CONFIG = surrogate_config(rounds=3, m=2, replicas=1, staleness=0)
CONFIG["tracking"] = {"enabled": True}


def artifact_locations(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return ([row[0] for row in connection.execute("SELECT artifact_location FROM experiments")]
                + [row[0] for row in connection.execute("SELECT artifact_uri FROM runs")])


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.e2e
def test_a_search_moved_mid_run_logs_into_the_moved_store(tmp_path):
    first = make_workdir(tmp_path / "first", CONFIG)
    process = snakemake(first, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (first / "results" / "scale" / "rounds" / "0001" / "rewards.parquet").exists():
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    state = json.loads((first / "results" / "scale" / "tracking" / "search.json").read_text())
    assert state["uri"] == "sqlite:///mlflow.db" and state["results"] == "results/scale"
    assert state["root"] == str(first)

    moved = tmp_path / "elsewhere" / "moved"
    shutil.copytree(first, moved, symlinks=True)  # copy2 keeps the times Snakemake compares
    before = files_under(first / "mlruns")
    snakemake(moved)  # the same command, in the new place

    assert files_under(first / "mlruns") == before  # nothing written into the old folder
    locations = artifact_locations(moved / "mlflow.db")
    assert locations and all(str(first) not in loc for loc in locations)
    assert all(loc.startswith(str(moved)) or loc.startswith(f"file://{moved}") for loc in locations)
    assert json.loads((moved / "results" / "scale" / "tracking" / "search.json").read_text())["root"] == str(moved)
    with sqlite3.connect(moved / "mlflow.db") as connection:
        children = connection.execute("SELECT count(*) FROM tags WHERE key = 'nasrl.stage' AND value = 'child'"
                                      " AND run_uuid IN (SELECT run_uuid FROM runs WHERE lifecycle_stage = 'active')")
        logged = children.fetchone()[0]
    import pandas as pd

    assert logged == pd.read_parquet(moved / "results" / "scale" / "history.parquet")["key"].nunique()


@pytest.mark.parametrize("stored, expected", [
    ("/old/place/mlruns/1", "/new/home/mlruns/1"),
    ("file:///old/place/mlruns/1/abc/artifacts", "file:///new/home/mlruns/1/abc/artifacts"),
    ("/old/placebo/mlruns/1", "/old/placebo/mlruns/1"),  # another folder that shares the prefix
    ("s3://bucket/old/place", "s3://bucket/old/place"),
])
def test_only_locations_under_the_old_folder_are_rewritten(tmp_path, stored, expected):
    database = tmp_path / "store.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE experiments (artifact_location TEXT)")
        connection.execute("CREATE TABLE runs (artifact_uri TEXT)")
        connection.execute("INSERT INTO experiments VALUES (?)", (stored,))
        connection.execute("INSERT INTO runs VALUES (?)", (stored,))
    for _ in range(2):  # a second rewrite (another job of the same move) changes nothing
        rewrite_locations(database, "/old/place", "/new/home")
    assert artifact_locations(database) == [expected, expected]
