"""The scheduling simulation behind `nasrl plan-cluster` (src/nasrl/planning/): the limit bounds
every schedule, the modes agree where they must, staleness as counted by hand, the job cap."""

from dataclasses import replace

import pytest

from nasrl.planning.costs import NO_OVERHEAD, SchedulingCosts
from nasrl.planning.durations import draw_durations
from nasrl.planning.limit import no_dependency_utilization
from nasrl.planning.replicas import simulate_replicas
from nasrl.planning.rounds import simulate_rounds, staleness_of_rounds

SIGMA = 0.703
CAPPED = SchedulingCosts(job_cap=16)  # a cap that binds: 16 jobs on 8 slots


@pytest.mark.parametrize("costs", [SchedulingCosts(), CAPPED, replace(CAPPED, cap_order="oldest"), NO_OVERHEAD],
                         ids=["profile", "cap any", "cap oldest", "no overhead"])
def test_the_limit_bounds_every_schedule_on_the_same_durations(costs):
    for seed in range(3):
        runs = [simulate_rounds(8, 240, K, s, SIGMA, seed, costs) for K, s in ((1, 0), (1, 7), (2, 3), (5, 1))]
        runs += [simulate_replicas(8, 240, K, SIGMA, seed, costs) for K in (1, 2, 4, 8)]
        for run in runs:
            assert run.utilization <= run.limit + 1e-12, run


def test_one_slot_is_always_busy():
    durations = draw_durations(50, SIGMA, seed=0)
    assert no_dependency_utilization(durations, 1) == pytest.approx(1.0)
    # Without controller steps, re-plans or polls one slot never waits for anything
    assert simulate_rounds(1, 40, 1, 0, SIGMA, 0, NO_OVERHEAD).utilization == pytest.approx(1.0)
    assert simulate_replicas(1, 40, 3, SIGMA, 0, NO_OVERHEAD).utilization == pytest.approx(1.0)


def test_async_with_one_replica_is_the_synchronous_search():
    """One replica's chain is K = 1, s = 0: sample, train, collect, update, sample again."""
    for seed in range(2):
        rounds = simulate_rounds(8, 160, 1, 0, SIGMA, seed)
        chain = simulate_replicas(8, 160, 1, SIGMA, seed)
        assert chain.utilization == rounds.utilization and chain.hours == rounds.hours
        assert chain.mean_staleness == rounds.mean_staleness == 0 and chain.max_staleness == 0


def test_staleness_of_rounds_counted_by_hand():
    # K = 2, s = 1, 3 rounds: rounds 0 and 1 from controller 0, round 2 from controller 1.
    # Round 0's gradients are 0 and 1 updates late, round 1's 2 and 3, round 2's 2 and 3.
    assert staleness_of_rounds(3, 2, 1) == (pytest.approx((0 + 1 + 2 + 3 + 2 + 3) / 6), 3)
    run = simulate_rounds(4, 48, 2, 1, SIGMA, 0)
    assert run.mean_staleness == pytest.approx(11 / 6) and run.max_staleness == 3
    assert run.initial_share == pytest.approx(2 / 3)


def test_staleness_of_async_replicas_counted_by_hand():
    """2 replicas, 4 batches of 1: both first batches come from version 0; whichever ends
    first is applied at once (0 late), the other after it (1 late); their second batches, from
    versions 1 and 2, are applied at versions 2 and 3 (1 and 1 late) or 3 and 2 (2 and 0)."""
    for seed in range(4):
        run = simulate_replicas(2, 4, 2, SIGMA, seed, NO_OVERHEAD, m=1)
        assert run.mean_staleness == pytest.approx(3 / 4) and run.max_staleness in (1, 2)
        assert run.initial_share == pytest.approx(2 / 4)


@pytest.mark.parametrize("order", ["any", "oldest"])
def test_the_job_cap_lowers_or_keeps_utilization(order):
    capped = replace(CAPPED, cap_order=order)
    for seed in range(3):
        for K, s in ((1, 7), (2, 3)):
            free = simulate_rounds(8, 240, K, s, SIGMA, seed, replace(capped, job_cap=None))
            assert simulate_rounds(8, 240, K, s, SIGMA, seed, capped).utilization <= free.utilization + 1e-12


def test_the_assumed_spread_makes_the_slowest_of_8_three_times_the_median():
    from nasrl.planning.durations import ASSUMED_SIGMA, sigma_for

    assert sigma_for(3.0, 8) == pytest.approx(ASSUMED_SIGMA, abs=5e-4)


def test_small_rounds_of_near_equal_children_fill_the_slots():
    """K = 1, m = 8, s = 3 keeps 32 children in flight on 32 slots; with near-equal durations
    the checkpoints of the s + 1 rounds complete independently and the slots stay full."""
    assert simulate_rounds(32, 1600, 1, 3, 0.01, 0).utilization > 0.9


def test_replans_block_the_scheduling_loop():
    """Re-plans run one at a time and nothing is submitted meanwhile: with 60 s re-plans and
    1 s children, a round every 60 s at best, whatever the local cores and staleness."""
    slow = SchedulingCosts(step_seconds=1.0, step_per_child=0.0, replan_a=60.0, replan_b=0.0, poll=0.0, job_cap=None)
    run = simulate_rounds(64, 240, 1, 20, 0.01, 0, slow, median=1.0)
    assert run.hours * 3600 >= 29 * 60.0
    serial = simulate_rounds(64, 240, 1, 20, 0.01, 0, replace(slow, local_cores=1), median=1.0)
    assert serial.hours == pytest.approx(run.hours, rel=0.05)


def test_a_lighter_tail_keeps_the_slots_busier():
    """The same draws scaled by a smaller sigma: shorter stragglers, for the limit and a schedule."""
    for sigma_pair in ((SIGMA, 0.45), (0.45, 0.32)):
        heavy, light = (simulate_rounds(32, 640, 4, 1, sigma, 1) for sigma in sigma_pair)
        assert heavy.limit <= light.limit and heavy.utilization <= light.utilization


def test_completion_order_meets_the_limit_with_fewer_children_in_flight():
    """In round order one slow child holds every later update; async replicas with the same
    children in flight (K m = 4N) come nearer the limit."""
    rounds = simulate_rounds(64, 3200, 1, 31, SIGMA, 2)
    replicas = simulate_replicas(64, 3200, 32, SIGMA, 2)
    assert rounds.utilization < replicas.utilization <= replicas.limit
    assert replicas.utilization > 0.9 * replicas.limit
