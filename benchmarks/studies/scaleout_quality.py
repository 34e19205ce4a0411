"""Does REINFORCE's search quality survive controller replicas (K) and staleness (s)?

Runs `nasrl bench`'s code path (``run_bench``) on the bundled NAS-Bench-Macro table with the
command's default REINFORCE settings (m = 8 per replica batch, lr 0.01, baseline decay 0.95,
no entropy bonus) for each (K, s) in CONFIGS, over the same seeds (0..repeats-1), to the
largest budget with the smaller budgets summarised on the way (``eval_at``). A round samples
K batches of m from controller r - s, then applies K updates, each gradient taken at the
sampling parameters (see ``nasrl.search.rounds``). The search is rewarded with one seed's
accuracy (test_acc_seed0); the report column is the 3-seed mean test accuracy.

Prints a Markdown table: mean +- sd over repeats of the report column of the top-1/5/15
unique architectures found, the standard error of top-15 (sd / sqrt(repeats)), and whether
the configuration's top-15 is within one *combined* standard error of the synchronous
baseline's (K = 1, s = 0) or better: mean >= baseline mean - sqrt(se^2 + se_baseline^2).
Random search at the same budgets and seeds is the floor. Configurations run in a process
pool (2 workers, one torch thread each).

    python benchmarks/studies/scaleout_quality.py [--repeats 20] [--budget 800 3200] [--workers 2] \
        [--out results/scaleout-quality.json]

Ran 2026-11-30 with the defaults (20 repeats, budgets 800 and 3200, 2 workers, niced on a
shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from multiprocessing import Pool
from pathlib import Path

import torch

from nasrl.cli import build_parser
from nasrl.search.bench import ResultsTable, run_bench
from nasrl.spaces.presets import preset_space

# (K replicas, s staleness); the first is the synchronous baseline.
CONFIGS = [(1, 0), (10, 0), (10, 1), (10, 2), (100, 0), (100, 1), (100, 2), (1, 16), (1, 128)]
METRICS = ("top1_unique_report", "top5_unique_report", "top15_unique_report")


def _defaults() -> argparse.Namespace:
    return build_parser().parse_args(["bench", "--space", "-", "--table", "-", "--key-column", "-",
                                      "--reward-column", "-", "--budget", "1", "--out", "-"])


def _run(job: tuple[str, int, int, list[int], int, int]) -> dict:
    """One configuration (strategy, K, s) over all repeats; returns its summary and wall time."""
    strategy, replicas, staleness, budgets, repeats, seed = job
    torch.set_num_threads(1)
    defaults = _defaults()
    config = {"lr": defaults.lr, "baseline_decay": defaults.baseline_decay, "entropy_weight": defaults.entropy_weight}
    space = preset_space("nas_bench_macro")
    table = ResultsTable("nasrl:nas-bench-macro-cifar10.csv", "arch", "test_acc_seed0", "mean_test_acc")
    start = time.perf_counter()
    _, summary = run_bench(space, table, [strategy], max(budgets), repeats, seed=seed, batch_size=defaults.batch_size,
                           reinforce_config=config, eval_at=budgets, replicas=replicas, staleness=staleness)
    seconds = time.perf_counter() - start
    return {"strategy": strategy, "replicas": replicas, "staleness": staleness, "seconds": seconds,
            "samples_per_s": repeats * max(budgets) / seconds,
            "at_step": {step: by[strategy] for step, by in summary["at_step"].items()},
            "batch_size": summary["batch_size"], "reinforce": summary["reinforce"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, nargs="+", default=[800, 3200])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/scaleout-quality.json"))
    args = parser.parse_args()
    budgets = sorted(set(args.budget))

    jobs = [("reinforce", k, s, budgets, args.repeats, args.seed) for k, s in CONFIGS]
    jobs.append(("random", 1, 0, budgets, args.repeats, args.seed))
    order = jobs  # REINFORCE configurations cost about the same; random (cheap) goes last
    start = time.perf_counter()
    with Pool(args.workers) as pool:
        results = pool.map(_run, order, chunksize=1)
    wall = time.perf_counter() - start
    by_config = {(r["strategy"], r["replicas"], r["staleness"]): r for r in results}

    n = args.repeats
    defaults = _defaults()
    print(f"NAS-Bench-Macro, {n} repeats (seeds {args.seed}..{args.seed + n - 1}), REINFORCE m={defaults.batch_size} "
          f"lr={defaults.lr} baseline decay={defaults.baseline_decay}; mean 3-seed test accuracy (%) of the "
          f"top-k unique architectures found, mean ± sd over repeats; se = sd/√{n}. 'yes' = top-15 mean ≥ "
          f"baseline (K=1, s=0) mean − √(se² + se_baseline²). Wall time {wall:.0f} s, {args.workers} workers.\n")
    print("| strategy | K | s | budget | top-1 | top-5 | top-15 | se(top-15) | within 1 combined se of baseline |"
          " unique | s/config |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for budget in budgets:
        base = by_config[("reinforce", 1, 0)]["at_step"][str(budget)]["top15_unique_report"]
        base_se = base["std"] / math.sqrt(n)
        for strategy, k, s in [("reinforce", k, s) for k, s in CONFIGS] + [("random", 1, 0)]:
            result = by_config[(strategy, k, s)]
            stats = result["at_step"][str(budget)]
            top15 = stats["top15_unique_report"]
            se = top15["std"] / math.sqrt(n)
            combined = math.sqrt(se**2 + base_se**2)
            diff = top15["mean"] - base["mean"]
            within = diff >= -combined
            rows.append({"strategy": strategy, "replicas": k, "staleness": s, "budget": budget,
                         **{m: stats[m] for m in METRICS}, "top15_se": se, "diff_vs_baseline": diff,
                         "combined_se": combined, "within_one_se_of_baseline": within,
                         "unique_fraction": stats["unique_fraction"]["mean"]})
            cells = [f"{stats[m]['mean']:.2f} ± {stats[m]['std']:.2f}" for m in METRICS]
            verdict = "baseline" if (strategy, k, s) == ("reinforce", 1, 0) else \
                f"{'yes' if within else 'no'} ({diff:+.2f}, 1 se {combined:.2f})"
            name = strategy if strategy == "reinforce" else "random (floor)"
            ks = (str(k), str(s)) if strategy == "reinforce" else ("–", "–")
            print(f"| {name} | {ks[0]} | {ks[1]} | {budget} | {' | '.join(cells)} | {se:.2f} | {verdict} | "
                  f"{stats['unique_fraction']['mean']:.0%} | {result['seconds']:.0f} |")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "table": "nasrl:nas-bench-macro-cifar10.csv", "reward_column": "test_acc_seed0",
        "report_column": "mean_test_acc", "repeats": n, "seed": args.seed, "budgets": budgets,
        "batch_size": defaults.batch_size, "workers": args.workers, "wall_s": wall,
        "comparison": "within = top15 mean >= baseline mean - sqrt(se^2 + se_baseline^2), se = sd/sqrt(repeats)",
        "rows": rows, "runs": results}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
