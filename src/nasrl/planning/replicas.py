"""The paper's asynchronous replicas (Zoph & Le 2017 Sec. 3.3: 100 replicas on 800 GPUs, each
training m = 8 children and sending its gradient to a parameter server as soon as they end).

As the workflow runs them (``search.updates: async``, workflow/rules/async.smk), each of K
replicas runs its own chain of ceil(C / (K m)) batches: sample m children from the newest
controller, train them, collect their rewards, and queue its update; updates are applied one at
a time (one serialized apply step on the submit host) in the order the replicas' rewards come
in; then the replica samples its next batch from the newest controller, until its chain ends.
A replica whose chain has ended leaves its share of the slots to the others' queued children
only: the chains are fixed, not a shared pool of batches. Each sample is a checkpoint like a
round's (a re-plan before its children are submitted).

Staleness of an update: the updates applied between the controller version that sampled the
batch and the one the update is applied to.
"""

from __future__ import annotations

import math
from collections import deque

from nasrl.planning.cluster import Cluster
from nasrl.planning.costs import SchedulingCosts
from nasrl.planning.durations import draw_durations
from nasrl.planning.limit import limit_for
from nasrl.planning.outcome import Outcome
from nasrl.planning.rounds import COLLECT, SAMPLE, UPDATE


def simulate_replicas(slots: int, children: int, K: int, sigma: float, seed: int,
                      costs: SchedulingCosts = SchedulingCosts(), m: int = 8, median: float = 3600.0) -> Outcome:
    steps = math.ceil(children / (K * m))  # search.rounds: batches per replica
    batches = K * steps
    children = batches * m  # whole chains, as the workflow samples them
    durations = draw_durations(children, sigma, seed, median)
    cluster = Cluster(slots, durations, costs, seed)
    state = {"version": 0, "batches": 0, "applying": False}
    sampled_at: dict[int, int] = {}  # batch -> controller version that sampled it
    owner: dict[int, int] = {}       # batch -> its replica
    chain = [0] * K                  # batches each replica has sampled
    sizes: dict[int, int] = {}
    to_apply: deque = deque()        # collected batches, in the order their rewards came in
    lags: list[int] = []
    initial = [0]                    # children sampled by controller version 0

    def sample(replica):
        if chain[replica] == steps:
            return
        chain[replica] += 1
        b = state["batches"]
        state["batches"] += 1
        owner[b] = replica
        sizes[b] = m

        def read_controller():  # the step loads the newest controller when it starts
            sampled_at[b] = state["version"]
            initial[0] += sizes[b] if state["version"] == 0 else 0

        cluster.step((cluster.now, b, SAMPLE), sizes[b], lambda: cluster.replan(batches - b, lambda: submit(b)),
                     on_start=read_controller)

    def submit(b):
        cluster.train(b, sizes[b], lambda: cluster.step((cluster.now, b, COLLECT), sizes[b], lambda: collected(b)))

    def collected(b):
        to_apply.append(b)
        apply_next()

    def apply_next():
        if not state["applying"] and to_apply:
            state["applying"] = True
            b = to_apply.popleft()
            cluster.step((cluster.now, b, UPDATE), sizes[b], lambda: applied(b))

    def applied(b):
        lags.append(state["version"] - sampled_at[b])
        state["version"] += 1
        state["applying"] = False
        sample(owner[b])  # the replica goes on from the newest controller
        apply_next()

    for replica in range(K):
        sample(replica)
    cluster.run()
    return Outcome(mode="async", slots=slots, replicas=K, staleness=None, children=children,
                   utilization=cluster.utilization(), limit=limit_for(len(durations), slots, sigma, seed, median),
                   mean_staleness=sum(lags) / len(lags), max_staleness=max(lags),
                   initial_share=initial[0] / children, hours=cluster.hours())
