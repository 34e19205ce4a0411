"""The Snakemake workflow end to end, through the real `snakemake` command, on tiny searches.

Each search runs in a temporary copy of the workflow (Snakefile, workflow/, profiles/,
config/) with a 2-round x 3-child config: about a minute on 2 CPU cores per run.
"""

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from workflow_helpers import BIN, DETERMINISTIC, REPO, TINY, history, make_workdir, snakemake

# Every test here runs `snakemake`.
pytestmark = pytest.mark.e2e


@pytest.fixture
def finished(finished_tiny_search):
    """One uninterrupted tiny search (shared with the tracking tests: see conftest.py)."""
    return finished_tiny_search


def test_a_tiny_search_runs_end_to_end(finished):
    results = finished / "results" / "tiny"
    table = history(finished)
    assert len(table) == 2 * 3 and list(table["round"]) == [0, 0, 0, 1, 1, 1]
    assert set(DETERMINISTIC) | {"seconds"} <= set(table.columns)
    assert (table["status"] == "ok").all() and table["reward"].between(0, 1).all()
    for arch in table["arch"]:
        assert json.loads(arch)["space"] == "cnn"
    for r in range(3):  # init + one update per round
        assert (results / "controller" / f"round_{r:04d}.pt").exists()
    stats = json.loads((results / "controller" / "round_0001.json").read_text())
    assert stats["mean_reward"] == pytest.approx(table[table["round"] == 0]["reward"].mean())
    best = json.loads((results / "final" / "best.json").read_text())
    assert best["status"] == "ok" and best["grid"] == {"lr": 0.1} and best["metric"] == "val_acc"
    assert 0 <= best["test"]["test_acc"] <= 1 and best["arch"]["space"] == "cnn"
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["children"] == 6 and len(metrics["mean_reward_by_round"]) == 2
    assert metrics["final_test"] == best["test"]
    assert (results / "search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rounds = pd.read_csv(results / "rounds.csv")
    assert list(rounds["round"]) == [0, 1] and list(rounds["children"]) == [3, 3]
    curve = pd.read_csv(results / "rewards.csv")
    assert list(curve["sample"]) == list(range(6)) and list(curve["reward"]) == pytest.approx(list(table["reward"]))
    data = json.loads((results / "data.json").read_text())
    assert data["dataset"] == "digits" and data["splits"] == {"train": 1257, "val": 270, "test": 270}
    for rule_log in ("controller/init.log", "rounds/0000/sample.log", "summarize.log", "report.log"):
        assert (finished / "logs" / "tiny" / rule_log).exists()


def test_an_architecture_sampled_twice_is_trained_once_and_rewarded_each_time(finished):
    table = history(finished)
    assert table["repeat"].any()  # 6 samples of 4 architectures
    children = list((finished / "results" / "tiny" / "children").iterdir())
    assert len(children) == table["key"].nunique() < len(table)
    for _, group in table.groupby("key"):
        assert group["reward"].nunique() == 1
    logs = list((finished / "logs" / "tiny" / "children").glob("*.log"))
    assert len(logs) == table["key"].nunique()


def test_two_runs_with_the_same_config_give_the_same_history(finished, tmp_path):
    again = make_workdir(tmp_path / "again", TINY)
    snakemake(again)
    pd.testing.assert_frame_equal(history(again)[DETERMINISTIC], history(finished)[DETERMINISTIC])


def test_a_killed_search_resumes_without_redoing_finished_children(finished, tmp_path):
    workdir = make_workdir(tmp_path / "killed", TINY)
    children = workdir / "results" / "tiny" / "children"
    process = snakemake(workdir, start_new_session=True)
    deadline = time.time() + 300
    # Round 0 trains one distinct child; kill as soon as it is done, while the search is still
    # collecting, updating and sampling (round 1's children take 15 s or more to follow).
    while time.time() < deadline and not list(children.glob("*/metrics.json")):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run, children included
    process.wait()
    done_before = {p: p.stat().st_mtime_ns for p in children.glob("*/metrics.json")}
    assert 1 <= len(done_before) < history(finished)["key"].nunique()
    assert not (workdir / "results" / "tiny" / "history.parquet").exists()

    snakemake(workdir)  # the same command again
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was trained again"
    pd.testing.assert_frame_equal(history(workdir)[DETERMINISTIC], history(finished)[DETERMINISTIC])


def test_random_search_on_recurrent_cells_runs_end_to_end(tmp_path):
    config = {
        "experiment": "tiny",
        "search": {"space": {"type": "rnn_cell", "base": 2}, "strategy": "random", "seed": 0, "rounds": 2,
                   "children_per_round": 2},
        "child": {"dataset": "pydoc_topics", "epochs": 1, "batch_size": 8, "threads": 1, "limit_train_batches": 2,
                  "optimizer": {"lr": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}, "grad_clip": 5.0,
                  "language_model": {"embedding_size": 8, "hidden_size": 8, "bptt": 8}},
        "final": {"top_k": 1, "epochs": 1, "grid": {"lr": [1.0]}},
    }
    workdir = make_workdir(tmp_path / "rnn", config)
    snakemake(workdir)
    table = history(workdir)
    assert (table["strategy"] == "random").all() and (table["metric"] == "val_ppl").all()
    best = json.loads((workdir / "results" / "tiny" / "final" / "best.json").read_text())
    assert best["arch"]["space"] == "rnn_cell" and best["test"]["test_ppl"] > 1


def test_missing_data_stops_the_run_before_any_child_starts(tmp_path):
    config = json.loads(json.dumps(TINY))
    config["child"].update(dataset="cifar10", data_dir=str(tmp_path / "no-cifar"))
    workdir = make_workdir(tmp_path / "nodata", config)
    done = snakemake(workdir, check=False)
    assert done.returncode != 0
    log = (workdir / "logs" / "tiny" / "prepare_data.log").read_text()
    assert "nasrl prepare-data: error:" in log and str(tmp_path / "no-cifar") in log
    assert not (workdir / "results" / "tiny" / "children").exists()


@pytest.mark.parametrize("change, message", [
    (lambda c: c["search"].update(rounds="two"),
     "invalid config: search.rounds: Input should be a valid integer, unable to parse string as an integer, got 'two'"),
    (lambda c: c["child"].update(epoch=3), "invalid config: child: unknown key 'epoch'"),
    (lambda c: c.update(mlflow={}), "invalid config: config: unknown key 'mlflow'"),
])
def test_a_bad_config_is_rejected_naming_the_key(tmp_path, change, message):
    config = json.loads(json.dumps(TINY))
    change(config)
    done = snakemake(make_workdir(tmp_path / "bad", config), "-n", check=False)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


def test_lint_and_format_report_nothing(tmp_path):
    done = snakemake(make_workdir(tmp_path / "lint", TINY), "--lint", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr
    formatted = subprocess.run([f"{BIN}/snakefmt", "--check", "Snakefile", "workflow"], cwd=REPO,
                               capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
