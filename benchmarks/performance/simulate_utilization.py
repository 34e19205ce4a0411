"""Slot utilization of the search's scheduling against its physical limit, by simulation.

    python benchmarks/performance/simulate_utilization.py [--seeds 10] [--children 12800] \
        [--slots 64 256 1024] [--sigma 0.703 0.45 0.32] [--json OUT]

The simulation is nasrl.planning (what `nasrl plan-cluster` runs): children with log-normal
durations (median 1 h) on N slots, the controller steps on the submit host, Snakemake's
re-plans and status polls, and the profile's job cap (`jobs: 2000`, Snakemake picking any
waiting child). For each spread and slot count, over seeds 0 .. SEEDS-1, it prints:

- the limit: the same children with no dependencies at all (nasrl.planning.limit);
- in-order rounds (what the workflow runs): the best (K, s) of the planner's grid, the one it
  recommends, and the paper preset's K = 100, s = 1; each also without the job cap;
- async replicas (search.updates async: updates in completion order, the paper's Sec. 3.3,
  each replica a fixed chain of batches): the best K of the grid;
with mean ± sd of the utilization, the mean and largest staleness in updates and the share of
children sampled by the initial controller. Then the planner on the slot counts the paper
presets state, the earlier one-seed figure of docs/scaling.md over the seeds, and the limit
of the real pipeline's measured row (docs/scaling.md, Measured on the real pipeline).

The tables of the script before nasrl.planning (one seed, no job cap, the earlier tables
of docs/scaling.md) come from `git show c465d91:benchmarks/performance/simulate_utilization.py`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import asdict, replace

from nasrl.planning.candidates import (Candidate, Summary, best_of, candidate_grid, evaluate, limit_over_seeds,
                                       recommend)
from nasrl.planning.costs import SchedulingCosts
from nasrl.planning.durations import ASSUMED_SIGMA, MEASURED_SIGMAS

PRESET = Candidate("rounds", 100, 1)  # config/cifar10-paper.yaml: K = 100, s = 1
# The slots the paper presets state: (name, slots, children, m, their K and s)
PRESETS = (("cifar10-paper (Sec. 4.1: 800 GPUs)", 800, 12_800, 8, Candidate("rounds", 100, 1)),
           ("ptb-paper (Sec. 4.2: 400 GPUs)", 400, 20_000, 10, Candidate("rounds", 40, 1)))
NO_CAP = replace(SchedulingCosts(), job_cap=None)


def cell(x: Summary) -> str:
    return (f"{x.candidate.label()}: {x.utilization:.1%} ± {x.utilization_sd * 100:.1f} "
            f"({x.of_limit:.0%} of limit); staleness {x.mean_staleness:.0f} / {x.max_staleness}; "
            f"initial {x.initial_share:.0%}")


def against_limit(slots: int, children: int, sigma: float, seeds: int) -> dict:
    grid = [evaluate(c, slots, children, sigma, seeds) for c in candidate_grid(slots, children)]
    best, pick, fast = best_of(grid, "rounds"), recommend(grid, "rounds"), best_of(grid, "async")
    preset = evaluate(PRESET, slots, children, sigma, seeds)
    limit, limit_sd = limit_over_seeds(slots, children, sigma, seeds)
    uncapped = {name: evaluate(x.candidate, slots, children, sigma, seeds, NO_CAP)
                for name, x in (("best", best), ("recommended", pick), ("preset", preset), ("async", fast))}
    return {"slots": slots, "sigma": sigma, "limit": limit, "limit_sd": limit_sd, "best": best,
            "recommended": pick, "preset": preset, "async": fast, "uncapped": uncapped, "grid": grid}


def table(results: list[dict]) -> str:
    head = ("| sigma | slots | limit | rounds, best of the grid | rounds, recommended | rounds, preset K = 100, s = 1 "
            "| async, best K | without the job cap: best / recommended / preset / async |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        free = r["uncapped"]
        lines.append(f"| {r['sigma']:g} | {r['slots']:,} | {r['limit']:.1%} ± {r['limit_sd'] * 100:.1f} "
                     f"| {cell(r['best'])} | {cell(r['recommended'])} | {cell(r['preset'])} | {cell(r['async'])} "
                     f"| {free['best'].utilization:.1%} / {free['recommended'].utilization:.1%} / "
                     f"{free['preset'].utilization:.1%} / {free['async'].utilization:.1%} |")
    return "\n".join(lines)


def presets_table(seeds: int, sigma: float) -> tuple[str, list]:
    head = ("| preset | slots | children | m | limit | as configured | recommended (rounds) | best rounds "
            "| async, best K |")
    lines, rows = [head, "|" + "---|" * (head.count("|") - 1)], []
    for name, slots, children, m, configured in PRESETS:
        now = evaluate(configured, slots, children, sigma, seeds, m=m)
        grid = [evaluate(c, slots, children, sigma, seeds, m=m) for c in candidate_grid(slots, children, m)]
        limit, limit_sd = limit_over_seeds(slots, children, sigma, seeds)
        pick, best, fast = recommend(grid, "rounds"), best_of(grid, "rounds"), best_of(grid, "async")
        rows.append({"preset": name, "slots": slots, "children": children, "m": m, "limit": limit, "configured": asdict(now),
                     "recommended": asdict(pick), "best": asdict(best), "async": asdict(fast)})
        lines.append(f"| {name} | {slots} | {children:,} | {m} | {limit:.1%} ± {limit_sd * 100:.1f} "
                     f"| {cell(now)} | {cell(pick)} | {cell(best)} | {cell(fast)} |")
    return "\n".join(lines), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--children", type=int, default=12_800)
    parser.add_argument("--slots", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--sigma", type=float, nargs="+", default=[ASSUMED_SIGMA, *MEASURED_SIGMAS])
    parser.add_argument("--json", metavar="OUT", help="write every summary to OUT")
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"$ python {' '.join(sys.argv)}  ({datetime.date.today()})\n")
    print(f"{args.children:,} children, median 1 h, seeds 0-{args.seeds - 1}; job cap 2000, any order; "
          "staleness: mean / max updates; initial: children sampled by the initial controller\n")
    results = [against_limit(slots, args.children, sigma, args.seeds) for sigma in args.sigma for slots in args.slots]
    print(table(results))
    print(f"\nThe paper presets' slot counts (sigma {ASSUMED_SIGMA}):\n")
    text, preset_rows = presets_table(args.seeds, ASSUMED_SIGMA)
    print(text)
    old = evaluate(Candidate("rounds", 128, 8), 1024, 24_576, ASSUMED_SIGMA, args.seeds, NO_CAP)
    old_cap = evaluate(Candidate("rounds", 128, 8), 1024, 24_576, ASSUMED_SIGMA, args.seeds)
    print(f"\n1,024 slots, K = 128, s = 8, 24,576 children (docs/scaling.md's one-seed 70.7%): "
          f"{old.utilization:.1%} ± {old.utilization_sd * 100:.1f} without the job cap, "
          f"{old_cap.utilization:.1%} ± {old_cap.utilization_sd * 100:.1f} with it; limit {old.limit:.1%}")
    # The real pipeline's row: 32 local slots, 6 rounds of K = 8 x m = 8 (384 sampled, 351 trained),
    # surrogate children of median 10 s and sigma 0.7, measured at 50.0%.
    real, real_sd = limit_over_seeds(32, 351, 0.7, args.seeds, median=10.0)
    print(f"limit of the real pipeline's measured row (32 slots, 351 children, median 10 s, sigma 0.7): "
          f"{real:.1%} ± {real_sd * 100:.1f}; measured 50.0% = {0.5 / real:.0%} of it")
    print(f"\n({time.perf_counter() - began:.0f} s)")
    if args.json:
        def plain(r):
            return {k: (asdict(v) if isinstance(v, Summary) else {n: asdict(w) for n, w in v.items()}
                        if isinstance(v, dict) else [asdict(w) for w in v] if isinstance(v, list) else v)
                    for k, v in r.items()}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"against_limit": [plain(r) for r in results], "presets": preset_rows,
                       "old_70_7": {"uncapped": asdict(old), "capped": asdict(old_cap)},
                       "real_pipeline_limit": [real, real_sd]}, f, indent=1)


if __name__ == "__main__":
    main()
