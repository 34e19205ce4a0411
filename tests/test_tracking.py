"""MLflow tracking: the run tree of a search, parallel writers, a busy or unreachable store, sync.

The store is real (SQLite files in temporary folders, and a real `mlflow server` over the
store of a finished tiny search); result folders are either written here (fast) or come
from the tiny search of conftest.py.
"""

import csv
import inspect
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nasrl.tracking import store
from nasrl.tracking.hooks import after_job
from nasrl.spaces import build_space
from nasrl.spaces.presets import preset_architecture
from nasrl.tracking.params import decision_params, flatten
from nasrl.tracking.record import MAX_ENTRIES, MAX_PARAMS, log_batches
from nasrl.tracking.round import log_round
from nasrl.tracking.search import log_child, start_search
from nasrl.tracking.state import SearchRun
from nasrl.tracking.workflow_steps import round_finished
from nasrl.tracking.sync import sync

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
EPOCHS = 30


# The space of the searches written here: 2 layers of 3x3 filters, 1 to 16 of them.
SPACE = {"type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": list(range(1, 17)),
         "depth": {"start": 2, "step": 0, "every": 1, "max": 2}}


def arch(filters: int) -> dict:
    layer = {"filter_height": 3, "filter_width": 3, "num_filters": filters, "stride_height": 1, "stride_width": 1}
    return {"space": "cnn", "layers": [{**layer, "inputs": []}, {**layer, "inputs": [0]}], "max_pool_after": []}


def write_child(children: Path, key: str, epochs: int = EPOCHS, status: str = "ok", **extra) -> Path:
    """A child's result folder as train-child writes it: metrics.json and curve.csv."""
    folder = children / key
    folder.mkdir(parents=True)
    with open(folder / "curve.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["epoch", "lr", "train_loss", "val_loss", "val_acc"])
        writer.writeheader()
        for e in range(1, epochs + 1):
            writer.writerow({"epoch": e, "lr": 0.1, "train_loss": 1 / e, "val_loss": 1.5 / e, "val_acc": 1 - 1 / (e + 1)})
    metrics = {"key": key, "arch_key": key[::-1], "status": status, "reward": 0.5, "metric": "val_acc",
               "best_val": 0.9, "last_val": 0.9, "epochs": epochs, "seconds": 3.0, "params": 1234,
               "error": None if status == "ok" else "RuntimeError: boom", **extra}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def new_search(root: Path, uri: str | None = None, name: str = "exp") -> SearchRun:
    """A started search (settings files, a search run) whose results live under ``root``."""
    results = root / "results" / name
    (results / "settings").mkdir(parents=True)
    settings = {"search": {"space": SPACE, "strategy": "reinforce", "seed": 0}, "child": {"dataset": "digits"}}
    for section, values in settings.items():
        (results / "settings" / f"{section}.yaml").write_text(yaml.safe_dump(values))
    search = SearchRun(experiment=name, results=str(results), uri=uri or f"sqlite:///{root / 'mlflow.db'}",
                       registered_model=f"nasrl-{name}")
    start_search(search, settings)
    search.save(search.state_file)
    return search


def client_for(search: SearchRun):
    return store.client(search.uri)


def child_runs(search: SearchRun) -> dict:
    runs = client_for(search).search_runs([search.experiment_id], f"tags.`mlflow.parentRunId` = '{search.run_id}'")
    return {r.data.tags["nasrl.key"]: r for r in runs}


def logged_keys(search: SearchRun) -> list[str]:
    """The key of every active child run, sorted, repeats kept: a run logged twice shows twice."""
    runs = client_for(search).search_runs([search.experiment_id], f"tags.`mlflow.parentRunId` = '{search.run_id}'")
    return sorted(r.data.tags["nasrl.key"] for r in runs)


def key(i: int) -> str:
    return f"{i:016x}"


# ----- what a run records ---------------------------------------------------------------------

def test_settings_become_flat_params():
    flat = flatten({"search": {"space": {"num_filters": [4, 8]}, "seed": 3}, "child": {"layers": [{"a": 1}]}})
    assert flat == {"search.space.num_filters": "[4, 8]", "search.seed": "3", "child.layers.0.a": "1"}


def test_a_childs_params_are_its_depth_and_the_decisions_its_space_leaves_open():
    space = build_space({"type": "cnn", "filter_heights": [1, 3], "filter_widths": [3], "strides": [1],
                         "num_filters": [4, 8], "depth": {"start": 3, "step": 0, "every": 1, "max": 3}})
    layer = {"filter_height": 3, "filter_width": 3, "num_filters": 8, "stride_height": 1, "stride_width": 1}
    child = {"space": "cnn", "max_pool_after": [],
             "layers": [{**layer, "inputs": []}, {**layer, "inputs": [0]}, {**layer, "filter_height": 1, "inputs": [0, 1]}]}
    params = decision_params(child, space)
    # Fixed by the space, so the same in every run: the filter width, both strides, the anchors
    # of layers 0 and 1 (no earlier layer to choose besides the previous one, always read).
    assert params == {"depth": "3", "layer_0.filter_height": "3", "layer_0.num_filters": "8",
                      "layer_1.filter_height": "3", "layer_1.num_filters": "8",
                      "layer_2.filter_height": "1", "layer_2.num_filters": "8", "layer_2.anchor": "[0]"}
    cell, cell_space = preset_architecture("rnn_nas_cell")
    cell_params = decision_params(cell, cell_space)
    assert "depth" not in cell_params and "space" not in cell_params
    assert cell_params["node_0.activation"] == cell["nodes"][0]["activation"]
    assert cell_params["cell_indices.inject"] == str(cell["cell_indices"]["inject"])


def test_the_store_is_local_sqlite_unless_configured(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert store.resolve_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.cluster:5000")
    assert store.resolve_uri() == "http://tracking.cluster:5000"
    assert store.resolve_uri("sqlite:///runs/m.db") == f"sqlite:///{tmp_path / 'runs' / 'm.db'}"


def test_a_child_run_holds_decisions_curves_reward_and_architecture(tmp_path):
    search = new_search(tmp_path)
    folder = write_child(search.results_dir / "children", key(1), status="diverged")
    run_id, new = log_child(client_for(search), search, key(1), arch(16), round_index=3, index=5)
    assert new
    run = client_for(search).get_run(run_id)
    assert run.data.tags["mlflow.parentRunId"] == search.run_id
    assert run.info.run_name == "r3-c5"  # round 3, child 5: the runs table reads in sampling order
    assert (run.data.tags["nasrl.round"], run.data.tags["nasrl.index"], run.data.tags["nasrl.status"]) == (
        "3", "5", "diverged")
    assert run.info.status == "FAILED" and "boom" in run.data.tags["nasrl.error"]
    assert run.data.params == {"depth": "2", "layer_0.num_filters": "16", "layer_1.num_filters": "16"}
    assert run.data.metrics["reward"] == 0.5
    history = client_for(search).get_metric_history(run_id, "val_acc")
    assert [m.step for m in history] == list(range(1, EPOCHS + 1))
    artifacts = Path(urllib.parse.urlparse(run.info.artifact_uri).path)
    assert json.loads((artifacts / "architecture.json").read_text()) == arch(16)
    assert json.loads((artifacts / "metrics.json").read_text()) == json.loads((folder / "metrics.json").read_text())
    diagram = (artifacts / "architecture.svg").read_text()  # nasrl.draw's picture of the network
    assert diagram.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in diagram
    assert log_child(client_for(search), search, key(1), arch(16), 3, 5) == (run_id, False)  # never logged twice


def test_a_half_logged_run_is_replaced_not_duplicated(tmp_path):
    search = new_search(tmp_path)
    write_child(search.results_dir / "children", key(2))
    client = client_for(search)
    cut_short = client.create_run(search.experiment_id, tags={
        "mlflow.parentRunId": search.run_id, "nasrl.stage": "child", "nasrl.key": key(2)}).info.run_id
    run_id, new = log_child(client, search, key(2), arch(8), 0, 0)
    assert new and run_id != cut_short
    assert list(child_runs(search)) == [key(2)]
    assert client.get_run(cut_short).info.lifecycle_stage == "deleted"


# ----- parallel writers -------------------------------------------------------------------------

def _log_in_process(state_file: str, child_key: str, barrier) -> None:
    search = SearchRun.load(state_file)
    client = store.client(search.uri)
    barrier.wait()  # every writer starts at once
    log_child(client, search, child_key, arch(int(child_key[-1], 16) + 1), 0, int(child_key[-1], 16))


def test_eight_children_logging_at_once_lose_nothing(tmp_path):
    search = new_search(tmp_path)
    keys = [key(i) for i in range(8)]
    for k in keys:
        write_child(search.results_dir / "children", k)
    # Eight processes, each with its own client and SQLite connections, forked from a server that
    # has imported the MLflow client once: eight fresh interpreters importing it at once took
    # 18 s on 2 cores, most of this test's time.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "mlflow.store.tracking.sqlalchemy_store",
                                "mlflow.store.model_registry.sqlalchemy_store"])
    barrier = ctx.Barrier(len(keys))
    workers = [ctx.Process(target=_log_in_process, args=(str(search.state_file), k, barrier)) for k in keys]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * len(keys)
    runs = child_runs(search)
    assert sorted(runs) == keys
    client = client_for(search)
    for k, run in runs.items():
        assert run.data.tags["nasrl.complete"] == "true" and run.info.status == "FINISHED"
        assert run.data.params == {"depth": "2", **{f"layer_{i}.num_filters": str(int(k[-1], 16) + 1) for i in (0, 1)}}
        for metric in ("lr", "train_loss", "val_loss", "val_acc"):
            assert len(client.get_metric_history(run.info.run_id, metric)) == EPOCHS


