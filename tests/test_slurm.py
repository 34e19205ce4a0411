"""The search through `snakemake --profile slurm` on a real one-node SLURM cluster (tests/slurm/).

The cluster (slurmctld + slurmd with two fake GPUs, each divided into two shards) is started
for this module and stopped after it; it needs root and apt. `pytest -m "not slurm"` deselects
these tests.

Every SLURM job pays a few seconds of queueing and status polling and the start-up of
Snakemake inside the job, so two small searches are scripted once each and the tests read what
they left:
- a tiny search (2 rounds x 2 children): while it runs, a training job is cancelled with
  scancel (Snakemake must submit it again), then the run is interrupted as soon as one child
  has finished, and the same command is run again. The same search runs locally alongside, as
  the reference.
- a surrogate search with overlapping rounds (K = 2 replicas x m = 2 children, staleness 1,
  4 rounds), its children on GPU shards as the profile's comment describes: rounds overlap in
  time, 4 children share the 2 GPUs, and the history is the step-by-step reference's.
"""

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slurm.cluster import Cluster, ClusterUnavailable, profile_partition
from workflow_helpers import (BIN, COMPARED, DETERMINISTIC, REPO, TINY, history, make_workdir, step_by_step,
                              surrogate_config, workflow_history)

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

SEARCH = copy.deepcopy(TINY)
SEARCH["search"]["children_per_round"] = 2
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+?)/(?:(\w+)/)?\d+\.log\)")
CLUSTER_RULES = {"prepare_data", "train_child", "retrain_final", "report"}
TIMEOUT = 900  # seconds for one snakemake run; a run takes about 6 minutes on 2 busy cores
# Rounds that overlap: round r + 1 is sampled from controller r (staleness 1), so its children
# can train while round r's slowest finish. Surrogate children sleep FLOPs x 3e-7 s with a
# log-normal spread (about 6 to 45 s): a round's stragglers outlast the next round's sampling
# (a process that imports torch, seconds on a busy machine), yet the run stays a few minutes.
STALE = surrogate_config(rounds=4, m=2, replicas=2, staleness=1, seconds_column="flops",
                         seconds_per_unit=3e-7, seconds_jitter=0.5)
PROFILE_RUNTIME = "12:00:00"  # slurm/config.yaml: train_child runtime 720 minutes


def answer_ctrl_c() -> None:
    """Give the child process the default SIGINT handling. A shell without job control starts
    background commands (`pytest &`, nohup) with SIGINT ignored, Python keeps an inherited
    SIG_IGN, and Snakemake would then never see the Ctrl-C the interrupt test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_snakemake(workdir: Path, log: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with open(log, "w") as out:  # a file, not a pipe: nobody reads while the run goes on
        return subprocess.Popen([f"{BIN}/snakemake", *args], cwd=workdir, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=answer_ctrl_c)


def finish(process: subprocess.Popen, log: Path) -> None:
    try:
        process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, f"{process.args} failed:\n{log.read_text()[-4000:]}"


def wait_for(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def submissions(*logs: Path) -> list[tuple[str, str, str]]:
    """(SLURM job id, rule, wildcards) of every job Snakemake submitted, in order."""
    return [match.groups("") for log in logs for match in SUBMITTED.finditer(log.read_text())]


def jobs(cluster: Cluster) -> dict[str, dict]:
    """Every job the controller still remembers (MinJobAge): id -> state and Snakemake's comment."""
    rows = cluster.run("squeue", "--states=all", "-h", "-o", "%i|%T|%k").split()
    return {i: {"state": state, "comment": comment} for i, state, comment in (row.split("|") for row in rows)}


def queue_empties(cluster: Cluster, timeout: float) -> bool:
    """Whether no job is pending, running or completing within `timeout` seconds."""
    deadline = time.time() + timeout
    while cluster.run("squeue", "-h").strip():
        if time.time() > deadline:
            return False
        time.sleep(0.5)
    return True


def job_fields(cluster: Cluster, job_id: str, *fields: str) -> tuple[str | None, ...]:
    """Fields of `scontrol show job -d` (None where absent or null)."""
    details = cluster.run("scontrol", "show", "job", "-d", job_id)
    found = [re.search(rf"\b{field}=(\S+)", details) for field in fields]
    return tuple(None if m is None or m.group(1) in ("(null)", "Unknown") else m.group(1) for m in found)


def gpus(cluster: Cluster, job_id: str) -> tuple[str | None, str | None]:
    """The GPUs a job asked for (TresPerJob) and was given (JOB_GRES)."""
    return job_fields(cluster, job_id, "TresPerJob", "JOB_GRES")


