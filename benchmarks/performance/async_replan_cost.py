"""Snakemake's own cost for asynchronous replicas against in-order rounds, with no training.

    python benchmarks/performance/async_replan_cost.py [--replicas 100] [--m 8] [--steps 2] [--cores 2]

Runs the real workflow twice in temporary copies, on surrogate children of NAS-Bench-Macro that
do not wait (rewards looked up, no sleep), tracking off: once as ``search.updates: rounds``
(``--steps`` rounds of K x m children, staleness 0) and once as ``async`` (K replica chains of
``--steps`` batches of m). Both train the same number of children; async has one sampling
checkpoint per batch (K x steps) where rounds have one per round, so its extra wall time per
batch is what a re-plan after a checkpoint costs Snakemake at this size. Prints the wall time of
each, per child and per checkpoint, and the ratio.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import workflow_copy  # noqa: E402


def config(updates: str, replicas: int, m: int, steps: int) -> dict:
    return {
        "experiment": "replan",
        "search": {"space": "nas_bench_macro", "strategy": "reinforce", "seed": 0, "rounds": steps,
                   "children_per_round": m, "replicas": replicas, "staleness": 0, "updates": updates,
                   "controller": {"lr": 0.01}},
        "child": {"seed": 0, "threads": 1, "early_stopping": {"enabled": False}, "surrogate": {
            "table": "nasrl:nas-bench-macro-cifar10.csv", "key_column": "arch",
            "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}", "reward_column": "test_acc_seed0"}},
        "final": {"top_k": 1, "grid": {"lr": [0.1]}},
        "tracking": {"enabled": False},
    }


def run(updates: str, args) -> dict:
    work = workflow_copy(f"nasrl-replan-{updates}-")
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config(updates, args.replicas, args.m, args.steps)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.time()
    done = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--cores", str(args.cores)],
                          cwd=work, env=env, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"snakemake ({updates}) failed in {work}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    trained = len(list((work / "results" / "replan" / "children").glob("*/metrics.json")))
    return {"updates": updates, "wall": wall, "trained": trained, "work": str(work)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--m", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    print(f"$ python {' '.join(sys.argv)}  ({datetime.date.today()})")
    rows = [run("rounds", args), run("async", args)]
    checkpoints = {"rounds": args.steps, "async": args.steps * args.replicas}
    print("| updates | sampling checkpoints | children trained | wall s | s per trained child |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['updates']} | {checkpoints[r['updates']]} | {r['trained']} | {r['wall']:.0f} | "
              f"{r['wall'] / r['trained']:.3f} |")
    extra = rows[1]["wall"] - rows[0]["wall"]
    print(f"async / rounds wall: {rows[1]['wall'] / rows[0]['wall']:.2f}; extra per async checkpoint: "
          f"{extra / (checkpoints['async'] - checkpoints['rounds']):.2f} s")


if __name__ == "__main__":
    main()