# ----- a busy or unreachable store ---------------------------------------------------------------

def hold_write_lock(db: Path, seconds: float, release: threading.Event | None = None) -> threading.Thread:
    """Another writer holding SQLite's write lock for ``seconds``, or until ``release`` is set."""
    locked = threading.Event()

    def hold():
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        locked.set()
        if release is None:
            time.sleep(seconds)
        else:
            release.wait(seconds)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread


def test_a_store_locked_for_a_while_is_waited_for(tmp_path):
    search = new_search(tmp_path)
    write_child(search.results_dir / "children", key(3))
    holder = hold_write_lock(tmp_path / "mlflow.db", 8.0)
    try:
        run_id, new = log_child(client_for(search), search, key(3), arch(8), 0, 0)
    finally:
        holder.join()
    assert new and client_for(search).get_run(run_id).data.tags["nasrl.complete"] == "true"


def test_a_store_locked_when_opened_is_waited_for_through_sqlites_timeout(tmp_path, monkeypatch):
    """MLflow opens a store (its schema checks) outside its sessions, where pysqlite waits 5 s for
    a lock; the URI it is given carries SQLite's busy timeout, so opening waits the lock out."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.create_store(uri)
    monkeypatch.setattr(store, "open_store", lambda uri: [])  # nasrl's own look at the store waits 20 s too
    holder = hold_write_lock(tmp_path / "mlflow.db", 7.0)
    start = time.monotonic()
    try:
        client = store.client(uri)
        opened = time.monotonic() - start
    finally:
        holder.join()
    assert opened > 6 and client.tracking_uri == f"{uri}?timeout={store.BUSY_OPEN_SECONDS:g}"
    assert [e.name for e in client.search_experiments()] == ["Default"]


def test_the_busy_timeout_goes_on_sqlite_uris_only_and_leaves_the_recorded_uri_alone():
    assert store.mlflow_uri("sqlite:////w/mlflow.db") == "sqlite:////w/mlflow.db?timeout=120"
    assert store.mlflow_uri("sqlite:////w/mlflow.db?timeout=5") == "sqlite:////w/mlflow.db?timeout=5"  # the user's own
    assert store.mlflow_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert store.sqlite_file("sqlite:////w/mlflow.db?timeout=5") == Path("/w/mlflow.db")
    assert store.local_sqlite_file("sqlite:///mlflow.db?timeout=5") == Path("mlflow.db")


def test_a_store_locked_during_a_rounds_update_fails_the_log_not_the_job_and_sync_logs_it_later(
        tmp_path, monkeypatch, capsys):
    search = new_search(tmp_path)
    keys = [key(i) for i in (40, 41, 42)]
    folders = [write_child(search.results_dir / "children", k) for k in keys]
    log_child(client_for(search), search, keys[0], arch(8), 0, 0)  # logged before, say by a sync mid-round
    rewards = write_round(search, 0, [(0, keys[0], 0.5), (0, keys[1], 0.5), (0, keys[2], 0.5), (0, keys[1], 0.5)])
    before = [(f / "metrics.json").read_bytes() for f in folders]
    capsys.readouterr()
    # Held until the update has given up (MLflow's own SQLite busy timeout is 20 s), 24 s at most.
    release = threading.Event()
    holder = hold_write_lock(tmp_path / "mlflow.db", 24.0, release)
    try:
        logged = round_finished(search.state_file, 0, rewards, {"baseline": 0.5})
    finally:
        release.set()
        holder.join()
    message = capsys.readouterr().err
    assert not logged
    assert message.count("\n") == 1  # one line for the whole round: not one per child, no traceback
    assert message.startswith(f"MLflow: round 0 and its children not logged to {search.uri}")
    assert "database is locked" in message and f"nasrl track sync --results {search.results}" in message
    assert [(f / "metrics.json").read_bytes() for f in folders] == before  # the children's own results are untouched
    assert sync(search.results_dir) == keys[1:]  # exactly the runs missing, the repeated child once
    assert logged_keys(search) == keys
    assert [m.step for m in client_for(search).get_metric_history(search.run_id, "mean_reward")] == [0]
    assert sync(search.results_dir) == []  # nothing left to log


def test_an_unreachable_server_is_reported_and_the_search_goes_on(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = tmp_path / "results" / "exp"
    (results / "settings").mkdir(parents=True)
    for section in ("search", "child"):
        (results / "settings" / f"{section}.yaml").write_text(yaml.safe_dump({"seed": 0}))
    state = results / "tracking" / "search.json"
    start = time.monotonic()
    done = subprocess.run([BIN / "nasrl", "track", "start", "--experiment", "exp", "--uri", f"http://127.0.0.1:{port}",
                           "--out", state], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the search run could not be created" in done.stdout and "nasrl track sync" in done.stdout
    assert time.monotonic() - start < 60  # reported within seconds, not after MLflow's minutes of retries
    saved = SearchRun.load(state)
    assert saved.run_id is None and f"127.0.0.1:{port}" in saved.error
    # later: sync into a reachable store creates the search run
    assert sync(results, f"sqlite:///{tmp_path / 'later.db'}") == ["search run"]
    assert SearchRun.load(state).run_id is not None


def test_tracking_off_logs_nothing(tmp_path, capsys):
    state = tmp_path / "results" / "exp" / "tracking" / "search.json"
    done = subprocess.run([BIN / "nasrl", "track", "start", "--experiment", "exp", "--off", "--out", state],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert SearchRun.load(state).enabled is False
    assert not after_job(state, "child", lambda s: pytest.fail("must not log"))
    assert not (tmp_path / "mlflow.db").exists() and capsys.readouterr().err == ""


# ----- rounds and the content cache ------------------------------------------------------------

def round_table(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"round": r, "index": i, "key": k, "arch_key": k[::-1], "arch": json.dumps(arch(8)),
                          "status": "ok", "reward": reward} for i, (r, k, reward) in enumerate(rows)])


def write_round(search: SearchRun, round_index: int, rows: list[tuple[int, str, float]]) -> Path:
    """A finished round's rewards table where collect-rewards writes it."""
    rewards = search.layout.rewards(round_index)
    rewards.parent.mkdir(parents=True, exist_ok=True)
    round_table(rows).to_parquet(rewards, index=False)
    return rewards


