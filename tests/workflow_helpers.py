"""Helpers of the workflow tests: a temporary copy of the workflow, the real `snakemake` command,
the tiny search, and surrogate searches with their step-by-step reference.

Starting `snakemake` is what makes a test `e2e` (pyproject.toml's markers): a test that calls
`snakemake()` or `killed_in_round_1_and_resumed()` must carry that marker. `step_by_step()` and
`surrogate_config()` start nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from nasrl.pipeline.collect import collect_rewards, read_sampled
from nasrl.pipeline.search_steps import init_controller, sample_round, update_controller
from nasrl.settings import ChildConfig, SearchSettings
from nasrl.training.surrogate import train_surrogate

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)

# 4 possible architectures (2 layers x 2 filter counts), 6 samples: repeats are certain.
TINY = {
    "experiment": "tiny",
    "search": {
        "space": {"type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [4, 8],
                  "depth": {"start": 2, "step": 0, "every": 1, "max": 2}},
        "strategy": "reinforce", "seed": 3, "rounds": 2, "children_per_round": 3, "controller": {"lr": 0.01},
    },
    "child": {"dataset": "digits", "epochs": 1, "batch_size": 64, "threads": 1, "limit_train_batches": 2},
    "final": {"top_k": 1, "epochs": 1, "grid": {"lr": [0.1]}},
}
DETERMINISTIC = ["round", "index", "key", "arch_key", "arch", "strategy", "status", "reward", "metric", "val", "params",
                 "repeat"]


def make_workdir(path: Path, config: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Snakefile", path)
    for folder in ("workflow", "profiles"):
        shutil.copytree(REPO / folder, path / folder)
    (path / "config").mkdir()
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True, **popen) -> subprocess.CompletedProcess:
    # The searches log to the MLflow store in their own folder, whatever the caller's shell sets.
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    cmd = [f"{BIN}/snakemake", "--cores", "2", *args]
    if popen:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def history(workdir: Path) -> pd.DataFrame:
    return pd.read_parquet(workdir / "results" / "tiny" / "history.parquet")


# --- surrogate searches (rewards from the shipped NAS-Bench-Macro table) ------------------------

TABLE = REPO / "src" / "nasrl" / "tables" / "nas-bench-macro-cifar10.csv"
SURROGATE = {"table": str(TABLE), "key_column": "arch", "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}",
             "reward_column": "test_acc_seed0"}
COMPARED = ["round", "index", "replica", "controller", "key", "arch", "status", "reward", "repeat"]


def surrogate_config(rounds, m, replicas, staleness, **surrogate):
    return {
        "experiment": "scale",
        "search": {"space": "nas_bench_macro", "strategy": "reinforce", "seed": 7, "rounds": rounds,
                   "children_per_round": m, "replicas": replicas, "staleness": staleness,
                   "controller": {"lr": 0.05}},
        "child": {"seed": 0, "surrogate": {**SURROGATE, **surrogate}},
        "final": {"top_k": 1, "grid": {"lr": [0.1]}},
        "tracking": {"enabled": False},
    }


def step_by_step(config, root: Path, monkeypatch) -> pd.DataFrame:
    """The same search through the pipeline's functions called in order, with no Snakemake:
    the reference a workflow run must equal (surrogate durations skipped: rewards only)."""
    monkeypatch.setattr("nasrl.training.surrogate.time.sleep", lambda seconds: None)
    search = SearchSettings.from_dict(config["search"])
    child = ChildConfig.from_dict(config["child"])
    s = search.staleness
    controller = lambda r: root / f"c{r}.pt"  # noqa: E731
    init_controller(search, controller(0))
    tables = []
    for r in range(search.rounds):
        sampler = controller(max(0, r - s))
        sample_round(search, child, sampler, r, root / f"r{r}")
        for row in read_sampled(root / f"r{r}"):
            if not (root / "children" / row["key"] / "metrics.json").exists():
                train_surrogate(row["arch"], child, root / "children" / row["key"])
        tables.append(collect_rewards(root / f"r{r}", root / "children", "reinforce", root / f"r{r}.parquet"))
        update_controller(search, controller(r), root / f"r{r}.parquet", controller(r + 1), root / f"s{r}.json",
                          sampler=sampler)
    history = pd.concat(tables, ignore_index=True)
    history["repeat"] = history.duplicated("key")
    return history


def workflow_history(workdir: Path) -> pd.DataFrame:
    return pd.read_parquet(workdir / "results" / "scale" / "history.parquet")


def killed_in_round_1_and_resumed(workdir: Path, cores: int) -> Path:
    """SIGKILL the whole run once round 1's rewards exist, then the same command again: no
    child finished before the kill is trained again."""
    results = workdir / "results" / "scale"
    process = snakemake(workdir, "--cores", str(cores), start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (results / "rounds" / "0001" / "rewards.parquet").exists():
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p: p.stat().st_mtime_ns for p in (results / "children").glob("*/metrics.json")}
    assert done_before and not (results / "history.parquet").exists()
    snakemake(workdir, "--cores", str(cores))
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was trained again"
    return workdir
