"""Warm start for the workflow's jobs: torch and Lightning imported once, each job forked.

Every child is a workflow job and every job a new ``nasrl`` process; importing torch and
Lightning costs a new process 8-10 s on 2 CPU cores, against the 3 s a default child trains
(docs/benchmarks.md). With warm start, a job's ``nasrl`` process is a thin client: it hands its
command line, working directory, environment and stdout/stderr to a local server that has the
imports done, which forks a worker to run the command; the client waits and exits with the
worker's status. The job (inputs, outputs, log, benchmark) is the same Snakemake job.

- client.py: ``forward(argv)``; starts the server when none answers, else runs in-process.
- server.py: the server: one process, one thread, a fork per request; a worker whose client
  went away (a killed job or run) is killed; it exits after a minute without work.

The workflow turns it on for its jobs (``NASRL_WARM_START=1``, workflow/rules/common.smk) unless
the environment sets it to 0; jobs inside a SLURM allocation always run in-process.
"""
