"""MLflow logging cost per child for a round of many children: the round's update logs them
all in one process, against the earlier design where each child job logged its own run.

For each round size N (default 100 and 800), --repeats times (medians), in fresh SQLite
stores in a temporary folder:
- round step: ``tracking.workflow_steps.round_finished`` (what ``nasrl update-controller`` calls) on
  a fake round of N finished children (metrics.json, curve.csv of --epochs epochs, a small
  CNN architecture): the round's metrics and one run per child, batched;
- per-child path: the earlier ``log_child`` (a query for the child's run, then create_run,
  log_batch per 100 entries, log_dict, log_artifact, set_tag, set_terminated), called for
  each child in one process. The earlier design ran it in each child's own process, which
  also imported MLflow (measured here once, in a fresh interpreter) and opened the store:
  this column is its lower bound.

    python benchmarks/performance/tracking_at_scale.py [--children 100 800] [--repeats 3] [--epochs 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from nasrl.io import read_metrics
from nasrl.layout import RunFolder
from nasrl.tracking.params import flatten
from nasrl.tracking.record import read_curve, summary_metrics
from nasrl.tracking.runs import find_run
from nasrl.tracking.search import start_search
from nasrl.tracking.state import SearchRun
from nasrl.tracking.workflow_steps import round_finished

LAYER = {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1}


def architecture(i: int) -> dict:
    """A 4-layer CNN whose decisions differ per child (25 params once flattened)."""
    return {"space": "cnn", "max_pool_after": [],
            "layers": [{**LAYER, "num_filters": 8 * (1 + (i >> (2 * n)) % 4), "inputs": list(range(n))} for n in range(4)]}


def key(i: int) -> str:
    return f"{i:016x}"


def fake_round(results: Path, children: int, epochs: int, round_index: int = 0, first: int = 0) -> Path:
    """N finished children (as train-child writes them), numbered from ``first``, and the
    round's rewards table."""
    rows = []
    for i in range(first, first + children):
        folder = results / "children" / key(i)
        folder.mkdir(parents=True)
        with open(folder / "curve.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, ["epoch", "lr", "train_loss", "val_loss", "val_acc"])
            writer.writeheader()
            for e in range(1, epochs + 1):
                writer.writerow({"epoch": e, "lr": 0.1, "train_loss": 1 / e, "val_loss": 1.5 / e,
                                 "val_acc": 1 - 1 / (e + 1)})
        reward = 0.5 + 0.4 * math.sin(i)
        metrics = {"key": key(i), "arch_key": key(i)[::-1], "status": "ok", "reward": reward, "metric": "val_acc",
                   "best_val": reward, "last_val": reward, "epochs": epochs, "seconds": 30.0, "params": 12345}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        rows.append({"round": round_index, "index": i - first, "key": key(i), "arch_key": key(i)[::-1],
                     "arch": json.dumps(architecture(i), sort_keys=True), "status": "ok", "reward": reward})
    rewards = results / "rounds" / f"{round_index:04d}" / "rewards.parquet"
    rewards.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(rewards, index=False)
    return rewards


def started_search(root: Path) -> SearchRun:
    results = root / "results" / "bench"
    (results / "settings").mkdir(parents=True)
    space = {"type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [8, 16, 24, 32],
             "depth": {"start": 4, "step": 0, "every": 1, "max": 4}}  # the space of ``architecture``
    settings = {"search": {"space": space, "strategy": "reinforce", "seed": 0}, "child": {"dataset": "digits"}}
    for section, values in settings.items():
        (results / "settings" / f"{section}.yaml").write_text(yaml.safe_dump(values))
    search = SearchRun(experiment="bench", results=str(results), uri=f"sqlite:///{root / 'mlflow.db'}")
    start_search(search, settings)
    search.save(search.state_file)
    return search


def per_child_log(client, search: SearchRun, child_key: str, arch: dict, round_index: int) -> None:
    """The earlier per-child logging, call for call (one child job's share of the store)."""
    from mlflow.entities import Metric, Param

    run_dir = search.layout.child_dir(child_key)
    metrics = read_metrics(RunFolder(run_dir).metrics).raw
    if find_run(client, search, "child", child_key) is not None:
        return
    now = int(time.time() * 1000)
    tags = {"mlflow.parentRunId": search.run_id, "nasrl.stage": "child", "nasrl.key": child_key,
            "nasrl.arch_key": metrics["arch_key"], "nasrl.status": metrics["status"],
            "nasrl.round": str(round_index), "mlflow.runName": f"child-r{round_index}-{child_key[:8]}"}
    run_id = client.create_run(search.experiment_id, start_time=now - 30000, tags=tags,
                               run_name=tags["mlflow.runName"]).info.run_id
    params = [Param(k, v) for k, v in flatten(arch).items()]
    values = [Metric(name, value, now, int(row["epoch"])) for row in read_curve(run_dir / "curve.csv")
              for name, value in row.items() if name != "epoch"]
    values += [Metric(name, value, now, 0) for name, value in summary_metrics(metrics).items()]
    for i in range(0, max(len(params), len(values), 1), 100):
        client.log_batch(run_id, metrics=values[i:i + 100], params=params[i:i + 100])
    client.log_dict(run_id, arch, "architecture.json")
    client.log_artifact(run_id, str(run_dir / "metrics.json"))
    client.set_tag(run_id, "nasrl.complete", "true")
    client.set_terminated(run_id, "FINISHED", end_time=now)


class Stopwatch:
    """Wall and CPU seconds of a block: on shared cores the CPU time shows the cost itself,
    the wall time what a job waits (SQLite's disk syncs included)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_round_step(children: int, epochs: int) -> Stopwatch:
    root = Path(tempfile.mkdtemp(prefix="nasrl-track-round-"))
    try:
        search = started_search(root)
        rewards = fake_round(search.results_dir, children, epochs)
        with Stopwatch() as watch:
            logged = round_finished(search.state_file, 0, rewards, {"baseline": 0.5, "loss": 0.1})
        runs = search.client.search_runs([search.experiment_id], "tags.`nasrl.stage` = 'child'", max_results=5000)
        assert logged and len(runs) == children, f"{len(runs)} child runs for {children} children"
        return watch
    finally:
        shutil.rmtree(root, ignore_errors=True)


def time_per_child_path(children: int, epochs: int) -> Stopwatch:
    root = Path(tempfile.mkdtemp(prefix="nasrl-track-child-"))
    try:
        search = started_search(root)
        rewards = pd.read_parquet(fake_round(search.results_dir, children, epochs))
        with Stopwatch() as watch:
            for row in rewards.itertuples():
                per_child_log(search.client, search, row.key, json.loads(row.arch), 0)
        return watch
    finally:
        shutil.rmtree(root, ignore_errors=True)


def mlflow_import_seconds(repeats: int) -> float:
    """``import mlflow`` in a fresh interpreter (what every child job paid before)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mlflow, mlflow.entities"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, nargs="+", default=[100, 800])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="rows of each child's curve.csv (default: 5)")
    args = parser.parse_args()
    started_search(Path(tempfile.mkdtemp(prefix="nasrl-track-warm-")))  # MLflow's imports and schema, once
    imported = mlflow_import_seconds(args.repeats)
    print(f"seconds per child, median of {args.repeats}; SQLite store; {args.epochs}-epoch curves; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    print(f"{'children':>8}  {'round step':>17}  {'per-child path':>17}  {'speed-up':>8}  {'+ import':>8}")
    print(f"{'':>8}  {'wall':>8} {'cpu':>8}  {'wall':>8} {'cpu':>8}  {'wall':>8}  {'wall':>8}")
    for n in args.children:
        batched, single = [], []
        for _ in range(args.repeats):  # alternately, so both see the same machine load
            batched.append(time_round_step(n, args.epochs))
            single.append(time_per_child_path(n, args.epochs))
        bw, bc = (statistics.median(getattr(w, k) for w in batched) / n for k in ("wall", "cpu"))
        sw, sc = (statistics.median(getattr(w, k) for w in single) / n for k in ("wall", "cpu"))
        print(f"{n:>8}  {bw:>8.4f} {bc:>8.4f}  {sw:>8.4f} {sc:>8.4f}  {sw / bw:>7.1f}x  {sw + imported:>8.2f}",
              flush=True)
    print(f"MLflow import in a fresh interpreter: {imported:.2f} s, paid once per round by the round step and "
          f"once per child job by the earlier design ('+ import': per-child path + import)")

if __name__ == "__main__":
    main()