def test_round_metrics_and_reused_children(tmp_path):
    search = new_search(tmp_path)
    for i in (5, 6):
        write_child(search.results_dir / "children", key(i))
    log_round(search, 0, round_table([(0, key(5), 0.2), (0, key(5), 0.2)]), {"baseline": 0.2, "loss": 0.0})
    log_round(search, 1, round_table([(1, key(5), 0.2), (1, key(6), 0.6)]), {"baseline": 0.3, "loss": -0.1})
    client = client_for(search)
    runs = child_runs(search)
    assert runs[key(5)].data.tags["nasrl.reused"] == "true"
    assert runs[key(5)].data.tags["nasrl.sampled_in_rounds"] == "0,1"
    assert "nasrl.reused" not in runs[key(6)].data.tags
    hits = client.get_metric_history(search.run_id, "cache_hits")
    assert [(m.step, m.value) for m in hits] == [(0, 1.0), (1, 1.0)]
    assert [m.value for m in client.get_metric_history(search.run_id, "max_reward")] == [0.2, 0.6]
    assert [m.value for m in client.get_metric_history(search.run_id, "baseline")] == [0.2, 0.3]


def test_the_rounds_update_logs_every_child_of_the_round_once(tmp_path):
    search = new_search(tmp_path)
    k = [key(i) for i in range(50, 54)]
    for i, child in enumerate(k):
        write_child(search.results_dir / "children", child, **({"surrogate": True} if i == 3 else {}))
    client = client_for(search)
    cut_short = client.create_run(search.experiment_id, tags={  # as a killed update leaves it
        "mlflow.parentRunId": search.run_id, "nasrl.stage": "child", "nasrl.key": k[1], "nasrl.round": "0"}).info.run_id
    first = write_round(search, 0, [(0, k[0], 0.2), (0, k[1], 0.4), (0, k[0], 0.2)])
    assert round_finished(search.state_file, 0, first, {"baseline": 0.3})
    assert logged_keys(search) == k[:2]
    assert client.get_run(cut_short).info.lifecycle_stage == "deleted"  # half-logged: redone, not kept
    for run in child_runs(search).values():
        assert run.data.tags["nasrl.complete"] == "true" and run.info.status == "FINISHED"
        assert run.data.tags["nasrl.round"] == "0" and set(run.data.params) == {"depth", "layer_0.num_filters",
                                                                                 "layer_1.num_filters"}
        assert len(client.get_metric_history(run.info.run_id, "val_acc")) == EPOCHS
    assert round_finished(search.state_file, 0, first, {"baseline": 0.3})  # the update run again logs nothing twice
    assert logged_keys(search) == k[:2]
    assert [m.step for m in client.get_metric_history(search.run_id, "mean_reward")] == [0]

    second = write_round(search, 1, [(1, k[1], 0.4), (1, k[2], 0.6), (1, k[3], 0.1)])
    assert round_finished(search.state_file, 1, second, {"baseline": 0.4})
    assert logged_keys(search) == k
    runs = child_runs(search)
    assert (runs[k[0]].data.tags["nasrl.reused"], runs[k[0]].data.tags["nasrl.sampled_in_rounds"]) == ("true", "0")
    assert (runs[k[1]].data.tags["nasrl.reused"], runs[k[1]].data.tags["nasrl.sampled_in_rounds"]) == ("true", "0,1")
    assert runs[k[2]].data.tags["nasrl.round"] == "1" and "nasrl.reused" not in runs[k[2]].data.tags
    assert [runs[c].info.run_name for c in k] == ["r0-c0", "r0-c1", "r1-c1", "r1-c2"]  # each key's first sample
    assert runs[k[3]].data.tags["nasrl.surrogate"] == "true"  # its reward came from a table
    assert not any("nasrl.surrogate" in runs[c].data.tags for c in k[:3])
    hits = client.get_metric_history(search.run_id, "cache_hits")
    assert [(m.step, m.value) for m in hits] == [(0, 1.0), (1, 1.0)]


