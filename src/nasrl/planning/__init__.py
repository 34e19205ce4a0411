"""How busy N training slots stay under the search's scheduling, by discrete-event simulation.

One module per job: ``durations`` (the children's log-normal durations), ``costs`` (what the
submit host, Snakemake and SLURM add), ``cluster`` (the slots, the job cap and the submit host
as an event loop), ``rounds`` (the workflow's in-order rounds: K replicas, staleness s),
``replicas`` (the paper's asynchronous replicas, updates in completion order), ``limit`` (a
scheduler with no dependencies at all: the bound of both), ``outcome`` (what one simulated
search reports) and ``candidates`` (the (mode, K, s) grid over seeds and the recommendation of
``nasrl plan-cluster``). numpy only: no torch.
"""
