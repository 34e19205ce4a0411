"""MLflow tracking of a search: a view of the result files, never their only copy.

Every job writes its own result files first (metrics.json, curve.csv, ...); logging to MLflow
comes after and may fail (a busy store, an unreachable server) without failing the job.
Whatever was not logged, ``nasrl track sync --results results/EXPERIMENT`` logs later, from
the same files, without logging anything twice. Child jobs do not import MLflow: each
round's update logs the round's children together, in one process (workflow_steps.py lists
what each workflow step logs).

Run tree, in one MLflow experiment per config ``experiment``:

- the search run (one per search settings): params = the resolved search and child settings;
  metrics per round (step = round): mean and max reward, baseline, controller loss, entropy,
  failures, cache hits; tags: git commit, DVC data hash, strategy;
- one nested run per distinct child: params = its decisions; metrics = per-epoch curves and
  the reward; tags = round, key, status (``nasrl.surrogate`` for a child whose reward comes
  from a table); artifacts = the architecture and metrics JSON;
- the final retraining runs, nested too (``nasrl.stage = final``); the best one holds the
  MLflow PyTorch model, registered in the Model Registry.
"""