def test_an_update_first_logs_an_earlier_round_its_own_update_could_not(tmp_path, capsys):
    search = new_search(tmp_path)
    k = [key(i) for i in (60, 61)]
    for child in k:
        write_child(search.results_dir / "children", child)
    first = write_round(search, 0, [(0, k[0], 0.5)])
    second = write_round(search, 1, [(1, k[0], 0.5), (1, k[1], 0.7)])
    unreachable = SearchRun(**{**vars(search), "uri": f"http://127.0.0.1:{free_port()}"})
    unreachable.save(search.state_file)
    capsys.readouterr()
    assert not round_finished(search.state_file, 0, first)
    message = capsys.readouterr().err
    assert message.startswith("MLflow: round 0 and its children not logged to http://127.0.0.1:")
    assert message.count("\n") == 1
    search.save(search.state_file)  # the store answers again
    assert round_finished(search.state_file, 1, second)
    runs = child_runs(search)
    assert runs[k[0]].data.tags["nasrl.round"] == "0"  # logged with the round that trained it
    assert (runs[k[0]].data.tags["nasrl.reused"], runs[k[0]].data.tags["nasrl.sampled_in_rounds"]) == ("true", "0,1")
    assert [m.step for m in client_for(search).get_metric_history(search.run_id, "mean_reward")] == [0, 1]
    assert sync(search.results_dir) == []


def test_a_child_job_does_not_log_its_rounds_update_does():
    from nasrl.cli import build_parser, cmd_train_child

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train-child", "--arch", "a.json", "--config", "c.yaml", "--out", "o",
                                   "--tracking", "results/x/tracking/search.json"])
    assert "tracking" not in inspect.getsource(cmd_train_child)
    rule = (REPO / "workflow" / "rules" / "children.smk").read_text().split("rule train_child:")[1]
    assert "tracking" not in rule.split("\nrule ")[0]
    update = (REPO / "workflow" / "rules" / "search.smk").read_text().split("rule update_controller:")[1]
    assert "--tracking {input.tracking}" in update.split("\nrule ")[0]


def test_a_runs_batches_stay_within_mlflow_limits():
    metrics, params = list(range(2500)), list(range(250))
    batches = log_batches(metrics, params)
    assert [m for batch, _ in batches for m in batch] == metrics and [p for _, batch in batches for p in batch] == params
    assert all(len(p) <= MAX_PARAMS and len(m) + len(p) + 1 <= MAX_ENTRIES for m, p in batches)  # + the complete tag
    assert log_batches([], []) == [([], [])]  # the completeness tag still gets its batch


def test_one_client_per_store(tmp_path):
    search = SearchRun(experiment="exp", results=str(tmp_path), uri=f"sqlite:///{tmp_path / 'a.db'}")
    search.save(tmp_path / "s.json")
    assert search.client is store.client(search.uri) is SearchRun.load(tmp_path / "s.json").client
    assert store.client(f"sqlite:///{tmp_path / 'b.db'}") is not search.client


def test_a_child_trained_by_an_earlier_search_is_linked_not_logged_again(tmp_path):
    first = new_search(tmp_path)
    write_child(first.results_dir / "children", key(7))
    original, _ = log_child(client_for(first), first, key(7), arch(8), 0, 0)
    second = SearchRun(experiment="exp", results=first.results, uri=first.uri, registered_model="nasrl-exp")
    start_search(second, {"search": {"seed": 1}})
    log_round(second, 0, round_table([(0, key(7), 0.5)]))
    link = child_runs(second)[key(7)]
    assert link.data.tags["nasrl.cache_hit"] == "true" and link.data.tags["nasrl.source_run_id"] == original
    assert client_for(second).get_metric_history(link.info.run_id, "val_acc") == []  # curves stay on the original
    assert link.data.metrics["reward"] == 0.5


