"""The real pipeline's slot utilization against the limit of its own children's durations.

    python benchmarks/performance/pipeline_against_limit.py [--slots 32] [--replicas 8] [--staleness 2] \
        [--rounds 6] [--median 10] [--sigma 0.7] [--seeds 10] [--updates rounds|async]

Runs one configuration of benchmarks/performance/scaleout_pipeline.py (snakemake on N local
slots, surrogate children of NAS-Bench-Macro that sleep a log-normal time, the real controller
steps, tracking off), then sets its utilization beside two limits (nasrl.planning.limit):
the children's measured durations scheduled with no dependencies at all, in the order they
started, and the mean ± sd over seeds of the limit for fresh draws of as many children with
the configured median and sigma. ``--updates async`` runs the paper's asynchronous replicas
(search.updates async: K chains of ``--rounds`` batches, staleness 0) instead of in-order rounds.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaleout_pipeline import run  # noqa: E402
from utilization import intervals  # noqa: E402

from nasrl.planning.limit import limit_for, no_dependency_utilization  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--staleness", type=int, default=2)
    parser.add_argument("--m", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--median", type=float, default=10.0)
    parser.add_argument("--sigma", type=float, default=0.7)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--updates", choices=["rounds", "async"], default="rounds")
    args = parser.parse_args()
    if args.updates == "async" and args.staleness:
        parser.error("--updates async: its replicas sample from the newest controller; give --staleness 0")
    print(f"$ python {' '.join(sys.argv)}  ({datetime.date.today()})")
    result = run(args.slots, args.replicas, args.staleness, args, args.updates)
    spans = sorted(intervals(Path(result["workdir"]) / "results" / "scaleout" / "children"))
    measured = np.array([end - start for start, end in spans])
    own = no_dependency_utilization(measured, args.slots)
    drawn = [limit_for(len(spans), args.slots, args.sigma, seed, args.median) for seed in range(args.seeds)]
    shape = f"s = {args.staleness}, {args.rounds} rounds" if args.updates == "rounds" else \
        f"async, {args.rounds} batches per replica"
    print(f"N = {args.slots}, K = {args.replicas}, m = {args.m}, {shape}: "
          f"{len(spans)} children trained, utilization {result['utilization']:.1%}, wall {result['wall_seconds']:.0f} s, "
          f"controller steps {result['controller_seconds_per_round']:.1f} s per round")
    print(f"limit of its measured durations: {own:.1%} (utilization = {result['utilization'] / own:.0%} of it); "
          f"limit of {len(spans)} drawn durations, median {args.median:g} s, sigma {args.sigma:g}: "
          f"{statistics.fmean(drawn):.1%} ± {statistics.stdev(drawn) * 100:.1f} over {args.seeds} seeds")
    print(f"work folder: {result['workdir']}")


if __name__ == "__main__":
    main()