def job_span(cluster: Cluster, job_id: str) -> tuple[float, float]:
    """When a finished job started and ended (seconds since the epoch; SLURM keeps whole seconds)."""
    start, end = job_fields(cluster, job_id, "StartTime", "EndTime")
    return tuple(time.mktime(time.strptime(value, "%Y-%m-%dT%H:%M:%S")) for value in (start, end))


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at one time; one ending when another starts does not count as both."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:  # at equal times the ends (-1) sort first
        running += step
        peak = max(peak, running)
    return peak


def share_gpus(profile: Path) -> None:
    """Edit a copy of the profile as its comment describes for GPU sharding: train_child asks
    for one GPU shard (`gres: "shard:1"`) instead of a GPU."""
    settings = yaml.safe_load(profile.read_text())
    child = settings["set-resources"]["train_child"]
    for key in ("gpu", "gpu_model"):
        child.pop(key, None)
    child["gres"] = "shard:1"
    profile.write_text(yaml.safe_dump(settings))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        started = Cluster(tmp_path_factory.mktemp("slurm-cluster"), partition=profile_partition()).start()
    except ClusterUnavailable as error:
        pytest.fail(f"the SLURM test cluster could not start: {error}", pytrace=False)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def run(cluster, tmp_path_factory):
    """The scripted search: scancel a child, interrupt the run, restart it; and the local reference."""
    base = tmp_path_factory.mktemp("slurm-search")
    local = make_workdir(base / "local", SEARCH)
    workdir = make_workdir(base / "slurm", SEARCH)
    shutil.copytree(REPO / "slurm", workdir / "slurm")
    children = workdir / "results" / "tiny" / "children"
    first_log, second_log = base / "first.log", base / "second.log"
    started = time.time()
    reference = start_snakemake(local, base / "local.log", "--cores", "1")
    first = start_snakemake(workdir, first_log, "--profile", "slurm")

    def running_child():
        return next((i for i, job in jobs(cluster).items()
                     if job["state"] == "RUNNING" and job["comment"].startswith("rule_train_child")), None)

    cancelled = wait_for(running_child, "a running train_child job")
    cluster.run("scancel", cancelled)
    # A child counts as finished once Snakemake has seen its job end; a metrics.json written by a
    # job it has not yet polled is removed on interrupt, as an incomplete output.
    wait_for(lambda: "(Rule: train_child)" in first_log.read_text(), "Snakemake to see a child finish")
    first.send_signal(signal.SIGINT)  # Ctrl-C: Snakemake cancels its running jobs and stops
    first.wait(120)
    interrupted = "Terminating processes on user request" in first_log.read_text()
    # Snakemake cancels the jobs it had running when interrupted: none is left in the queue.
    drained = queue_empties(cluster, timeout=60)
    finished_before = {p.parent.name: p.stat().st_mtime_ns for p in children.glob("*/metrics.json")}
    history_before = (workdir / "results" / "tiny" / "history.parquet").exists()

    finish(start_snakemake(workdir, second_log, "--profile", "slurm"), second_log)
    finish(reference, base / "local.log")
    print(f"\nSLURM search with a cancelled job and a restart: {time.time() - started:.0f} s")
    return dict(workdir=workdir, local=local, logs=(first_log, second_log), cancelled=cancelled,
                finished_before=finished_before, history_before=history_before, drained=drained,
                interrupted=interrupted)


def test_every_child_trains_as_a_slurm_job_with_a_gpu(cluster, run):
    submitted = submissions(*run["logs"])
    known = jobs(cluster)
    table = history(run["workdir"])
    completed = {wildcards for job_id, rule, wildcards in submitted
                 if rule == "train_child" and known[job_id]["state"] == "COMPLETED"}
    # Every distinct child trained by a SLURM job: one that completed, or one that had written
    # the child's results when the Ctrl-C cancelled it (its job was still ending), which the
    # second run then does not train again.
    trained = {wildcards for _, rule, wildcards in submitted if rule == "train_child"}
    assert completed <= set(table["key"]) <= completed | set(run["finished_before"])
    assert set(table["key"]) <= trained
    for job_id, rule, wildcards in submitted:
        assert known[job_id]["comment"] == f"rule_{rule}" + (f"_wildcards_{wildcards}" if wildcards else "")
        requested, held = gpus(cluster, job_id)
        if rule == "train_child":  # the profile's runtime, not children.smk's 60 minutes
            assert job_fields(cluster, job_id, "TimeLimit") == (PROFILE_RUNTIME,), job_id
        if rule in ("train_child", "retrain_final"):
            assert requested == "gres:gpu:1", job_id  # sbatch --gpus=1
            if known[job_id]["state"] == "COMPLETED":
                assert held == "gpu:fake:1", job_id  # one of the node's fake GPUs
        else:
            assert requested is None and held is None, job_id  # data checks and the report hold no GPU
    # The controller steps are local rules: they run beside Snakemake, not in the queue.
    assert {"train_child", "retrain_final"} <= {rule for _, rule, _ in submitted} <= CLUSTER_RULES


