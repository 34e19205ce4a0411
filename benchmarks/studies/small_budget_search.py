"""Search strategies at small budgets counted in trainings, on NAS-Bench-Macro (no training).

Every variant (a strategy and its settings) runs --repeats searches (seeds S, S+1, ...) until
it has trained --budget distinct children (repeats are free, as in the pipeline), through
`nasrl bench`'s code path; the top-1/5/15 unique architectures by reward (one seed's test
accuracy, test_acc_seed0) are reported by the table's 3-seed mean test accuracy, mean ± sd over
the repeats, at each of --budgets (the prefixes of the largest budget). The default variants:
random search, regularized evolution, the paper's controller setting and the small-budget
controller setting (benchmarks/studies/small_budget_variants.yaml); --variants FILE measures others
(benchmarks/studies/small_budget_candidates.yaml, small_budget_candidates_search.yaml and
small_budget_candidates_replay.yaml: the candidates the defaults were chosen from).

    python benchmarks/studies/small_budget_search.py [--repeats 50] [--seed 0] [--budgets 50 100 300 500]
        [--variants FILE] [--workers 2] [--out results/small-budget]

The settings were chosen on seeds 1000 and up (the candidate files name their seeds); the figures
in docs/benchmarks.md come from seeds 0-49, on which nothing was chosen.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from multiprocessing import Pool
from pathlib import Path

import torch
import yaml

from nasrl.search.bench import ResultsTable, run_bench
from nasrl.spaces.presets import preset_space

HERE = Path(__file__).parent
TABLE = "nasrl:nas-bench-macro-cifar10.csv"  # shipped with the package (nasrl.tables)
METRICS = ("top1_unique_report", "top5_unique_report", "top15_unique_report")


def run_variant(job: tuple[str, dict, int, int, list[int], int]) -> tuple[str, dict, float]:
    label, variant, seed, repeats, budgets, max_samples = job
    torch.set_num_threads(1)  # the controller is tiny; one process per core
    table = ResultsTable(TABLE, "arch", "test_acc_seed0", "mean_test_acc")
    start = time.process_time()
    _, summary = run_bench(preset_space("nas_bench_macro"), table, [], max(budgets), repeats, seed=seed,
                           batch_size=int(variant.get("batch_size", 8)), eval_at=budgets, budget_unit="trainings",
                           max_samples=max_samples, labels={label: (variant["strategy"], variant.get("config"))})
    return label, {b: summary["at_step"][str(b)][label] for b in budgets}, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 300, 500])
    parser.add_argument("--variants", type=Path, default=HERE / "small_budget_variants.yaml")
    parser.add_argument("--only", nargs="+", help="run only these variants of the file")
    parser.add_argument("--max-samples", type=int, help="stop a search after this many samples (default: 20 x budget)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    variants = yaml.safe_load(args.variants.read_text(encoding="utf-8"))
    if args.only:
        variants = {label: variants[label] for label in args.only}
    jobs = [(label, v, args.seed, args.repeats, sorted(args.budgets), args.max_samples) for label, v in variants.items()]
    start = time.perf_counter()
    results, cpu = {}, 0.0
    with Pool(min(args.workers, len(jobs))) as pool:
        for label, stats, seconds in pool.imap_unordered(run_variant, jobs):
            results[label], cpu = stats, cpu + seconds
            print(f"  {label}: {seconds:.0f} s", flush=True)
    wall = time.perf_counter() - start

    print(f"\nNAS-Bench-Macro, budget in trainings, {args.repeats} repeats (seeds {args.seed}-"
          f"{args.seed + args.repeats - 1}); 3-seed mean test accuracy (%) of the top-k unique architectures "
          f"by reward, mean ± sd; {wall:.0f} s wall, {cpu:.0f} s CPU\n")
    print("| trainings | variant | top-1 | top-5 | top-15 | top-15 SE | samples |")
    print("|---|---|---|---|---|---|---|")
    for budget in sorted(args.budgets):
        for label in variants:
            stats = results[label][budget]
            cells = [f"{stats[m]['mean']:.3f} ± {stats[m]['std']:.3f}" for m in METRICS]
            se = stats["top15_unique_report"]["std"] / math.sqrt(args.repeats)
            print(f"| {budget} | {label} | {' | '.join(cells)} | {se:.3f} | {stats['samples']['mean']:.0f} |")
    print()
    for budget in sorted(args.budgets):  # the goals of the comparison, with standard errors
        se = {label: results[label][budget]["top15_unique_report"]["std"] / math.sqrt(args.repeats) for label in variants}
        mean = {label: results[label][budget]["top15_unique_report"]["mean"] for label in variants}
        if "random" in mean:
            print(f"{budget} trainings, top-15 minus random's, in random's standard errors: "
                  + ", ".join(f"{k} {(mean[k] - mean['random']) / se['random']:+.1f}" for k in variants if k != "random"))
        if "evolution" in mean:
            print(f"{budget} trainings, top-15 minus evolution's: "
                  + ", ".join(f"{k} {mean[k] - mean['evolution']:+.3f}" for k in variants if k != "evolution"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"seed": args.seed, "repeats": args.repeats, "variants": variants,
                                        "results": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
