"""Faults at random points: a search killed with SIGKILL again and again ends as if never killed.

A small surrogate search (3 rounds x 3 children, tracking on, the default SQLite store) runs
once uninterrupted, as the reference. The same search then runs in another folder and its
whole process tree (Snakemake and every job) is killed with SIGKILL at 10 seeded random
moments (after a random number of finished jobs, then a random fraction of a second), each
time restarted with the same command; in between, a second `snakemake` started
in the same folder must stop at once, naming the running one. At the end:

- the history, every round's rewards, every child's metrics and the final result equal the
  reference's (no partial file was taken as finished);
- no child that Snakemake had recorded as finished was trained again;
- the MLflow store holds exactly the reference's runs: none duplicated, none missing.

Surrogate children (rewards from the shipped NAS-Bench-Macro table, tests/test_scaleout.py)
keep every step a real workflow job while a child costs a second or two, so that 10 kills fit
in a few minutes.
"""

import base64
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import BIN, COMPARED, make_workdir, surrogate_config

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CONFIG = surrogate_config(rounds=3, m=3, replicas=1, staleness=0, seconds_column="flops",
                          seconds_per_unit=2e-8, seconds_jitter=0.5)
CONFIG["tracking"] = {"enabled": True}
KILLS = 10
SEED = 2026
TIMEOUT = 600  # seconds for one snakemake run