def test_the_search_on_slurm_gives_the_same_history_as_a_local_run(run):
    table = history(run["workdir"])
    assert len(table) == 2 * 2 and (table["status"] == "ok").all()
    pd.testing.assert_frame_equal(table[DETERMINISTIC], history(run["local"])[DETERMINISTIC])
    assert (run["workdir"] / "results" / "tiny" / "final" / "best.json").exists()


def test_a_child_cancelled_with_scancel_is_submitted_again_and_completes(cluster, run):
    known = jobs(cluster)
    assert known[run["cancelled"]]["state"] == "CANCELLED"
    comment = known[run["cancelled"]]["comment"]
    again = [i for i, job in known.items() if job["comment"] == comment and int(i) > int(run["cancelled"])]
    assert again, f"no job after {run['cancelled']} trained {comment}"
    key = comment.rsplit("_", 1)[-1]
    # The job submitted again completed, or had finished the child when the Ctrl-C cancelled it.
    assert known[again[-1]]["state"] == "COMPLETED" or key in run["finished_before"]
    assert (run["workdir"] / "results" / "tiny" / "children" / key / "metrics.json").exists()


def test_an_interrupted_run_resumes_without_training_finished_children_again(cluster, run):
    assert run["interrupted"]  # Snakemake took the Ctrl-C
    assert run["finished_before"] and not run["history_before"]  # stopped mid-search
    children = run["workdir"] / "results" / "tiny" / "children"
    for key, mtime in run["finished_before"].items():
        assert (children / key / "metrics.json").stat().st_mtime_ns == mtime, f"{key} was trained again"
    resubmitted = {wildcards for _, rule, wildcards in submissions(run["logs"][1]) if rule == "train_child"}
    assert not resubmitted & set(run["finished_before"])
    assert run["drained"]


@pytest.fixture(scope="module")
def stale(cluster, tmp_path_factory):
    """The surrogate search with overlapping rounds, its children on GPU shards (profile copy)."""
    base = tmp_path_factory.mktemp("slurm-stale")
    workdir = make_workdir(base / "slurm", STALE)
    shutil.copytree(REPO / "slurm", workdir / "slurm")
    share_gpus(workdir / "slurm" / "config.yaml")
    log = base / "snakemake.log"
    started = time.time()
    finish(start_snakemake(workdir, log, "--profile", "slurm"), log)
    print(f"\nSLURM surrogate search, 4 overlapping rounds on GPU shards: {time.time() - started:.0f} s")
    children = {key: job_id for job_id, rule, key in submissions(log) if rule == "train_child"}  # the last job per key
    return dict(workdir=workdir, log=log, children=children)


def test_a_stale_search_on_slurm_trains_the_next_round_while_a_round_finishes(cluster, stale):
    table = workflow_history(stale["workdir"])
    trained = table[~table["repeat"]]  # a child sampled again is trained once, for its first round
    spans = {}
    for key in trained["key"]:
        metrics = json.loads((stale["workdir"] / "results" / "scale" / "children" / key / "metrics.json").read_text())
        spans[key] = (metrics["started_at"], metrics["finished_at"])
        # the child's own clock lies within its SLURM job's (whole seconds)
        start, end = job_span(cluster, stale["children"][key])
        assert start - 1 <= metrics["started_at"] <= metrics["finished_at"] <= end + 1, key
    rounds = trained.assign(start=[spans[k][0] for k in trained["key"]], end=[spans[k][1] for k in trained["key"]])
    bounds = rounds.groupby("round").agg(first_start=("start", "min"), last_end=("end", "max"))
    overlapping = [r for r in bounds.index if r + 1 in bounds.index
                   and bounds.loc[r + 1, "first_start"] < bounds.loc[r, "last_end"]]
    print(f"\nrounds r whose successor started before r's last child ended: {overlapping}")
    assert overlapping


def test_a_stale_search_on_slurm_gives_the_step_by_step_history(stale, tmp_path, monkeypatch):
    table = workflow_history(stale["workdir"])
    assert len(table) == 4 * 2 * 2 and (table["status"] == "ok").all() and table["surrogate"].all()
    reference = step_by_step(STALE, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(table[COMPARED], reference[COMPARED])


def test_children_on_gpu_shards_share_the_gpus(cluster, stale):
    """With 2 shards per GPU, 4 children run at once on the 2 fake GPUs, each holding a shard
    and no whole GPU."""
    for job_id in stale["children"].values():
        assert job_fields(cluster, job_id, "TresPerNode", "TresPerJob", "JOB_GRES") == (
            "gres:shard:1", None, "shard:1"), job_id
    shards = cluster.gpus * cluster.shards_per_gpu
    assert most_at_once([job_span(cluster, job_id) for job_id in stale["children"].values()]) == shards == 4