# ----- a finished tiny search: the tree through a real `mlflow server` --------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(finished_tiny_search, tmp_path_factory):
    """`mlflow server` on 127.0.0.1 over the finished search's store."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w")
    proc = subprocess.Popen([BIN / "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{finished_tiny_search / 'mlflow.db'}", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            assert proc.poll() is None, "another process answers on the port chosen for mlflow server"
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"mlflow server did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def rest(url: str, endpoint: str, body: dict | None = None, **query) -> dict:
    address = f"{url}/api/2.0/mlflow/{endpoint}"
    if query:
        address += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(address, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{address}: HTTP {err.code}: {err.read()[:1000]!r}") from None


def as_dict(entries: list[dict] | None) -> dict:
    return {e["key"]: e["value"] for e in entries or []}


@pytest.mark.e2e
def test_the_run_tree_of_a_search_through_the_rest_api(server, finished_tiny_search):
    results = finished_tiny_search / "results" / "tiny"
    history = pd.read_parquet(results / "history.parquet")
    experiment = rest(server, "experiments/get-by-name", experiment_name="tiny")["experiment"]
    runs = rest(server, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 1000})["runs"]
    by_stage = {}
    for run in runs:
        by_stage.setdefault(as_dict(run["data"].get("tags"))["nasrl.stage"], []).append(run)

    (search,) = by_stage["search"]
    search_id, tags = search["info"]["run_id"], as_dict(search["data"]["tags"])
    assert search["info"]["status"] == "FINISHED"
    assert tags["nasrl.strategy"] == "reinforce" and {"nasrl.git_commit", "nasrl.dvc_data"} <= set(tags)
    assert tags["mlflow.note.content"].startswith("nasrl reinforce search of experiment 'tiny'")  # its description
    # the search run carries the search's files: the figure, the tables, the choice
    files = {f["path"] for f in rest(server, "artifacts/list", run_id=search_id, path="search")["files"]}
    assert {"search/search.png", "search/rounds.csv", "search/history.parquet", "search/rewards.csv",
            "search/best.json", "search/metrics.json"} <= files
    # and the report's tables, written after the report ended the run
    assert {"search/rounds.html", "search/final_grid.html", "search/metrics.html"} <= files
    params = as_dict(search["data"]["params"])
    assert params["search.seed"] == "3" and params["child.dataset"] == "digits" and params["search.rounds"] == "2"
    steps = rest(server, "metrics/get-history", run_id=search_id, metric_key="mean_reward")["metrics"]
    assert [m["step"] for m in steps] == [0, 1]
    assert [m["value"] for m in steps] == pytest.approx(list(history.groupby("round")["reward"].mean()))
    for name in ("max_reward", "baseline", "loss", "entropy", "cache_hits", "failed_children", "stopped_children"):
        assert len(rest(server, "metrics/get-history", run_id=search_id, metric_key=name)["metrics"]) == 2, name

    children = by_stage["child"]
    assert sorted(as_dict(c["data"]["tags"])["nasrl.key"] for c in children) == sorted(set(history["key"]))
    for child in children:
        tags = as_dict(child["data"]["tags"])
        assert tags["mlflow.parentRunId"] == search_id and tags["nasrl.status"] == "ok"
        first = history[history["key"] == tags["nasrl.key"]]
        assert tags["nasrl.round"] == str(first["round"].min())
        # named by where it was first sampled: round and index
        assert child["info"]["run_name"] == f"r{first['round'].iloc[0]}-c{first['index'].iloc[0]}"
        assert (tags.get("nasrl.reused") == "true") == (len(first) > 1 or first["repeat"].any())
        # TINY fixes 2 layers of 3x3 filters with stride 1: only the filter counts are decisions
        params = as_dict(child["data"]["params"])
        assert set(params) == {"depth", "layer_0.num_filters", "layer_1.num_filters"} and params["depth"] == "2"
        assert {params["layer_0.num_filters"], params["layer_1.num_filters"]} <= {"4", "8"}
        curve = rest(server, "metrics/get-history", run_id=child["info"]["run_id"], metric_key="val_acc")["metrics"]
        assert [m["step"] for m in curve] == [1]  # TINY trains one epoch
        assert as_dict(child["data"]["metrics"])["reward"] == pytest.approx(float(first["reward"].iloc[0]))
        assert tags["mlflow.note.content"].startswith("child: 2 layers, ") and "reward " in tags["mlflow.note.content"]
        artifacts = rest(server, "artifacts/list", run_id=child["info"]["run_id"])["files"]
        assert {"architecture.json", "architecture.svg", "metrics.json"} <= {f["path"] for f in artifacts}

    # reward is the search's signal: only children have it, the runs table sorted by it ranks them
    assert not any("reward" in as_dict(run["data"].get("metrics")) for run in by_stage["search"] + by_stage["final"])
    (final,) = by_stage["final"]
    best = json.loads((results / "final" / "best.json").read_text())
    final_tags, final_metrics = as_dict(final["data"]["tags"]), as_dict(final["data"]["metrics"])
    assert final_tags["mlflow.parentRunId"] == search_id and final_tags["nasrl.best"] == "true"
    assert final_tags["mlflow.note.content"].startswith('final run 0_0 ({"lr": 0.1}): 2 layers, ')
    assert final_tags["mlflow.note.content"].endswith(f"chosen on validation, tested once: test_acc "
                                                      f"{best['test']['test_acc']:.4f}, test_loss {best['test']['test_loss']:.4f}")
    assert as_dict(final["data"]["params"])["grid.lr"] == "0.1" and as_dict(final["data"]["params"])["depth"] == "2"
    assert "final_reward" in final_metrics  # the retraining's own reward, named apart
    assert final_metrics["test_acc"] == pytest.approx(best["test"]["test_acc"])  # the one test evaluation

    model = rest(server, "registered-models/get", name="nasrl-tiny")["registered_model"]
    assert "experiment 'tiny'" in model["description"]
    (latest,) = model["latest_versions"]
    assert latest["run_id"] == final["info"]["run_id"]
    assert {"alias": "champion", "version": latest["version"]} in model["aliases"]  # models:/nasrl-tiny@champion
    version = rest(server, "model-versions/get", name="nasrl-tiny", version=latest["version"])["model_version"]
    assert best["arch_key"] in version["description"] and f"test_acc {best['test']['test_acc']:.4f}" in version["description"]
    version_tags = as_dict(version["tags"])
    assert version_tags["arch_key"] == best["arch_key"] and version_tags["search_run_id"] == search_id
    assert float(version_tags["test_acc"]) == pytest.approx(best["test"]["test_acc"], abs=1e-4)
    with store.fluent_uri(server):
        import mlflow

        signature = mlflow.models.get_model_info(f"models:/nasrl-tiny/{latest['version']}").signature
    (images,), (logits,) = signature.inputs.inputs, signature.outputs.inputs
    assert (images.name, str(images.type), images.shape) == ("images", "float32", (-1, 1, 8, 8))  # digits: 1 x 8 x 8
    assert (logits.name, logits.shape) == ("logits", (-1, 10))

    # the link printed when a search ends opens this experiment's runs table
    from nasrl.tracking.links import ui_hint

    hint = ui_hint(results / "tracking" / "search.json")
    assert f"/#/experiments/{experiment['experiment_id']}/runs?workflowType=machine_learning&" in hint
    # on the search's saved view: the children's reward and validation metric, best reward first
    from nasrl.tracking.views import VIEW_ID, view_state

    assert f"viewStateShareKey={VIEW_ID}" in hint
    view = view_state(as_dict(experiment["tags"]))
    assert view["orderByKey"] == "metrics.`reward`" and view["orderByAsc"] is False
    assert view["columnOrder"][0] == "metrics.`reward`" and view["columnOrder"] == view["selectedColumns"]
    assert {"metrics.`reward`", "metrics.`best_val_acc`", "params.`depth`", "tags.`nasrl.status`"} <= set(
        view["selectedColumns"])
    logged = {name for run in children + [final] for name in as_dict(run["data"]["metrics"])}
    assert "metrics.`test_acc`" in view["selectedColumns"]  # the final runs' one test evaluation
    assert {c.split("`")[1] for c in view["selectedColumns"] if c.startswith("metrics.")} <= logged
    assert "mlflow ui --backend-store-uri" in hint
    # and a second view on the final runs alone, best validation first, with their grid point
    from nasrl.tracking.views import FINAL_VIEW_ID

    assert f"viewStateShareKey={FINAL_VIEW_ID}" in hint
    finals_view = view_state(as_dict(experiment["tags"]), FINAL_VIEW_ID)
    assert finals_view["searchFilter"] == "tags.`nasrl.stage` = 'final'"
    assert finals_view["orderByKey"] == "metrics.`best_val_acc`" and finals_view["orderByAsc"] is False
    assert {"metrics.`test_acc`", "params.`grid.lr`"} <= set(finals_view["selectedColumns"])
    assert {c.split("`")[1] for c in finals_view["selectedColumns"] if c.startswith("params.grid")} <= set(
        as_dict(final["data"]["params"]))
    # and the UI treats the experiment as model training: its page opens on the runs table
    assert as_dict(experiment["tags"])["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.e2e
def test_sync_rebuilds_the_same_tree_in_a_new_store(finished_tiny_search, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_tiny_search / "results", copy / "results")
    results = copy / "results" / "tiny"
    environment = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    logged = sync(results, f"sqlite:///{tmp_path / 'fresh.db'}")
    # the store a sync writes to never leaks into the environment later searches inherit
    assert {k: os.environ.get(k) for k in environment} == environment
    keys = set(pd.read_parquet(results / "history.parquet")["key"])
    assert logged[0] == "search run" and set(logged) >= keys | {"0_0", "search results"}
    assert any(item.startswith("model nasrl-tiny version 1") for item in logged)
    search = SearchRun.load(results / "tracking" / "search.json")
    assert set(child_runs(search)) == keys | {json.loads((results / "final/runs/0_0/metrics.json").read_text())["key"]}
    assert sync(results) == []


@pytest.mark.e2e
def test_the_workflow_logs_where_the_config_says(tmp_path):
    from workflow_helpers import TINY, make_workdir, snakemake

    config = {**TINY, "tracking": {"uri": "sqlite:///store/runs.db", "registered_model": "digits-best"}}
    workdir = make_workdir(tmp_path / "run", config)
    done = snakemake(workdir, "--dry-run")
    assert "start_tracking" in done.stdout
    assert "nasrl track start --experiment tiny --registered-model digits-best --uri sqlite:///store/runs.db" in (
        snakemake(workdir, "--dry-run", "--printshellcmds").stdout)
    # a paper-scale search can leave the child diagrams out: the start records it for the rounds
    config["tracking"]["child_diagrams"] = False
    workdir = make_workdir(tmp_path / "no-diagrams", config)
    assert "--uri sqlite:///store/runs.db --no-child-diagrams" in snakemake(workdir, "--dry-run", "--printshellcmds").stdout


def test_child_runs_without_diagrams_keep_their_architecture_json(tmp_path, monkeypatch):
    from nasrl.tracking.record import result_record
    from nasrl.tracking.workflow_steps import search_started

    monkeypatch.chdir(tmp_path)
    state = tmp_path / "results" / "exp" / "tracking" / "search.json"
    assert search_started(state, "exp", None, None, off=True, child_diagrams=False).child_diagrams is False
    assert SearchRun.load(state).child_diagrams is False  # what every round's update reads
    run_dir = tmp_path / "child"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"key": "k" * 16, "status": "ok", "reward": 0.5,
                                                      "metric": "val_acc", "best_val": 0.8, "seconds": 1.0}))
    from nasrl.spaces.presets import preset_architecture, resolve_space

    arch, space = preset_architecture("cnn_figure7")[0], resolve_space("cnn_v1")
    drawn = result_record(run_dir, arch, "child", "parent", {}, space)
    plain = result_record(run_dir, arch, "child", "parent", {}, space, diagram=False)
    assert set(drawn.files) == {"architecture.json", "architecture.svg", "metrics.json"}
    assert set(plain.files) == {"architecture.json", "metrics.json"}


def test_a_start_killed_before_its_state_file_takes_over_its_run_instead_of_adding_one(tmp_path):
    search = new_search(tmp_path)  # created its run; say it was killed before search.json
    settings = {"search": {"space": SPACE, "strategy": "reinforce", "seed": 0}, "child": {"dataset": "digits"}}
    again = SearchRun(experiment="exp", results=search.results, uri=search.uri, root=search.root)
    assert start_search(again, settings).run_id == search.run_id  # the same command, run again
    write_child(search.results_dir / "children", key(1))
    log_child(client_for(search), search, key(1), arch(16), round_index=0, index=0)
    fresh = SearchRun(experiment="exp", results=search.results, uri=search.uri, root=search.root)
    assert start_search(fresh, settings).run_id != search.run_id  # a run already logged into is never taken
    runs = client_for(search).search_runs([search.experiment_id], "tags.`nasrl.stage` = 'search'")
    assert len(runs) == 2


def leftover_store(db: Path) -> str:
    """A store with Alembic's temporary table, as a process killed mid-migration leaves it."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{db}"
    MlflowClient(tracking_uri=uri).create_experiment("before")
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    return uri


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_killed_migrations_leftover_is_named_when_the_store_opens_and_removed_by_track_repair(
        tmp_path, monkeypatch, capsys):
    """Opening a store never drops a leftover table (a running migration leaves the same ones):
    it says once how to remove it, and `nasrl track repair` does, losing nothing."""
    from nasrl.cli import main

    db = tmp_path / "mlflow.db"
    uri = leftover_store(db)
    capsys.readouterr()  # MLflow's lines while it created the store
    store.client.cache_clear()
    store._hinted.clear()
    store.client(uri)
    store.client.cache_clear()
    store.client(uri)  # a second open in the same process says it no more
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "_alembic_tmp_experiments" in err and f"nasrl track repair --uri {uri}" in err
    assert "_alembic_tmp_experiments" in tables(db)

    monkeypatch.setattr(store, "MIGRATION_SETTLE_SECONDS", 0.2)
    assert main(["track", "repair", "--uri", uri]) == 0
    assert json.loads(capsys.readouterr().out) == {"uri": uri, "repaired": ["_alembic_tmp_experiments"]}
    assert store.repair_interrupted_migration(uri) == []
    assert "_alembic_tmp_experiments" not in tables(db)
    store.client.cache_clear()
    assert store.client(uri).get_experiment_by_name("before") is not None  # nothing lost, the store opens
    assert capsys.readouterr().err == ""


