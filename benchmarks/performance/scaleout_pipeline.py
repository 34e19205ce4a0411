"""Slot utilization of the real pipeline with surrogate children, by replicas K and staleness s.

    python benchmarks/performance/scaleout_pipeline.py [--slots 8 32] [--median 10] [--rounds 12] [--out FILE]

Each configuration runs `snakemake` in a temporary copy of the workflow with N training slots
(`--resources gpu=N`, every train_child asking one) on the NAS-Bench-Macro surrogate: a child
looks its reward up in the shipped table and sleeps a time proportional to its FLOPs with a
log-normal spread (sigma 0.7: the slowest of 8 children is about 3x the median, as for real
children of different depths and widths). The controller steps are the real ones (sample,
collect, update: each a process that imports torch). Utilization = the children's busy
seconds / (N x the span from the first child's start to the last child's end)
(benchmarks/performance/utilization.py). Tracking is off: this measures scheduling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import workflow_copy  # noqa: E402
from utilization import slot_utilization  # benchmarks/performance/utilization.py

MEDIAN_FLOPS = 5.54e7  # NAS-Bench-Macro's median FLOPs: seconds_per_unit = median seconds / this
CONTROLLER_STEPS = ("rounds/*/sample", "rounds/*/collect", "controller/update_*",  # search.updates rounds
                    "batches/*/sample", "batches/*/apply")  # search.updates async


def controller_seconds(work: Path) -> float:
    """Wall seconds of every round's sample, collect and update jobs (their benchmark files):
    the controller's own cost, which staleness moves off the critical path."""
    total = 0.0
    for pattern in CONTROLLER_STEPS:
        for path in (work / "logs" / "scaleout").glob(f"{pattern}.benchmark.tsv"):
            total += float(path.read_text().splitlines()[1].split("\t")[0])
    return total


def config(rounds: int, m: int, replicas: int, staleness: int, median: float, sigma: float,
           updates: str = "rounds") -> dict:
    return {
        "experiment": "scaleout",
        "search": {"space": "nas_bench_macro", "strategy": "reinforce", "seed": 0, "rounds": rounds,
                   "children_per_round": m, "replicas": replicas, "staleness": staleness, "updates": updates,
                   "controller": {"lr": 0.01}},
        "child": {"seed": 0, "threads": 1, "surrogate": {
            "table": "nasrl:nas-bench-macro-cifar10.csv", "key_column": "arch",
            "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}", "reward_column": "test_acc_seed0",
            "seconds_column": "flops", "seconds_per_unit": median / MEDIAN_FLOPS, "seconds_jitter": sigma}},
        "final": {"top_k": 1, "grid": {"lr": [0.1]}},
        "tracking": {"enabled": False},
    }


def run(slots: int, replicas: int, staleness: int, args, updates: str = "rounds") -> dict:
    """One configuration; ``updates`` async runs K replica chains of ``args.rounds`` batches."""
    work = workflow_copy("nasrl-scaleout-")
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(
        config(args.rounds, args.m, replicas, staleness, args.median, args.sigma, updates)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.time()
    done = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--cores", str(slots + 4),
                           "--resources", f"gpu={slots}", "--set-resources", "train_child:gpu=1"],
                          cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"snakemake failed in {work}:\n{done.stderr[-3000:]}")
    result = slot_utilization(work / "results" / "scaleout" / "children", slots)
    result.update(slots=slots, K=replicas, m=args.m, s=staleness, updates=updates, rounds=args.rounds, wall_seconds=time.time() - started,
                  controller_seconds_per_round=controller_seconds(work) / args.rounds, workdir=str(work))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--staleness", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--extra", nargs="*", default=["32:8:2", "32:4:8"],
                        help="more N:K:s configurations (default: the two the simulation puts at >= 90%% for N = 32)")
    parser.add_argument("--m", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--median", type=float, default=10.0, help="median child seconds (default: 10)")
    parser.add_argument("--sigma", type=float, default=0.7, help="log-normal spread of child seconds (default: 0.7)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    grid = [(n, max(1, n // args.m), s) for n in args.slots for s in args.staleness]
    grid += [tuple(int(v) for v in item.split(":")) for item in args.extra]
    results = []
    print("| slots N | K | m | s | children trained | utilization | most at once | controller s/round | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for slots, replicas, staleness in grid:
        r = run(slots, replicas, staleness, args)
        results.append(r)
        print(f"| {slots} | {replicas} | {args.m} | {staleness} | {r['children']} | {r['utilization']:.1%} | "
              f"{r['max_concurrent']} | {r['controller_seconds_per_round']:.1f} | {r['wall_seconds']:.0f} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
