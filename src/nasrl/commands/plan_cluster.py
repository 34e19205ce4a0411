"""``nasrl plan-cluster --slots N --children C``: which mode, replicas K and staleness s keep N
training slots busy, by simulating the search's scheduling (``nasrl.planning``).

It prints every candidate (mode, K, s) with its mean utilization over seeds, the limit of a
scheduler with no dependencies on the same durations, the staleness of the updates and the
share of children sampled by the initial controller, then recommends one of either mode,
in-order rounds (``search.updates: rounds``) or the paper's asynchronous replicas (``async``,
updates in completion order, Sec. 3.3), as the ``search`` settings to write. When it recommends
async it also names the in-order candidate the same rule picks among rounds: rounds are
reproducible from the seed alone, async only through its journal.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from nasrl.errors import NasrlError
from nasrl.planning.candidates import (RECOMMENDATION_RULE, Summary, candidate_grid, evaluate, least_initial,
                                       limit_over_seeds, recommend)
from nasrl.planning.costs import SchedulingCosts
from nasrl.planning.durations import ASSUMED_SIGMA, HOUR

DEFAULT_SEEDS = 3       # seconds for 12,800 children; benchmarks/performance/simulate_utilization.py runs 10
MOST_CHILDREN = 200_000  # the simulation takes about a second per 10,000 children and candidate-seed there
PROFILE_JOB_CAP = 2000   # slurm/config.yaml: jobs


def add_plan_cluster_command(sub: argparse._SubParsersAction) -> None:
    plan = sub.add_parser("plan-cluster", help="choose replicas K and staleness s for N slots: simulated "
                                               "utilization against its limit, staleness, initial-controller share",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    plan.add_argument("--slots", type=int, required=True, metavar="N", help="training slots (GPUs) of the cluster")
    plan.add_argument("--children", type=int, required=True, metavar="C",
                      help="children the search samples (the paper's CIFAR-10 search: 12800)")
    plan.add_argument("--median-hours", type=float, default=1.0, metavar="H",
                      help="a child's median training time (default 1 hour, the paper's 50 epochs on a GPU)")
    plan.add_argument("--sigma", type=float, default=ASSUMED_SIGMA, metavar="S",
                      help=f"log-normal spread of the children's durations (default {ASSUMED_SIGMA}: the slowest "
                           "of 8 is 3x the median; measured on CPU children: 0.45 wall, 0.32 CPU time)")
    plan.add_argument("--children-per-replica", type=int, default=8, metavar="M",
                      help="m, children per replica and update (default 8, the paper's CIFAR-10 search)")
    plan.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                      help=f"duration draws per candidate, seeds 0 .. SEEDS-1 (default {DEFAULT_SEEDS})")
    plan.add_argument("--job-cap", type=int, default=PROFILE_JOB_CAP, metavar="J",
                      help=f"children Snakemake keeps submitted at once (default {PROFILE_JOB_CAP}, "
                           "slurm/config.yaml's jobs; 0: no cap)")
    plan.set_defaults(func=cmd_plan_cluster)


def check(args: argparse.Namespace) -> None:
    """One line for a value the simulation cannot use."""
    if args.slots <= 0:
        raise NasrlError(f"--slots must be a positive number of slots, got {args.slots}")
    if args.children < args.slots:
        raise NasrlError(f"--children must be at least --slots ({args.slots}), got {args.children}")
    if args.children > MOST_CHILDREN:
        raise NasrlError(f"--children must be at most {MOST_CHILDREN:,} (the simulation's time grows with it), "
                         f"got {args.children}")
    if not args.median_hours > 0 or args.median_hours == float("inf"):
        raise NasrlError(f"--median-hours must be a positive number of hours, got {args.median_hours}")
    if not 0 < args.sigma <= 3:
        raise NasrlError(f"--sigma must be a log-normal spread in (0, 3], got {args.sigma}")
    if not 1 <= args.children_per_replica <= args.children:
        raise NasrlError(f"--children-per-replica must be between 1 and --children, got {args.children_per_replica}")
    if not 1 <= args.seeds <= 100:
        raise NasrlError(f"--seeds must be between 1 and 100, got {args.seeds}")
    if args.job_cap != 0 and args.job_cap < args.slots:
        raise NasrlError(f"--job-cap must be 0 (no cap) or at least --slots ({args.slots}), got {args.job_cap}")


def cmd_plan_cluster(args: argparse.Namespace) -> None:
    check(args)
    began = time.perf_counter()
    costs = replace(SchedulingCosts(), job_cap=args.job_cap or None)
    m, median = args.children_per_replica, args.median_hours * HOUR
    summaries = [evaluate(c, args.slots, args.children, args.sigma, args.seeds, costs, m, median)
                 for c in candidate_grid(args.slots, args.children, m)]
    print(plan_report(summaries, args, time.perf_counter() - began), end="")


def row(x: Summary, m: int) -> str:
    c = x.candidate
    in_flight = (c.staleness + 1) * c.replicas * m if c.mode == "rounds" else c.replicas * m
    return (f"{c.mode:<7}{c.replicas:>6}{'' if c.staleness is None else c.staleness:>6}{in_flight:>10,}"
            f"{x.utilization:>9.1%} ± {x.utilization_sd * 100:4.1f}{x.of_limit:>9.1%}"
            f"{x.mean_staleness:>10.0f}{x.max_staleness:>7}{x.initial_share:>9.1%}")


def plan_report(summaries: list[Summary], args: argparse.Namespace, seconds: float) -> str:
    m, slots, children = args.children_per_replica, args.slots, args.children
    limit, limit_sd = limit_over_seeds(slots, children, args.sigma, args.seeds, args.median_hours * HOUR)
    cap = f"job cap {args.job_cap} (any order)" if args.job_cap else "no job cap"
    lines = [f"{slots:,} slots, {children:,} children, m = {m}; child durations log-normal, median "
             f"{args.median_hours:g} h, sigma {args.sigma:g}; {cap}; means over seeds 0-{args.seeds - 1}",
             f"no-dependency limit (same durations, no scheduler can beat it): {limit:.1%} ± {limit_sd * 100:.1f}",
             "",
             "mode        K     s  in flight  utilization ± sd  of limit  staleness  max  initial",
             ]
    lines += [row(x, m) for x in sorted(summaries, key=lambda x: (x.candidate.mode != "rounds", -x.utilization))]
    pick = recommend(summaries)
    lines += ["", f"recommended: {settings(pick, children, m)}: {figures(pick)}",
              f"  rule: {RECOMMENDATION_RULE}"]
    if pick.candidate.mode == "async":
        lines.append("  async needs child.early_stopping off and is reproducible only through its journal "
                     "(results/{experiment}/journal.jsonl, search.replay)")
        in_order = recommend(summaries, "rounds")
        lines.append(f"  in order, reproducible from the seed alone: {settings(in_order, children, m)}: "
                     f"{figures(in_order)}")
    careful = least_initial(summaries, slots, children)
    if careful is not None and careful is not pick:
        lines.append(f"  in order with at most 2N/C = {2 * slots / children:.0%} from the initial controller: "
                     f"K = {careful.candidate.replicas}, s = {careful.candidate.staleness}, "
                     f"{careful.utilization:.1%} busy")
    lines.append(f"({len(summaries)} candidates x {args.seeds} seeds, {seconds:.1f} s)")
    return "\n".join(lines) + "\n"


def settings(x: Summary, children: int, m: int) -> str:
    """The ``search`` keys that run the candidate, and the children they train: rounds of K m, or
    K replica chains of steps of m; search.rounds = ceil(C / (K m)) either way."""
    c = x.candidate
    steps = (children + c.replicas * m - 1) // (c.replicas * m)
    trained = steps * c.replicas * m
    if c.mode == "async":
        return (f"search.updates: async, search.replicas: {c.replicas}, search.staleness: 0, search.rounds: {steps} "
                f"({steps} steps of {m} per replica, {trained:,} children)")
    return (f"search.updates: rounds, search.replicas: {c.replicas}, search.staleness: {c.staleness}, "
            f"search.rounds: {steps} ({steps} rounds of {c.replicas * m}, {trained:,} children)")


def figures(x: Summary) -> str:
    return (f"{x.utilization:.1%} of the slots busy, {x.of_limit:.0%} of the limit; {x.initial_share:.0%} of the "
            f"children from the initial controller; staleness mean {x.mean_staleness:.0f}, max {x.max_staleness} "
            "updates")