def test_track_repair_refuses_a_store_whose_schema_changes_or_that_another_process_writes(tmp_path):
    db = tmp_path / "mlflow.db"
    uri = leftover_store(db)

    def migrate_meanwhile():  # what a running migration does: change the schema
        time.sleep(0.3)
        with sqlite3.connect(db) as con:
            con.execute("CREATE TABLE _alembic_tmp_runs (run_uuid TEXT)")

    thread = threading.Thread(target=migrate_meanwhile)
    thread.start()
    with pytest.raises(store.StoreError, match="schema changed in the last 1 s, so a migration is running"):
        store.repair_interrupted_migration(uri, settle=1.0)
    thread.join()

    writing, done = threading.Event(), threading.Event()

    def write():  # another writer holding the write lock longer than the repair waits for it (5 s)
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        writing.set()
        done.wait(30)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=write)
    thread.start()
    writing.wait()
    try:
        with pytest.raises(store.StoreError, match="is being written by another process"):
            store.repair_interrupted_migration(uri, settle=0.1)
    finally:
        done.set()
        thread.join()
    assert {"_alembic_tmp_experiments", "_alembic_tmp_runs"} <= tables(db)  # refused: nothing changed
    assert store.repair_interrupted_migration(uri, settle=0.1) == ["_alembic_tmp_experiments", "_alembic_tmp_runs"]


