"""MLflow cost of one controller update late in a large search: does it grow with the search?

Each update's tracking step (``round_finished``, called by ``nasrl update-controller``) first
looks up which of its round's children the store holds already. Reading every child run of
the search costs about 2 ms per run, so by update 1,600 of a 12,800-child search (8 children
per update) it took about 25 s. The lookup now reads the round's own runs: one query for the
round, then each child's marker file (``tracking/run_markers.py``; ``tracking.runs.complete_runs``).

A SQLite store is filled with --prefill child runs, logged through the real round step in
rounds of --fill-round children (what the updates before would have logged). Then, side by
side, alternately, --repeats times (medians):
- lookup, round: ``complete_runs`` of --children keys with the round index: half of them
  new, half logged in earlier rounds (found through their markers);
- lookup, search: the same without it (every child run of the search), the previous way;
- round step: the whole ``round_finished`` of a new round of --children children (each
  repeat its own new round).

    python benchmarks/performance/tracking_update_cost.py [--prefill 12800] [--children 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tracking_at_scale import Stopwatch, fake_round, started_search  # noqa: E402

from nasrl.tracking.runs import complete_runs  # noqa: E402
from nasrl.tracking.workflow_steps import round_finished  # noqa: E402


def fill(search, runs: int, per_round: int, epochs: int) -> int:
    """``runs`` child runs logged round by round; returns the next round's index."""
    start, round_index = time.perf_counter(), 0
    while round_index * per_round < runs:
        rewards = fake_round(search.results_dir, min(per_round, runs - round_index * per_round), epochs,
                             round_index, first=round_index * per_round)
        assert round_finished(search.state_file, round_index, rewards)
        round_index += 1
        print(f"  filled {round_index * per_round} runs ({time.perf_counter() - start:.0f} s)", file=sys.stderr,
              flush=True)
    return round_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefill", type=int, default=12800, help="child runs the store holds before (default 12800)")
    parser.add_argument("--fill-round", type=int, default=800, help="children per round while filling (default 800)")
    parser.add_argument("--children", type=int, default=8, help="children of the timed update (default 8)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="nasrl-track-update-"))
    try:
        search = started_search(root)
        search.child_diagrams = False  # the runs' SVGs cost filling time and nothing in a lookup
        search.save(search.state_file)
        next_round = fill(search, args.prefill, args.fill_round, args.epochs)
        first = args.prefill
        by_round, whole, steps = [], [], []
        for repeat in range(args.repeats):
            rewards = fake_round(search.results_dir, args.children, args.epochs, next_round + repeat, first)
            keys = list(pd.read_parquet(rewards)["key"])
            earlier = [f"{i:016x}" for i in range(repeat, args.prefill, max(1, args.prefill // (args.children // 2)))]
            keys = keys[:args.children - len(earlier[:args.children // 2])] + earlier[:args.children // 2]
            with Stopwatch() as round_lookup:
                complete_runs(search.client, search, "child", keys, next_round + repeat)
            with Stopwatch() as search_lookup:
                complete_runs(search.client, search, "child", keys)
            with Stopwatch() as step:
                assert round_finished(search.state_file, next_round + repeat, rewards)
            by_round.append(round_lookup.wall)
            whole.append(search_lookup.wall)
            steps.append(step.wall)
            first += args.children
        print(f"{args.prefill} child runs in the store, an update of {args.children} children; median of "
              f"{args.repeats}; SQLite; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"lookup, the round's runs:  {statistics.median(by_round):.3f} s")
        print(f"lookup, every child run:   {statistics.median(whole):.3f} s  "
              f"({statistics.median(whole) / statistics.median(by_round):.0f}x)")
        print(f"round step (round lookup): {statistics.median(steps):.3f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
