"""Scheduling overhead of a whole search on the default config (`snakemake --cores N`).

    python benchmarks/performance/pipeline_overhead.py [--cores 2] [--configfile config/config.yaml]

Runs the workflow in a temporary copy and compares its wall time with two ideals built from
the per-job `benchmark:` files and each child's metrics.json:

- ideal (training): the children's and final runs' training seconds (inside train_child)
  spread over the cores, plus the controller steps, which run one after another;
- ideal (jobs): the same with each training job's whole wall time (process start and imports
  included), which isolates Snakemake's own scheduling cost.

The per-child fixed cost is a child job's wall time minus its training seconds. The search
runs with warm start off (every job a fresh `nasrl` process) and on (src/nasrl/warm/),
alternated, and both histories are printed: warm start must not change the search.

    python benchmarks/performance/pipeline_overhead.py [--pairs 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import workflow_copy  # noqa: E402

import pandas as pd
import yaml

CONTROLLER_STEPS = ("controller/init", "rounds/*/sample", "rounds/*/collect", "controller/update_*",
                    "summarize", "final/select_top", "report")


def job_seconds(path: Path) -> float:
    with open(path) as f:
        return float(next(csv.DictReader(f, delimiter="\t"))["s"])


def measure(args, warm: bool) -> dict[str, float]:
    """One whole search in a fresh copy of the workflow, with warm start on or off."""
    work = workflow_copy("nasrl-overhead-")
    experiment = yaml.safe_load((work / args.configfile).read_text())["experiment"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "NASRL_WARM_START": "1" if warm else "0"}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--cores", str(args.cores),
                    "--configfile", args.configfile, "--quiet"], cwd=work, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - start

    logs, results = work / "logs" / experiment, work / "results" / experiment
    training, training_jobs, fixed = [], [], []
    for bench in (logs / "children").glob("*.benchmark.tsv"):
        key = bench.name.split(".")[0]
        seconds = json.loads((results / "children" / key / "metrics.json").read_text())["seconds"]
        training.append(seconds)
        training_jobs.append(job_seconds(bench))
        fixed.append(training_jobs[-1] - seconds)
    children = len(fixed)
    for bench in (logs / "final").glob("retrain_*.benchmark.tsv"):
        run = bench.name[len("retrain_"):].split(".")[0]
        training.append(json.loads((results / "final" / "runs" / run / "metrics.json").read_text())["seconds"])
        training_jobs.append(job_seconds(bench))
    controller = sum(job_seconds(p) for pattern in CONTROLLER_STEPS for p in logs.glob(f"{pattern}.benchmark.tsv"))
    history = pd.read_parquet(results / "history.parquet")
    return {"wall": wall, "children": children, "final runs": len(training) - children,
            "training / cores": sum(training) / args.cores, "job wall / cores": sum(training_jobs) / args.cores,
            "controller steps (serial)": controller,
            "wall / ideal (training)": wall / (sum(training) / args.cores + controller),
            "wall / ideal (jobs)": wall / (sum(training_jobs) / args.cores + controller),
            "per-child fixed cost (median)": statistics.median(fixed),
            "child job wall (median)": statistics.median(training_jobs[:children]),
            "child training (median)": statistics.median(training[:children]),
            "mean reward by round": " ".join(f"{v:.2f}" for v in history.groupby("round")["reward"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--pairs", type=int, default=1, help="runs of each setting, alternated")
    args = parser.parse_args()
    runs = {"warm start off": [], "warm start on": []}
    for _ in range(args.pairs):  # alternated, so that both see the same machine load
        runs["warm start off"].append(measure(args, warm=False))
        runs["warm start on"].append(measure(args, warm=True))
    print(f"{args.configfile}, --cores {args.cores}, {args.pairs} run(s) of each, medians:")
    print(f"  {'':32s} {'warm start off':>16s} {'warm start on':>16s}")
    for name in runs["warm start off"][0]:
        cells = []
        for setting in runs:
            values = [run[name] for run in runs[setting]]
            cells.append(values[0] if isinstance(values[0], str) else f"{statistics.median(values):.2f}")
        print(f"  {name:32s} {cells[0]:>16s} {cells[1]:>16s}")
    off, on = (statistics.median(run["wall"] for run in runs[s]) for s in runs)
    print(f"  wall time ratio on / off: {on / off:.2f}")


if __name__ == "__main__":
    main()