# Opens the store once `mlflow db upgrade` is migrating it (tables, not yet the head revision),
# as a search's job may, and logs to it.
OPEN_DURING_MIGRATION = """
import sqlite3, sys, time
from pathlib import Path
from mlflow.store.db.utils import _get_latest_schema_revision
from nasrl.tracking.store import client

uri = sys.argv[1]
db, head = Path(uri[len("sqlite:///"):]), _get_latest_schema_revision()
print("ready", flush=True)
while True:
    if db.exists():
        with sqlite3.connect(db, timeout=20) as con:
            names = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = con.execute("SELECT version_num FROM alembic_version").fetchone() if "alembic_version" in names else None
        if row and row[0] == head:
            sys.exit("the migration ended before the store was opened")
        if names:
            break
    time.sleep(0.01)
client(uri).create_experiment("beside the migration")
"""


def test_a_store_that_mlflow_db_upgrade_is_migrating_is_waited_for_and_stays_usable(tmp_path):
    """`mlflow db upgrade` beside a search: MLflow's own open would migrate the same file at the
    same time (seen to leave 45 of 65 tables, two _alembic_tmp_ tables and an unusable store);
    nasrl's open waits for the migration, then both succeed and the store is complete."""
    from mlflow.store.db.base_sql_model import Base

    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    opener = subprocess.Popen([sys.executable, "-c", OPEN_DURING_MIGRATION, uri], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert opener.stdout.readline() == "ready\n"  # imports done: it watches the store from now on
    upgrade = subprocess.run([BIN / "mlflow", "db", "upgrade", uri], capture_output=True, text=True, timeout=300)
    opened = opener.communicate(timeout=300)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    assert opener.returncode == 0, opened[1][-2000:]
    names = tables(db)
    assert set(Base.metadata.tables) <= names and not [t for t in names if t.startswith("_alembic_tmp_")]
    check = ("import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]); "
             "print(mlflow.get_experiment_by_name('beside the migration').experiment_id, "
             "len(mlflow.search_runs(search_all_experiments=True)))")
    done = subprocess.run([sys.executable, "-c", check, uri], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_champion_is_the_version_best_on_validation_whichever_way_its_metric_goes():
    from types import SimpleNamespace

    from nasrl.tracking.model import crown_champion

    class Registry:
        def __init__(self, values, metric):
            self.versions = [SimpleNamespace(version=str(i + 1), tags={metric: str(v)}) for i, v in enumerate(values)]
            self.alias = None

        def search_model_versions(self, filter_string):
            assert filter_string == "name='nasrl-x'"
            return self.versions

        def set_registered_model_alias(self, name, alias, version):
            self.alias = (name, alias, version)

    accuracy = Registry([0.91, 0.95, 0.95, 0.90], "val_acc")
    assert crown_champion(accuracy, "nasrl-x", "val_acc") == "2" and accuracy.alias == ("nasrl-x", "champion", "2")
    perplexity = Registry([82.0, 78.5, 80.1], "val_ppl")
    assert crown_champion(perplexity, "nasrl-x", "val_ppl") == "2"  # lower is better
    assert crown_champion(Registry([], "val_acc"), "nasrl-x", "val_acc") is None


def test_the_search_figure_drawn_again_with_the_random_control_replaces_the_runs_copy(tmp_path):
    """plot-search, run again once the control exists, logs the new figure over the old one."""
    from nasrl.tracking.search import log_search_files

    search = new_search(tmp_path)
    archs = [json.dumps(arch(8)), json.dumps(arch(16))]
    history = pd.DataFrame({"round": [0, 1], "arch_key": ["a", "b"], "arch": archs, "reward": [0.5, 0.7],
                            "status": "ok", "strategy": "reinforce"})
    history.to_parquet(tmp_path / "history.parquet")
    figure = search.layout.search_plot
    figure.write_bytes(b"the figure before the control")
    log_search_files(search, [figure])
    control = tmp_path / "control.parquet"
    history.assign(strategy="random").to_parquet(control)
    done = subprocess.run([BIN / "nasrl", "plot-search", "--history", tmp_path / "history.parquet", "--control", control,
                           "--out", figure, "--tracking", search.state_file], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "NASRL_WARM_START": "0"})
    assert done.returncode == 0, done.stderr
    run = client_for(search).get_run(search.run_id)
    logged = Path(urllib.parse.urlparse(run.info.artifact_uri).path) / "search" / "search.png"
    assert logged.read_bytes() == figure.read_bytes() and logged.read_bytes().startswith(b"\x89PNG")


def test_an_update_finds_earlier_rounds_children_through_their_markers_or_the_store(tmp_path):
    """Round 1 samples children of round 0 again: found by their markers, by the store when a
    marker lacks its run id (a kill between the run and the marker), or, for a search logged
    before the markers existed, by reading every child run once; never logged twice."""
    from nasrl.tracking.run_markers import marked_runs

    search = new_search(tmp_path)
    k = [key(i) for i in range(60, 64)]
    for child in k:
        write_child(search.results_dir / "children", child)
    client = client_for(search)
    assert round_finished(search.state_file, 0, write_round(search, 0, [(0, k[0], 0.2), (0, k[1], 0.4)]))
    found, ask = marked_runs(client, search, set(k))
    assert set(found) == set(k[:2]) and ask == set()  # k[2], k[3]: no marker, so no run and no query
    marker = search.layout.child_run_marker(k[1])
    marker.write_text(json.dumps({"search_run": search.run_id, "run_id": None}))
    assert round_finished(search.state_file, 1, write_round(search, 1, [(1, k[0], 0.2), (1, k[1], 0.4), (1, k[2], 0.6)]))
    assert logged_keys(search) == k[:3]
    assert json.loads(marker.read_text())["run_id"] == child_runs(search)[k[1]].info.run_id  # the marker mended
    shutil.rmtree(marker.parent)  # as a search logged by an earlier nasrl
    assert round_finished(search.state_file, 2, write_round(search, 2, [(2, k[0], 0.2), (2, k[2], 0.6), (2, k[3], 0.1)]))
    assert logged_keys(search) == k
    assert {p.stem for p in marker.parent.glob("*.json")} == set(k)


def write_batch(search: SearchRun, step: int, replica: int, version: int, rows) -> Path:
    """An applied async batch: its rewards table and update.json, where the workflow writes them."""
    rewards = search.layout.batch_rewards(step, replica)
    rewards.parent.mkdir(parents=True, exist_ok=True)
    round_table(rows).to_parquet(rewards, index=False)
    search.layout.batch_update(step, replica).write_text(json.dumps(
        {"round": version - 1, "version": version, "step": step, "replica": replica, "baseline": 0.1 * version,
         "staleness": version - 1}))
    return rewards


def test_an_async_update_first_logs_the_earlier_updates_in_journal_order(tmp_path, capsys):
    """search.updates async: an update is MLflow step version - 1; one whose own step could not log
    is logged by the next update (and by `nasrl track sync`) in version order, once."""
    search = new_search(tmp_path)
    k = [key(i) for i in (70, 71, 72)]
    for child in k:
        write_child(search.results_dir / "children", child)
    # replica 1's first batch became version 1, replica 0's version 2
    first = write_batch(search, 0, 1, 1, [(0, k[0], 0.5)])
    second = write_batch(search, 0, 0, 2, [(0, k[1], 0.7)])
    unreachable = SearchRun(**{**vars(search), "uri": f"http://127.0.0.1:{free_port()}"})
    unreachable.save(search.state_file)
    assert not round_finished(search.state_file, 0, first)
    search.save(search.state_file)  # the store answers again
    assert round_finished(search.state_file, 1, second, json.loads(search.layout.batch_update(0, 0).read_text()))
    client = client_for(search)
    assert [(m.step, m.value) for m in client.get_metric_history(search.run_id, "baseline")] == [(0, 0.1), (1, 0.2)]
    assert logged_keys(search) == k[:2]
    third = write_batch(search, 1, 1, 3, [(1, k[2], 0.9)])
    assert sync(search.results_dir) == [k[2]]  # the update its job could not log, from its files
    assert sync(search.results_dir) == []
    assert [m.step for m in client.get_metric_history(search.run_id, "mean_reward")] == [0, 1, 2]
    assert [(m.step, m.value) for m in client.get_metric_history(search.run_id, "staleness")] == [(0, 0), (1, 1), (2, 2)]
    assert third.exists() and logged_keys(search) == k
