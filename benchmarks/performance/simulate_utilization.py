"""Discrete-event simulation of the search's scheduling: slot utilization on N training slots.

    python benchmarks/performance/simulate_utilization.py [--json OUT] [--seed 0]
    python benchmarks/performance/simulate_utilization.py --sigma 0.35 0.5 [--json OUT]

With ``--sigma``: only the whole-search utilization table of docs/scaling.md (median child 1 h),
once with the assumed heavy tail and once per given log-normal sigma (say, measured by
benchmarks/performance/child_durations.py), side by side.

Round r samples K*m children from controller max(0, r - s) (K replicas, m children per
replica, staleness s; s = 0 is the synchronous search), trains them on N slots (GPUs), collects
their rewards and applies K REINFORCE steps (controller r -> r + 1). Utilization, as in
benchmarks/performance/utilization.py, is the children's busy time over N * (last child end - first child
start). The model:

- a child starts when its round is submitted and a slot is free; waiting children start in
  submission order, i.e. oldest round first (FIFO, as SLURM does for equal-priority jobs), and a
  freed slot is refilled at once (SLURM starts an already-submitted job itself; Snakemake is
  not involved);
- the controller steps (sample, collect, update) are local rules on the submit host, not on a
  slot: up to `local_cores` of them run at once (Snakemake's --local-cores; 4 assumed, 1 = one
  serial host), ready steps oldest first;
- sample r is ready when controller max(0, r - s) exists. When it ends (the checkpoint),
  Snakemake re-plans the DAG, a + b x rounds still planned; re-plans run one at a time, each
  blocking Snakemake's scheduling loop (no controller step starts and nothing is submitted
  meanwhile; running steps and SLURM go on). A checkpoint adds only its own round's children,
  submitted when its re-plan ends: checkpoints of different rounds complete independently;
- collect r is ready once Snakemake sees the last child of r end (a status-poll delay), update r
  once collect r is done and controller r exists (update r - 1 done): updates are in order.

Child durations are log-normal (heavy tailed; see the printed assumptions), drawn with a fixed
seed per round size, so the rows for s = 0, 1, 2 train the same children.

The "bound" column is Little's law: at most s + 1 rounds are in the system and a round stays at
least as long as its slowest child, so utilization <= (s + 1) * K*m * E[duration] /
(N * E[slowest of K*m]). It tracks the rows with K*m >= N and s <= 2. It does not track K = 1
with a large s: update r needs controller r, so one slow child holds every later update, and no
round past its own + s can be sampled until it ends. Only the (s + 1) * K*m children of the
window can run meanwhile, so the window behaves like one round: the "window" column,
C * E[duration] / (N * E[slowest of C]) for C = (s + 1) * K*m children in flight, an estimate
(not a bound) that tracks those rows. The paper's replicas had no such chain (each pushed its
gradient whenever its own 8 children were done): the "what-if" table (Model.in_order = False,
not what the workflow does) applies the updates in the order the rounds' rewards come in, and
meets the per-round bound.

Staleness is counted in controller updates: round r's replica k gradient is applied s * K + k
updates after the parameters that sampled it (fewer in the first s rounds), s * K + (K - 1) / 2
on average in the steady state. The summaries give, per slot count, the least stale
configuration simulated that reaches 90% (and 70%), and required_in_flight the children in
flight that Little's law needs for 90%.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, replace

import numpy as np

HOUR = 3600.0
PAPER_CHILDREN = 12_800  # Zoph & Le (2017) Sec. 4.1
MIN_ROUNDS = 24          # a search shorter than this is mostly ramp-up and drain
Z99 = 2.3263             # standard normal 99th percentile


def expected_max_ratio(sigma: float, n: int) -> float:
    """E[max of n log-normal draws] / median = E[exp(sigma * max of n standard normals)],
    by integrating against the density of the maximum, n * phi(z) * Phi(z)^(n-1)."""
    z = np.linspace(-9.0, 12.0, 42_001)
    dz = z[1] - z[0]
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = np.clip(np.cumsum(phi) * dz, 1e-300, 1.0)
    return float(np.sum(np.exp(sigma * z) * n * phi * np.exp((n - 1) * np.log(cdf))) * dz)


def sigma_for(ratio: float, n: int) -> float:
    """The log-normal sigma whose expected max of n draws is ``ratio`` times the median."""
    lo, hi = 0.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected_max_ratio(mid, n) < ratio else (lo, mid)
    return (lo + hi) / 2


@dataclass
class Model:
    median: float = HOUR         # paper children: 50 CIFAR-10 epochs, about an hour on one GPU
    sigma: float = 0.8           # replaced in main() by the calibrated value
    # Controller step process: ~7 s each on the default search (166 s for ~24 steps on a loaded
    # 2-core machine, docs/benchmarks.md); most of it is the process start and torch import, so it is
    # nearly independent of the round size. Sampling and REINFORCE compute measured < 1 ms per
    # child (2-layer LSTM, batched); 5 ms per child covers writing/reading one small file per
    # child on a shared filesystem.
    step_seconds: float = 7.0
    step_per_child: float = 0.005
    # Re-plan after each checkpoint: t = a + b * (rounds still planned). Measured 3-4 s per
    # round with 1,600 rounds planned (docs/benchmarks.md), i.e. 3.5 s; a = 0.5 s for the part that does
    # not scale (reading the checkpoint output, job selection), b = 3.0 s / 1,600 rounds.
    replan_a: float = 0.5
    replan_b: float = 3.0 / 1600
    # Seconds between a child's end and Snakemake seeing it: the SLURM profile polls squeue
    # every 5 s while jobs keep finishing (slurm/config.yaml); 10 s allows for one missed poll.
    poll: float = 10.0
    # Controller steps are local rules: Snakemake runs up to --local-cores of them at once on the
    # submit host (its default is the host's CPU count); 4 assumed. 1 = the serial host.
    local_cores: int = 4
    # Re-plan cost over the rounds still planned (False; the measurement was at the start of a
    # search) or always over all rounds (True: 3.5 s per checkpoint throughout; sensitivity).
    replan_all_rounds: bool = False
    # What the workflow does: update r needs controller r (update r - 1), so updates are in round
    # order. False is a what-if, not the workflow: updates in the order the rounds' rewards come
    # in (one at a time), as the paper's parameter server took its replicas' gradients;
    # "controller c" is then the state after any c updates.
    in_order: bool = True


def simulate(slots: int, K: int, m: int, s: int, rounds: int, model: Model, seed: int = 0) -> dict:
    n = K * m
    # Same draws for every s (and every slot count) at a given round size: common random numbers.
    rng = np.random.default_rng([seed, n, rounds])
    dur = model.median * np.exp(model.sigma * rng.standard_normal((rounds, n)))
    start = np.zeros((rounds, n))
    step_time = model.step_seconds + model.step_per_child * n  # sample, collect and update alike

    events: list = []       # (time, seq, kind, round, index)
    seq = 0
    ready: list = []        # controller steps ready to run: (ready time, round, kind)
    steps_running = 0       # controller-step processes on the submit host (<= model.local_cores)
    replans: deque = deque()  # rounds whose checkpoint ended, waiting for Snakemake's re-plan
    replanning = False      # Snakemake's scheduling loop is re-planning: it starts nothing
    waiting: deque = deque()  # submitted children without a slot, in submission order
    free = slots
    left = [n] * rounds
    collected = [False] * rounds
    controller = [False] * (rounds + 1)
    released = [0.0] * rounds
    open_rounds = peak_open = peak_steps = 0
    updates = 0             # updates applied (out of order only)
    updating = False        # an update is ready or running (out of order only)
    to_update: deque = deque()  # collected rounds waiting for their update (out of order only)
    lag = [0] * rounds      # updates applied between round r's sampling and its update
    step_busy = replan_busy = 0.0
    now = 0.0

    def push(t, kind, r, i=0):
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, r, i))

    def replan_seconds(r):
        planned = rounds if model.replan_all_rounds else rounds - r
        return model.replan_a + model.replan_b * planned

    def schedule():
        """Snakemake's scheduling loop: the re-plans of ended checkpoints first, one at a time
        (each blocks the loop), then as many ready controller steps as local cores allow."""
        nonlocal replanning, steps_running, peak_steps, step_busy, replan_busy
        if replanning:
            return
        if replans:
            r = replans.popleft()
            replanning = True
            t = replan_seconds(r)
            replan_busy += t
            push(now + t, "replan", r)
            return
        while ready and steps_running < model.local_cores:
            _, r, kind = heapq.heappop(ready)
            steps_running += 1
            peak_steps = max(peak_steps, steps_running)
            step_busy += step_time
            push(now + step_time, kind, r)

    def fill_slots():
        nonlocal free
        while free and waiting:
            r, i = waiting.popleft()
            free -= 1
            start[r, i] = now
            push(now + dur[r, i], "child", r, i)

    def controller_ready(c):
        """Controller c exists: the rounds sampled from it, and update c if c's rewards are in."""
        controller[c] = True
        for r in (range(0, min(s + 1, rounds)) if c == 0 else [c + s]):
            if r < rounds:
                lag[r] = -c
                heapq.heappush(ready, (now, r, "sample"))
        if model.in_order and c < rounds and collected[c]:
            heapq.heappush(ready, (now, c, "update"))

    def next_update():
        """Out of order: the next collected round's update, once the previous one is done."""
        nonlocal updating
        if not updating and to_update:
            updating = True
            heapq.heappush(ready, (now, to_update.popleft(), "update"))

    controller_ready(0)
    schedule()
    while events:
        now, _, kind, r, i = heapq.heappop(events)
        if kind == "child":  # SLURM refills the slot itself; Snakemake sees the end after a poll
            free += 1
            left[r] -= 1
            if left[r] == 0:
                open_rounds -= 1
                push(now + model.poll, "seen", r)
            fill_slots()
            continue
        if kind == "seen":
            heapq.heappush(ready, (now, r, "collect"))
        elif kind == "replan":  # round r's children join the DAG and are submitted
            replanning = False
            released[r] = now
            waiting.extend((r, j) for j in range(n))
            open_rounds += 1
            peak_open = max(peak_open, open_rounds)
            fill_slots()
        else:  # a controller step ended
            steps_running -= 1
            if kind == "sample":  # the checkpoint: only this round's children are added
                replans.append(r)
            elif kind == "collect":
                collected[r] = True
                if not model.in_order:
                    to_update.append(r)
                    next_update()
                elif controller[r]:
                    heapq.heappush(ready, (now, r, "update"))
            elif model.in_order:  # update r: controller r + 1
                lag[r] += r
                controller_ready(r + 1)
            else:
                lag[r] += updates
                updating = False
                updates += 1
                controller_ready(updates)
                next_update()
        schedule()

    end = start + dur
    first, last = start.min(), end.max()
    busy = dur.sum()
    # Steady state: the window from the submission of round R/4 to that of round 3R/4, without
    # the first rounds' ramp-up and the last rounds' drain.
    a, b = released[rounds // 4], released[(3 * rounds) // 4]
    steady = (np.clip(end, a, b) - np.clip(start, a, b)).sum() / (slots * (b - a)) if b > a else float("nan")
    return {
        "slots": slots, "K": K, "m": m, "children_per_round": n, "s": s, "rounds": rounds,
        "children": rounds * n, "utilization": busy / (slots * (last - first)), "steady_utilization": steady,
        "bound": little_bound(slots, n, s, model.sigma), "window": window_estimate(slots, (s + 1) * n, model.sigma),
        "in_flight": (s + 1) * n,
        "staleness": mean_staleness(K, s), "search_staleness": K * sum(lag) / rounds + (K - 1) / 2,
        "max_staleness": K * max(lag) + K - 1,
        "max_rounds_training": peak_open, "ideal_hours": busy / slots / HOUR, "span_hours": (last - first) / HOUR,
        "search_hours": now / HOUR, "wall_seconds_per_child": now / (rounds * n),
        "host_cores_busy": step_busy / now, "peak_steps": peak_steps, "replan_share": replan_busy / now,
    }


def little_bound(slots: int, n: int, s: int, sigma: float) -> float:
    """Little's law: at most s + 1 rounds of n children are in the system and each stays at least
    as long as its slowest child, so the work done per unit time is at most (s + 1) rounds' work
    per E[max of n]: utilization <= (s + 1) * n * E[duration] / (slots * E[max of n])."""
    return min(1.0, (s + 1) * n * math.exp(sigma ** 2 / 2) / (slots * expected_max_ratio(sigma, n)))


def window_estimate(slots: int, in_flight: int, sigma: float) -> float:
    """Utilization when the whole window of in-flight children acts as one round (the updates are
    in order, so the slowest child in flight holds them all): C * E[duration] / (N * E[max of C])."""
    return min(1.0, in_flight * math.exp(sigma ** 2 / 2) / (slots * expected_max_ratio(sigma, in_flight)))


def required_in_flight(N: int, m: int, sigma: float, target: float = 0.9) -> int:
    """Children in the system (submitted, not yet collected) that Little's law needs for
    ``target`` utilization of N slots when every round of m children waits for its slowest one:
    the inverse of ``little_bound``, target * N * E[max of m] / E[duration]. A necessary
    condition, not a sufficient one: the updates' order, the controller steps, the ramp-up and
    the drain cost more. With K replicas, m here is the round size K * m; the staleness it
    implies is s = ceil(in flight / m) - 1."""
    return math.ceil(target * N * expected_max_ratio(sigma, m) / math.exp(sigma ** 2 / 2))


def required_in_flight_window(N: int, sigma: float, target: float = 0.9) -> int:
    """The same with the in-order updates: the smallest C with window_estimate(N, C) >= target,
    the fixed point C = target * N * E[max of C] / E[duration] (E[max of C] grows with C)."""
    c = required_in_flight(N, N, sigma, target)
    for _ in range(100):
        nxt = required_in_flight(N, c, sigma, target)
        if nxt == c:
            break
        c = nxt
    return c


def mean_staleness(K: int, s: int, rounds: int | None = None) -> float:
    """Mean staleness in controller updates of the applied gradients. Round r is sampled from
    controller c = max(0, r - s) (c * K updates applied) and its replica k's gradient is update
    r * K + k, so it is (r - c) * K + k updates late: s * K + k once r >= s. Without ``rounds``,
    the steady-state mean s * K + (K - 1) / 2; with it, the mean over the whole search, where the
    first s rounds (all sampled from controller 0) are less stale."""
    if rounds is None:
        return s * K + (K - 1) / 2
    lag = sum(min(r, s) for r in range(rounds)) / rounds
    return lag * K + (K - 1) / 2


def rounds_for(n: int) -> int:
    """A paper-size search (12,800 children), but never fewer than MIN_ROUNDS rounds."""
    return max(MIN_ROUNDS, math.ceil(PAPER_CHILDREN / n))


def table(rows: list[dict], measured: bool = False) -> str:
    """One row per simulation; ``measured``: the staleness column is the whole search's mean (and
    max) from the simulation instead of the steady-state s * K + (K - 1) / 2."""
    head = ("| slots | K | m | K*m | s | children | utilization | steady-state | bound | window "
            "| rounds training at once | ideal h | simulated h | wall s/child | staleness (updates) "
            "| controller cores busy | re-plan share |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for x in rows:
        lines.append(f"| {x['slots']} | {x['K']} | {x['m']} | {x['children_per_round']} | {x['s']} | {x['children']} "
                     f"| {x['utilization']:.1%} | {x['steady_utilization']:.1%} | {x['bound']:.0%} "
                     f"| {x['window']:.0%} | {x['max_rounds_training']} "
                     f"| {x['ideal_hours']:.1f} | {x['span_hours']:.1f} | {x['wall_seconds_per_child']:.1f} "
                     f"| {staleness(x, measured)} | {x['host_cores_busy']:.2f} (peak {x['peak_steps']}) "
                     f"| {x['replan_share']:.1%} |")
    return "\n".join(lines)


def staleness(x: dict, measured: bool) -> str:
    return f"{x['search_staleness']:.1f} (max {x['max_staleness']})" if measured else f"{x['staleness']:g}"


def smallest(rows: list[dict], goal: float, key: str = "utilization") -> dict | None:
    """The least stale row (mean staleness in updates; then the smaller round) whose ``key``
    (the whole search's utilization, or steady_utilization) reaches ``goal``."""
    hits = [x for x in rows if x[key] >= goal]
    return min(hits, key=lambda x: (x["staleness"], x["children_per_round"], -x["utilization"]), default=None)


def summary(rows: list[dict], goals=(0.9, 0.7), key: str = "utilization") -> str:
    head = ("| slots | goal | K | m | s | utilization | steady-state | staleness (updates, steady) "
            "| staleness (whole search) | rounds | simulated h | configurations simulated |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for slots in sorted({x["slots"] for x in rows}):
        mine = {(x["K"], x["m"], x["s"], x["rounds"]): x for x in rows if x["slots"] == slots}.values()
        for goal in goals:
            x = smallest(list(mine), goal, key)
            if x is None:
                best = max(mine, key=lambda y: y[key])
                lines.append(f"| {slots} | >= {goal:.0%} | none reaches it: best K = {best['K']}, s = {best['s']} "
                             f"| | | {best['utilization']:.1%} | {best['steady_utilization']:.1%} "
                             f"| {best['staleness']:g} | {best['search_staleness']:.1f} | {best['rounds']} "
                             f"| {best['span_hours']:.1f} | {len(mine)} |")
                continue
            lines.append(f"| {slots} | >= {goal:.0%} | {x['K']} | {x['m']} | {x['s']} | {x['utilization']:.1%} "
                         f"| {x['steady_utilization']:.1%} | {x['staleness']:g} | {x['search_staleness']:.1f} "
                         f"| {x['rounds']} | {x['span_hours']:.1f} | {len(mine)} |")
    return "\n".join(lines)


def in_flight_table(sigma: float, m: int, rows: list[dict], goal: float = 0.9) -> str:
    """Per slot count: required_in_flight for rounds of m (K = 1) and of N (K*m = N) with the
    staleness each implies, the window estimate's fixed point, and the fewest children in flight
    among the simulated configurations that reach the goal (whole search)."""
    head = ("| slots | Little, rounds of 8: in flight (s) | Little, rounds of N: in flight (s) "
            "| window estimate: in flight (s for K = 1; s for K*m = N) "
            "| fewest in flight simulated reaching 90%: K, s, in flight, utilization |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for slots in sorted({x["slots"] for x in rows}):
        little_m, little_n = required_in_flight(slots, m, sigma, goal), required_in_flight(slots, slots, sigma, goal)
        window = required_in_flight_window(slots, sigma, goal)
        hits = [x for x in rows if x["slots"] == slots and x["utilization"] >= goal]
        if hits:
            x = min(hits, key=lambda y: (y["in_flight"], y["staleness"]))
            sim = (f"K = {x['K']}, s = {x['s']}: {x['in_flight']:,} ({x['in_flight'] / slots:.1f} N), "
                   f"{x['utilization']:.1%}")
        else:
            x = max((y for y in rows if y["slots"] == slots), key=lambda y: y["utilization"])
            sim = (f"none; best K = {x['K']}, s = {x['s']}: {x['in_flight']:,} ({x['in_flight'] / slots:.1f} N), "
                   f"{x['utilization']:.1%}")
        lines.append(f"| {slots} | {little_m:,} = {little_m / slots:.2f} N ({math.ceil(little_m / m) - 1}) "
                     f"| {little_n:,} = {little_n / slots:.2f} N ({math.ceil(little_n / slots) - 1}) "
                     f"| {window:,} = {window / slots:.1f} N "
                     f"({math.ceil(window / m) - 1}; {math.ceil(window / slots) - 1}) "
                     f"| {sim} |")
    return "\n".join(lines)


def assumptions(model: Model, sizes: list[int], label: str) -> str:
    ratios = ", ".join(f"{n}: {expected_max_ratio(model.sigma, n):.1f}x" for n in sizes)
    return (f"- {label}: log-normal, median {model.median / 60:.1f} min, sigma {model.sigma:.3f}; "
            f"p99 = {math.exp(Z99 * model.sigma):.2f}x median; expected slowest of a round / median by "
            f"children per round: {ratios}")


# The whole-search table of docs/scaling.md: (slots, K) -> staleness values, m = 8.
SCALING_GRID = {(8, 1): (0, 1, 2), (8, 2): (0, 1, 2), (32, 4): (0, 1, 2, 4, 8), (32, 8): (0, 1, 2),
                (64, 8): (0, 1, 2, 4, 8), (256, 32): (0, 1, 2, 4, 8), (1024, 128): (0, 1, 2, 4, 8)}


def sigma_comparison(sigmas: list[float], seed: int = 0, m: int = 8) -> dict:
    """Whole-search utilization of SCALING_GRID under the assumed heavy tail and each of ``sigmas``."""
    assumed = sigma_for(3.0, m)
    models = [("assumed", assumed)] + [(f"sigma {x:g}", x) for x in sigmas]
    rows = []
    for (slots, K), stalenesses in SCALING_GRID.items():
        for st in stalenesses:
            row = {"slots": slots, "K": K, "m": m, "s": st}
            for label, sigma in models:
                row[label] = simulate(slots, K, m, st, rounds_for(K * m), Model(sigma=sigma), seed)["utilization"]
            rows.append(row)
    return {"sigmas": {label: sigma for label, sigma in models},
            "slowest_of": {label: {n: expected_max_ratio(sigma, n) for n in (8, 100, 1024)} for label, sigma in models},
            "rows": rows}


def comparison_table(result: dict) -> str:
    labels = list(result["sigmas"])
    head = ("| slots N | K | s | " + " | ".join(f"sigma {result['sigmas'][label]:.3g}"
                                               + (" (assumed)" if label == "assumed" else "") for label in labels) + " |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in result["rows"]:
        lines.append(f"| {row['slots']:,} | {row['K']} | {row['s']} | "
                     + " | ".join(f"{row[label]:.1%}" for label in labels) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="OUT", help="write every result (and the assumptions) to OUT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigma", type=float, nargs="+", metavar="S",
                        help="only the whole-search table, with the assumed sigma and each S beside it")
    args = parser.parse_args()
    began = time.perf_counter()
    m = 8
    if args.sigma:
        result = sigma_comparison(args.sigma, args.seed, m)
        print("Expected slowest of 8 / 100 / 1,024 children over the median: " + "; ".join(
            f"sigma {result['sigmas'][label]:.3g}: " + " / ".join(f"{v:.2f}" for v in ratios.values())
            for label, ratios in result["slowest_of"].items()))
        print("\nWhole-search utilization (median child 1 h, m = 8):\n")
        print(comparison_table(result))
        print(f"\n({time.perf_counter() - began:.1f} s)")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(result, f, indent=1)
        return
    # Heavy tail: the smallest sigma for which the slowest of a round is >= 3x the median for
    # every round size here (the expected max grows with the round size, so calibrate on m = 8).
    heavy = Model(sigma=sigma_for(3.0, m))
    # Light tail: the slowest of a 1,024-child round is 3x the median (the same condition,
    # calibrated on the largest synchronous round instead); smaller rounds see less than 3x.
    light = Model(sigma=sigma_for(3.0, 1024))
    # Local runs: the default search's children take ~17 s per job on 2 cores (454 s of job
    # wall / 2 cores for 52 jobs, docs/benchmarks.md) and Snakemake's local executor sees a job end at once.
    local = Model(median=17.0, sigma=heavy.sigma, poll=0.0)
    sizes = [8, 64, 256, 1024, 2048, 4096]

    results: dict[str, list[dict]] = {"cluster": [], "local": [], "sensitivity_1024": [], "async": [],
                                      "local_async": [], "controller_1024": []}
    for slots in (8, 32, 64, 256, 1024):
        for K in sorted({1, slots // m, 2 * slots // m}):
            for s in (0, 1, 2):
                results["cluster"].append(simulate(slots, K, m, s, rounds_for(K * m), heavy, args.seed))
    for slots in (8, 32):
        for K in sorted({1, slots // m}):
            for s in (0, 1, 2):
                results["local"].append(simulate(slots, K, m, s, MIN_ROUNDS, local, args.seed))
    for name, model in (("heavy", heavy), ("light", light)):
        for mult in (1, 2, 4):
            for s in (0, 1, 2, 4):
                row = simulate(1024, mult * 1024 // m, m, s, rounds_for(mult * 1024), model, args.seed)
                results["sensitivity_1024"].append({"tail": name, **row})
    # The asynchronous-replica configuration: K = 1, rounds of m = 8 and a large staleness, so
    # (s + 1) * 8 children are in flight and each update waits only for its own 8; against the
    # synchronous one (K * m = N) with more staleness.
    for slots in (32, 64, 256, 1024):
        # 8N/m - 1 and 16 beyond the asked grid: the least s that reaches 90%
        for s in (slots // m - 1, 2 * slots // m - 1, 4 * slots // m - 1, 8 * slots // m - 1):
            results["async"].append(simulate(slots, 1, m, s, rounds_for(m), heavy, args.seed))
        for s in (4, 8, 16):
            results["async"].append(simulate(slots, slots // m, m, s, rounds_for(slots), heavy, args.seed))
    # At 1,024 slots the K*m = N rows train 24 rounds x 1,024 = 24,576 children, not 12,800:
    # K = 1 on the same number of children (3,072 rounds), for a like-for-like comparison.
    for s in (511, 1023, 2047):
        results["async"].append(simulate(1024, 1, m, s, rounds_for(1024) * 1024 // m, heavy, args.seed))
    for slots in (8, 32):
        for s in (3, 7, 15):
            results["local_async"].append(simulate(slots, 1, m, s, MIN_ROUNDS, local, args.seed))
    # What-if, not the workflow: the same K = 1 rows with updates in completion order.
    results["what_if_out_of_order"] = [
        simulate(slots, 1, m, s, rounds_for(m), replace(heavy, in_order=False), args.seed)
        for slots in (32, 64, 256, 1024) for s in (slots // m - 1, 2 * slots // m - 1, 4 * slots // m - 1)]
    # The controller model at the largest scale: one serial host instead of 4 local cores, and
    # a re-plan that never shrinks (3.5 s per checkpoint over all 1,600 rounds).
    for label, model in (("1 local core", replace(heavy, local_cores=1)),
                         ("re-plan over all rounds", replace(heavy, replan_all_rounds=True)),
                         ("both", replace(heavy, local_cores=1, replan_all_rounds=True))):
        for s in (127, 255, 511):
            row = simulate(1024, 1, m, s, rounds_for(m), model, args.seed)
            results["controller_1024"].append({"variant": label, **row})

    print("## Assumptions\n")
    print(assumptions(heavy, sizes, "cluster children (heavy tail; calibrated: slowest of 8 = 3x median)"))
    print(assumptions(light, sizes, "light tail (sensitivity; calibrated: slowest of 1,024 = 3x median)"))
    print(assumptions(local, sizes, "local children (default digits search)"))
    print(f"- controller steps (sample, collect, update; local rules on the submit host, not a slot): "
          f"{heavy.step_seconds:.0f} s + {heavy.step_per_child * 1000:.0f} ms per child of the round each; "
          f"up to {heavy.local_cores} at once (Snakemake's --local-cores), ready steps oldest first")
    print(f"- re-plan after each sample checkpoint: {heavy.replan_a} s + {heavy.replan_b * 1000:.2f} ms x rounds "
          f"still planned (3.5 s at 1,600 rounds); one checkpoint at a time, each blocking Snakemake's "
          f"scheduling loop (no step starts, no submission; running steps and SLURM go on); a checkpoint adds "
          f"only its own round's children, submitted when its re-plan ends")
    print(f"- child end seen by Snakemake after {heavy.poll:.0f} s (SLURM status poll; 0 s locally)")
    print(f"- rounds: {PAPER_CHILDREN:,} children (the paper's search) or at least {MIN_ROUNDS} rounds; "
          "steady-state = busy share between the submissions of rounds R/4 and 3R/4")
    print(f"- m = {m}; K = 1, N/m, 2N/m; FIFO slots in submission order (oldest round first); "
          "duplicate architectures not modelled")
    print("- staleness (updates): the mean number of controller updates between the parameters that sampled a "
          "batch and the application of its gradient, s * K + (K - 1) / 2 in the steady state (the whole-search "
          "mean is lower: the first s rounds all come from controller 0)")
    print("- not modelled: sbatch time per submission, Snakemake's `jobs` limit (it must allow (s + 1) * K * m "
          "submitted children) and SLURM's per-user submission limits; locally, the controller steps taking "
          "cores from the children\n")
    print("## Cluster (median child 1 h)\n")
    print(table(results["cluster"]))
    print("\n## Local (median child 17 s, controller step 7 s)\n")
    print(table(results["local"]))
    print("\n## 1,024 slots: tail, round size (K*m = N, 2N, 4N) and staleness\n")
    for name in ("heavy", "light"):
        print(f"\n{name} tail:\n")
        print(table([r for r in results["sensitivity_1024"] if r["tail"] == name]))
    print("\n## Asynchronous-replica configuration: K = 1, m = 8, s = N/m - 1, 2N/m - 1, 4N/m - 1 (8N/m - 1); "
          "and K*m = N with s = 4, 8 (16) (heavy tail, median child 1 h)\n")
    print(table(results["async"]))
    print("\n## Local, K = 1, m = 8, s = 3, 7, 15 (median child 17 s, controller step 7 s)\n")
    print(table(results["local_async"]))
    print("\n## 1,024 slots, K = 1, m = 8: the controller model\n")
    for label in ("1 local core", "re-plan over all rounds", "both"):
        print(f"\n{label}:\n")
        print(table([r for r in results["controller_1024"] if r["variant"] == label]))
    print("\n## What-if, not the workflow: K = 1, m = 8 with updates in completion order (as the paper's "
          "parameter server; whole-search staleness measured)\n")
    print(table(results["what_if_out_of_order"], measured=True))
    cluster_rows = (results["cluster"] + results["async"]
                    + [r for r in results["sensitivity_1024"] if r["tail"] == "heavy"])
    print("\n## Least stale configuration simulated that reaches the goal (whole-search utilization; "
          "heavy tail, cluster)\n")
    print(summary(cluster_rows))
    print("\n## The same on the steady-state utilization (without ramp-up and drain)\n")
    print(summary(cluster_rows, key="steady_utilization"))
    print("\n## The same, local (median child 17 s, 24 rounds)\n")
    print(summary(results["local"] + results["local_async"]))
    print("\n## Children in flight for 90% (required_in_flight: Little's law; required_in_flight_window: "
          "the window estimate) against the simulation (heavy tail, cluster; s implied in brackets)\n")
    print(in_flight_table(heavy.sigma, m, cluster_rows))
    print(f"\n({time.perf_counter() - began:.1f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"models": {"heavy": asdict(heavy), "light": asdict(light), "local": asdict(local)},
                       **results}, f, indent=1)


if __name__ == "__main__":
    main()
