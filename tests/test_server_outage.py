"""An MLflow server that dies mid-search: the search finishes, the jobs say what they did not
log, and `nasrl track sync` then logs exactly the missing runs.

A real `mlflow server` on 127.0.0.1 is stopped once round 1 is logged, and started again on
the same port and store after the search. The search is a surrogate one (tests/workflow_helpers.py):
every step is a real workflow job, a child costs a fraction of a second.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import BIN, make_workdir, surrogate_config

# The one test runs `snakemake` and `mlflow server`.
pytestmark = pytest.mark.e2e

ROUNDS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    """`mlflow server` over ``store`` (a SQLite file and an artifact folder), once it answers."""
    with open(log, "a") as out:
        process = subprocess.Popen(
            [f"{BIN}/mlflow", "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
             "--artifacts-destination", str(store / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                raise AssertionError(f"mlflow server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # dies, as a crashed server does: no goodbye
    process.wait()


def runs_by_stage(uri: str) -> dict[str, list[str]]:
    """Active runs of the experiment by stage: child keys, final run names, search runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("scale")
    found: dict[str, list[str]] = {}
    for run in client.search_runs([experiment.experiment_id], max_results=10000):
        stage = run.data.tags.get("nasrl.stage")
        found.setdefault(stage, []).append(run.data.tags.get("nasrl.key") if stage == "child" else run.info.run_name)
    return found


def round_logged(uri: str, round_index: int) -> bool:
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("scale")
        search = client.search_runs([experiment.experiment_id], "tags.`nasrl.stage` = 'search'")[0]
        return round_index in {m.step for m in client.get_metric_history(search.info.run_id, "mean_reward")}
    except Exception:  # not started yet
        return False


def test_a_server_that_dies_mid_search_is_synced_after(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # this process's client: fail fast
    port, store = free_port(), tmp_path / "store"
    store.mkdir()
    uri = f"http://127.0.0.1:{port}"
    server = start_server(store, port, tmp_path / "server.log")
    config = surrogate_config(rounds=ROUNDS, m=2, replicas=1, staleness=0, seconds_column="flops",
                              seconds_per_unit=1e-8)
    config["tracking"] = {"enabled": True, "uri": uri}
    workdir = make_workdir(tmp_path / "wf", config)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with open(tmp_path / "search.log", "w") as log:
        search = subprocess.Popen([f"{BIN}/snakemake", "--cores", "2"], cwd=workdir, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not round_logged(uri, 1):
            assert search.poll() is None, (tmp_path / "search.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "round 1 was not logged within 10 minutes"
            time.sleep(0.5)
        stop_server(server)
        logged_before = runs_by_stage(f"sqlite:///{store / 'mlflow.db'}")
        assert search.wait(600) == 0, (tmp_path / "search.log").read_text()[-3000:]
    finally:
        if search.poll() is None:
            os.killpg(search.pid, signal.SIGKILL)
        if server.poll() is None:
            stop_server(server)

    history = pd.read_parquet(workdir / "results" / "scale" / "history.parquet")
    logs = workdir / "logs" / "scale"
    # The steps after the outage name what they did not log, and how to log it later.
    for step, what in [(f"controller/update_{r + 1:04d}.log", f"round {r} and its children")  # update r+1 learns from round r
                       for r in range(2, ROUNDS)] + [("report.log", "")]:
        text = (logs / step).read_text()
        assert f"not logged to {uri}" in text and "nasrl track sync" in text, f"{step}: {text[-1000:]}"
        assert what in text, f"{step}: {text[-1000:]}"

    server = start_server(store, port, tmp_path / "server.log")
    try:
        done = subprocess.run([f"{BIN}/nasrl", "track", "sync", "--results", "results/scale"], cwd=workdir,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        synced = json.loads(done.stdout)["logged_now"]
        after = runs_by_stage(uri)
        again = subprocess.run([f"{BIN}/nasrl", "track", "sync", "--results", "results/scale"], cwd=workdir,
                               env=env, capture_output=True, text=True, timeout=600)
    finally:
        stop_server(server)

    # Every child once, every final run once, one search run: nothing missing, nothing twice.
    assert sorted(after["child"]) == sorted(history["key"].unique())
    assert len(after["search"]) == 1 and len(after["final"]) == len(set(after["final"]))
    # Exactly what the outage left out was logged now: the children first seen after round 1.
    missing_children = set(history["key"].unique()) - set(logged_before.get("child", []))
    assert missing_children == set(history[history["round"] >= 2]["key"]) - set(history[history["round"] < 2]["key"])
    assert missing_children <= set(synced) and not set(logged_before.get("child", [])) & set(synced)
    assert "search results" in synced
    assert json.loads(again.stdout)["logged_now"] == []
