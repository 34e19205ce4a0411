"""REINFORCE vs random search at equal budget on NAS-Bench-Macro (no training).

Runs `nasrl bench`'s code path with the command's default settings on the bundled table
and prints a Markdown table of the mean (+- std over repeats) of the test accuracy of
the best-by-reward architecture and of the top-5 / top-15 unique architectures found.
The search is rewarded with one seed's accuracy (test_acc_seed0), as a search sees one
noisy training run per child; the report column is the 3-seed mean.

    python benchmarks/studies/search_vs_random.py [--repeats 50] [--seed 0] [--out results/bench-macro]

Seeds 0.. are used for the figures; the defaults were chosen on seeds 1000.. (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nasrl.search.bench import ResultsTable, run_bench, write_bench
from nasrl.cli import build_parser
from nasrl.spaces.presets import preset_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--out", type=Path, default=Path("results/bench-macro"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    defaults = build_parser().parse_args(["bench", "--space", "-", "--table", "-", "--key-column", "-",
                                          "--reward-column", "-", "--budget", "1", "--out", "-"])
    config = {"lr": defaults.lr, "baseline_decay": defaults.baseline_decay, "entropy_weight": defaults.entropy_weight}
    space = preset_space("nas_bench_macro")
    table = ResultsTable("nasrl:nas-bench-macro-cifar10.csv", "arch", "test_acc_seed0", "mean_test_acc")
    start = time.perf_counter()
    curves, summary = run_bench(space, table, ["reinforce", "random"], max(args.budgets), args.repeats, seed=args.seed,
                                batch_size=defaults.batch_size, reinforce_config=config, eval_at=args.budgets)
    seconds = time.perf_counter() - start
    write_bench(args.out, curves, summary)

    print(f"NAS-Bench-Macro, {args.repeats} repeats, seeds {args.seed}..{args.seed + args.repeats - 1}, "
          f"REINFORCE m={defaults.batch_size} lr={defaults.lr} baseline decay={defaults.baseline_decay}; "
          f"mean test accuracy (%) +- std over repeats ({seconds:.0f} s)\n")
    print("| budget | strategy | best-by-reward | top-5 unique | top-15 unique | unique samples |")
    print("|---|---|---|---|---|---|")
    for budget in args.budgets:
        for strategy, stats in summary["at_step"][str(budget)].items():
            cells = [f"{stats[m]['mean']:.2f} ± {stats[m]['std']:.2f}"
                     for m in ("report_of_best", "top5_unique_report", "top15_unique_report")]
            print(f"| {budget} | {strategy} | {' | '.join(cells)} | {stats['unique_fraction']['mean']:.0%} |")


if __name__ == "__main__":
    main()
