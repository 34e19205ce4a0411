"""What scheduling costs besides the children: the controller steps on the submit host,
Snakemake's re-plans and status polls, and the profile's cap on jobs in flight.

The figures are those of the earlier simulation (docs/scaling.md, Simulation at cluster scale,
measured in docs/benchmarks.md) and the job cap of slurm/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulingCosts:
    # A controller step (sample, collect, update) is a process on the submit host: ~7 s,
    # mostly its start and torch's import (docs/benchmarks.md), plus 5 ms per child for one
    # small file each on a shared filesystem.
    step_seconds: float = 7.0
    step_per_child: float = 0.005
    # Snakemake runs up to --local-cores local rules at once; 4 assumed.
    local_cores: int = 4
    # The re-plan after each sampling checkpoint: a + b x batches still planned (3.5 s with
    # 1,600 rounds planned, measured); it blocks Snakemake's loop (no step starts, nothing is
    # submitted) but not SLURM.
    replan_a: float = 0.5
    replan_b: float = 3.0 / 1600
    # Snakemake sees a child's end up to one missed squeue poll late (5 s polls).
    poll: float = 10.0
    # The profile's `jobs: 2000`: children submitted and not yet seen to end. None: no cap.
    job_cap: int | None = 2000
    # Which waiting children Snakemake submits when the cap binds: "any" (its job selection
    # does not order children by round; modelled as a random pick) or "oldest" (oldest batch
    # first, what a per-round priority would give).
    cap_order: str = "any"

    def step_time(self, children: int) -> float:
        return self.step_seconds + self.step_per_child * children

    def replan_time(self, batches_planned: int) -> float:
        return self.replan_a + self.replan_b * batches_planned


NO_OVERHEAD = SchedulingCosts(step_seconds=0.0, step_per_child=0.0, replan_a=0.0, replan_b=0.0, poll=0.0,
                              job_cap=None)