def start(workdir: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    offset = len(log.read_text()) if log.exists() else 0
    with open(log, "a") as out:
        process = subprocess.Popen([f"{BIN}/snakemake", "--cores", "2"], cwd=workdir, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    process.log_offset = offset  # where this run's output begins in the shared log
    return process


def wait(process: subprocess.Popen, log: Path) -> None:
    try:
        process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, log.read_text()[-4000:]


def session_commands(session: int) -> list[str]:
    """Command lines of the live processes of a session (the run's process tree)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getsid(int(proc.name)) == session:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, ProcessLookupError):
            continue
    return found


def running_steps(session: int) -> set[str]:
    """The nasrl verbs running in the run's process tree: which step a kill interrupts."""
    steps = set()
    for command in session_commands(session):
        words = command.split()
        for i, word in enumerate(words[:-1]):
            if word.endswith("/nasrl") or word == "nasrl":
                steps.add(" ".join(words[i + 1:i + 3]) if words[i + 1] == "track" else words[i + 1])
    return steps or {"snakemake"}


def finished_jobs(log: Path) -> int:
    """Jobs Snakemake has seen finish, over every run that appended to ``log``."""
    return log.read_text().count("Finished jobid") if log.exists() else 0


def ended_before_the_search(process: subprocess.Popen, log: Path) -> bool:
    """Whether the run that ended said it ended before the search finished (the Snakefile's
    onsuccess: snakemake/snakemake#823), asking for the same command again."""
    said = log.read_text()[process.log_offset:]
    return process.returncode != 0 and "the run ended before the search finished" in said


def lock_holder(workdir: Path) -> int | None:
    """The PID the run lock names (src/nasrl/pipeline/run_lock.py); the file outlives its holder."""
    try:
        return json.loads((workdir / ".snakemake" / "nasrl-run" / "scale.lock").read_text()).get("pid")
    except (OSError, ValueError):
        return None


def recorded_finished(workdir: Path, children: Path) -> dict[str, int]:
    """Children whose metrics.json Snakemake has recorded as finished (no incomplete marker):
    key -> mtime. A job killed after writing its file but before Snakemake saw it end is still
    incomplete, and is rerun by design (profiles/default: rerun-incomplete)."""
    marked = set()
    incomplete = workdir / ".snakemake" / "incomplete"
    for path in incomplete.rglob("*") if incomplete.exists() else []:
        if path.is_file():
            parts = path.relative_to(incomplete).parts
            encoded = "".join(part.lstrip("@") for part in parts)
            marked.add(base64.urlsafe_b64decode(encoded).decode())
    return {p.parent.name: p.stat().st_mtime_ns for p in children.glob("*/metrics.json")
            if str(p.relative_to(workdir)) not in marked}


def mlflow_runs(workdir: Path) -> Counter:
    """Every active run of the store, by stage, name and child key, with its reward."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("scale")
    runs = client.search_runs([experiment.experiment_id], max_results=10000)
    return Counter((r.data.tags.get("nasrl.stage"), r.info.run_name, r.data.tags.get("nasrl.key"),
                    r.data.metrics.get("reward")) for r in runs)


def result_files(workdir: Path) -> dict[str, object]:
    """What a finished search leaves, without the fields that time or place change."""
    results = workdir / "results" / "scale"
    timing = {"seconds", "setup_seconds", "started_at", "finished_at"}
    children = {p.parent.name: {k: v for k, v in json.loads(p.read_text()).items() if k not in timing}
                for p in (results / "children").glob("*/metrics.json")}
    rounds = {p.parent.name: pd.read_parquet(p)[COMPARED[:-1]].to_json()
              for p in (results / "rounds").glob("*/rewards.parquet")}
    best = {k: v for k, v in json.loads((results / "final" / "best.json").read_text()).items() if k not in timing}
    return {"children": children, "rounds": rounds, "best": best}


def test_a_search_killed_at_10_random_moments_ends_as_if_never_killed(tmp_path):
    reference = make_workdir(tmp_path / "reference", CONFIG)
    began = time.time()
    wait(start(reference, tmp_path / "reference.log"), tmp_path / "reference.log")
    duration = time.time() - began

    workdir = make_workdir(tmp_path / "killed", CONFIG)
    children = workdir / "results" / "scale" / "children"
    log = tmp_path / "killed.log"
    # The moments: after a seeded random number of finished jobs (counted over all the runs, so
    # a restarted run moves on), then a random fraction of a second, to land inside a job.
    jobs = finished_jobs(tmp_path / "reference.log")
    rng = random.Random(SEED)
    targets = sorted(rng.sample(range(1, jobs), KILLS))
    finished, interrupted = {}, []
    refused = None
    ended_early = 0
    for target in targets:
        process = start(workdir, log)
        while True:
            while finished_jobs(log) < target and process.poll() is None:
                time.sleep(0.05)
            if process.poll() is None or not ended_before_the_search(process, log):
                break
            # Snakemake ended the run after a checkpoint with jobs left (snakemake/snakemake#823);
            # the run says so and asks for the same command again, as a user would give it.
            ended_early += 1
            process = start(workdir, log)
        time.sleep(rng.uniform(0, 1.5))
        if process.poll() is not None and not ended_before_the_search(process, log):
            break  # the search finished before this moment
        if process.poll() is not None:
            process = start(workdir, log)  # ended early during the pause: kill the next run instead
            time.sleep(rng.uniform(0, 1.5))
        if refused is None and lock_holder(workdir) == process.pid:
            second = subprocess.run([f"{BIN}/snakemake", "--cores", "1"], cwd=workdir, capture_output=True,
                                    text=True, timeout=120, env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
            refused = (second.returncode, second.stdout + second.stderr, process.pid)
        interrupted.append(running_steps(process.pid))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for key, mtime in recorded_finished(workdir, children).items():
            finished.setdefault(key, mtime)
    wait(start(workdir, log), log)  # the same command once more, to the end
    print(f"\nreference {duration:.0f} s; killed during: {[sorted(s) for s in interrupted]}; "
          f"runs that ended early and were started again: {ended_early}")

    assert len(interrupted) >= KILLS - 2, "too few kills landed before the search finished"
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / "results" / "scale" / "history.parquet")[COMPARED],
                                  pd.read_parquet(reference / "results" / "scale" / "history.parquet")[COMPARED])
    assert result_files(workdir) == result_files(reference)
    for key, mtime in finished.items():
        assert (children / key / "metrics.json").stat().st_mtime_ns == mtime, f"{key} was trained again"
    assert mlflow_runs(workdir) == mlflow_runs(reference)
    # A second run in the same folder stopped at once, naming the live one.
    assert refused is not None, "no kill came late enough to try a second run"
    code, output, pid = refused
    assert code != 0 and "is running in this folder" in output and f"PID {pid}" in output, output[-2000:]
