"""Does REINFORCE keep its search quality with asynchronous replicas, at equal samples?

Runs `nasrl bench`'s code path (``run_bench``) on the bundled NAS-Bench-Macro table, budget in
samples (m = 8 per replica batch), for each arm over the same seeds (S .. S + repeats - 1):

- ``K=1,s=0``: the synchronous search, the baseline;
- ``rounds K=10,s=1``: rounds of 10 replica batches, sampled from controller r - 1;
- ``async K=10`` and ``async K=50``: asynchronous replicas (``updates="async"``), each batch's
  update applied to the newest controller as soon as its slowest child ends, the children's
  durations log-normal with spread --sigma (0.70: the spread ``nasrl plan-cluster`` assumes),
  seeded from each repeat's seed;
- ``random``: random search at the same seeds, the floor.

Each REINFORCE arm runs with the command's default (paper) controller (lr 0.01, baseline decay
0.95, no entropy bonus) and with config/controller-small-budget.yaml's search.controller
section. The search is rewarded with one seed's test accuracy (test_acc_seed0); reported is the
table's 3-seed mean test accuracy (mean_test_acc) of the top-15 unique architectures by reward
(Zoph & Le 2017 Fig. 6), mean ± standard error over the repeats, at each of --budgets (prefixes
of the largest budget, in the order the controller was told the samples). The difference to
K=1,s=0 of the same controller is given in standard errors of the difference: the repeats share
their seeds, so it is paired, sd(per-repeat difference) / sqrt(repeats). "within 1 SE" means a
difference of -1 SE or better: the goal is async's quality within one standard error of K=1,s=0.

    python benchmarks/studies/async_quality.py [--repeats 80] [--seed 0] [--budgets 400 800] \\
        [--sigma 0.70] [--controllers paper small-budget] [--workers 2] [--out results/async-quality.json]

Ran 2026-12-05 with the defaults (80 repeats, 2 workers on a shared 2-core machine: 2,929 s CPU);
the figures are in docs/scaling.md, "Search quality of async replicas".
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from multiprocessing import Pool
from pathlib import Path

import torch
import yaml

from nasrl.search.bench import ResultsTable, run_bench, summarize
from nasrl.spaces.presets import preset_space

ROOT = Path(__file__).resolve().parents[2]
TABLE = "nasrl:nas-bench-macro-cifar10.csv"  # shipped with the package (nasrl.tables)
METRIC = "top15_unique_report"
PAPER = {"lr": 0.01, "baseline_decay": 0.95, "entropy_weight": 0.0}  # `nasrl bench`'s defaults
# arm -> (strategy, updates, K, s); the first is the baseline
ARMS = {
    "K=1,s=0": ("reinforce", "rounds", 1, 0),
    "rounds K=10,s=1": ("reinforce", "rounds", 10, 1),
    "async K=10": ("reinforce", "async", 10, 0),
    "async K=50": ("reinforce", "async", 50, 0),
}
BASELINE = "K=1,s=0"
CHUNK = 10  # repeats per job: the pool stays balanced


def controllers() -> dict[str, dict]:
    small = yaml.safe_load((ROOT / "config" / "controller-small-budget.yaml").read_text(encoding="utf-8"))
    return {"paper": PAPER, "small-budget": {**PAPER, **small["search"]["controller"]}}


def run_job(job: tuple) -> tuple[str, str, dict, float]:
    """One arm of one controller over repeats [seed, seed + repeats): per-budget lists of the metric."""
    controller, arm, config, strategy_updates, replicas, staleness, seed, repeats, budgets, sigma = job
    torch.set_num_threads(1)  # the controller is tiny; one process per core
    strategy, updates = strategy_updates
    table = ResultsTable(TABLE, "arch", "test_acc_seed0", "mean_test_acc")
    start = time.process_time()
    curves, _ = run_bench(preset_space("nas_bench_macro"), table, [], max(budgets), repeats, seed=seed,
                          batch_size=8, replicas=replicas, staleness=staleness, updates=updates,
                          duration_sigma=sigma, labels={arm: (strategy, config)})
    values: dict[int, dict[int, float]] = {b: {} for b in budgets}
    unique: dict[int, dict[int, float]] = {b: {} for b in budgets}
    for repeat, run in curves.groupby("repeat"):
        for b in budgets:
            stats = summarize(run, table, b)[arm]
            values[b][seed + repeat] = stats[METRIC]["mean"]
            unique[b][seed + repeat] = stats["unique_fraction"]["mean"]
    return controller, arm, {"values": values, "unique": unique}, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=[400, 800])
    parser.add_argument("--sigma", type=float, default=0.70, help="async: spread of the children's durations")
    parser.add_argument("--controllers", nargs="+", choices=["paper", "small-budget"], default=["paper", "small-budget"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the per-repeat figures as JSON here")
    args = parser.parse_args()
    budgets = sorted(set(args.budgets))
    configs = controllers()

    jobs = []
    for controller in args.controllers:
        for arm, (strategy, updates, k, s) in ARMS.items():
            for first in range(args.seed, args.seed + args.repeats, CHUNK):
                n = min(CHUNK, args.seed + args.repeats - first)
                jobs.append((controller, arm, configs[controller], (strategy, updates), k, s, first, n, budgets,
                             args.sigma))
    for first in range(args.seed, args.seed + args.repeats, CHUNK):
        n = min(CHUNK, args.seed + args.repeats - first)
        jobs.append(("-", "random", None, ("random", "rounds"), 1, 0, first, n, budgets, args.sigma))
    jobs.sort(key=lambda j: j[0] != "small-budget")  # the slow controller first: the pool ends together

    start = time.perf_counter()
    results: dict[tuple[str, str], dict] = {}
    cpu = 0.0
    with Pool(args.workers) as pool:
        for controller, arm, part, seconds in pool.imap_unordered(run_job, jobs):
            into = results.setdefault((controller, arm), {"values": {b: {} for b in budgets},
                                                          "unique": {b: {} for b in budgets}})
            for key in ("values", "unique"):
                for b in budgets:
                    into[key][b].update(part[key][b])
            cpu += seconds
            print(f"  {controller} {arm} seeds {min(part['values'][budgets[0]])}+: {seconds:.0f} s", flush=True)
    wall = time.perf_counter() - start

    n = args.repeats
    print(f"\nNAS-Bench-Macro, budget in samples, m = 8, {n} repeats (seeds {args.seed}-{args.seed + n - 1}), async "
          f"durations log-normal sigma {args.sigma}; 3-seed mean test accuracy (%) of the top-15 unique "
          f"architectures by reward, mean ± SE over repeats; difference to K=1,s=0 of the same controller in "
          f"paired SEs of the difference; {wall:.0f} s wall, {cpu:.0f} s CPU, {args.workers} workers\n")
    print("| controller | arm | samples | top-15 | diff to K=1,s=0 | diff / SE | within 1 SE | unique |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    order = [(c, arm) for c in args.controllers for arm in ARMS] + [("-", "random")]
    for b in budgets:
        for controller, arm in order:
            values = [results[(controller, arm)]["values"][b][s] for s in sorted(results[(controller, arm)]["values"][b])]
            mean, se = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
            unique = statistics.fmean(results[(controller, arm)]["unique"][b].values())
            row = {"controller": controller, "arm": arm, "samples": b, "mean": mean, "se": se, "unique": unique}
            cells = ["baseline", "", ""]
            base_key = (controller if controller != "-" else args.controllers[0], BASELINE)
            if (controller, arm) != base_key:
                base = results[base_key]["values"][b]
                diffs = [results[(controller, arm)]["values"][b][s] - base[s] for s in sorted(base)]
                diff, diff_se = statistics.fmean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs))
                z = diff / diff_se if diff_se > 0 else 0.0
                row.update({"diff": diff, "diff_se": diff_se, "z": z, "within_1_se": z >= -1})
                cells = [f"{diff:+.3f} ± {diff_se:.3f}", f"{z:+.1f}", "yes" if z >= -1 else "no"]
                if controller == "-":
                    cells[2] = f"(floor; vs {base_key[0]})"
            rows.append(row)
            print(f"| {controller} | {arm} | {b} | {mean:.3f} ± {se:.3f} | {' | '.join(cells)} | {unique:.0%} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "table": TABLE, "reward_column": "test_acc_seed0", "report_column": "mean_test_acc", "metric": METRIC,
            "repeats": n, "seed": args.seed, "budgets": budgets, "sigma": args.sigma, "batch_size": 8,
            "controllers": {c: configs[c] for c in args.controllers}, "wall_s": wall, "cpu_s": cpu, "rows": rows,
            "per_repeat": {f"{c}/{arm}": {str(b): r["values"][b] for b in budgets} for (c, arm), r in results.items()},
        }, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
