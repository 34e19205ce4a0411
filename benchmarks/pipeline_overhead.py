"""Scheduling overhead of a whole search on the default config (`snakemake --cores N`).

    python benchmarks/pipeline_overhead.py [--cores 2] [--configfile config/config.yaml]

Runs the workflow in a temporary copy and compares its wall time with two ideals built from
the per-job `benchmark:` files and each child's metrics.json:

- ideal (training): the children's and final runs' training seconds (inside train_child)
  spread over the cores, plus the controller steps, which run one after another;
- ideal (jobs): the same with each training job's whole wall time (process start and imports
  included), which isolates Snakemake's own scheduling cost.

The per-child fixed cost is a child job's wall time minus its training seconds.
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

from common import workflow_copy  # benchmarks/common.py

import yaml

CONTROLLER_STEPS = ("controller/init", "rounds/*/sample", "rounds/*/collect", "controller/update_*",
                    "summarize", "final/select_top", "report")


def job_seconds(path: Path) -> float:
    with open(path) as f:
        return float(next(csv.DictReader(f, delimiter="\t"))["s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args()
    work = workflow_copy("nasrl-overhead-")
    experiment = yaml.safe_load((work / args.configfile).read_text())["experiment"]
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--cores", str(args.cores),
                    "--configfile", args.configfile, "--quiet"], cwd=work, check=True,
                   env={**os.environ, "PATH": env_path}, capture_output=True)
    wall = time.perf_counter() - start

    logs, results = work / "logs" / experiment, work / "results" / experiment
    training, training_jobs, fixed = [], [], []
    for bench in (logs / "children").glob("*.benchmark.tsv"):
        key = bench.name.split(".")[0]
        seconds = json.loads((results / "children" / key / "metrics.json").read_text())["seconds"]
        training.append(seconds)
        training_jobs.append(job_seconds(bench))
        fixed.append(training_jobs[-1] - seconds)
    for bench in (logs / "final").glob("retrain_*.benchmark.tsv"):
        run = bench.name[len("retrain_"):].split(".")[0]
        training.append(json.loads((results / "final" / "runs" / run / "metrics.json").read_text())["seconds"])
        training_jobs.append(job_seconds(bench))
    controller = sum(job_seconds(p) for pattern in CONTROLLER_STEPS for p in logs.glob(f"{pattern}.benchmark.tsv"))
    ideal_training = sum(training) / args.cores + controller
    ideal_jobs = sum(training_jobs) / args.cores + controller
    print(f"{args.configfile}, --cores {args.cores}: {len(fixed)} children, {len(training) - len(fixed)} final runs")
    print(f"  wall time                                   {wall:7.1f} s")
    print(f"  training seconds / cores                    {sum(training) / args.cores:7.1f} s")
    print(f"  training job wall / cores                   {sum(training_jobs) / args.cores:7.1f} s")
    print(f"  controller steps (serial)                   {controller:7.1f} s")
    print(f"  wall / ideal (training)                     {wall / ideal_training:7.2f}")
    print(f"  wall / ideal (jobs): Snakemake's own cost   {wall / ideal_jobs:7.2f}")
    print(f"  per-child fixed cost: median {statistics.median(fixed):.1f} s "
          f"(job wall {statistics.median(training_jobs[:len(fixed)]):.1f} s, training {statistics.median(training[:len(fixed)]):.1f} s)")


if __name__ == "__main__":
    main()
