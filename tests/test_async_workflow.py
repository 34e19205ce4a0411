"""search.updates async through Snakemake: surrogate children with random durations, their updates
applied in completion order and journaled; a replay of the journal at other timings gives the
same history; a search killed at random moments resumes along its journal.

Timings: a surrogate's duration factor is drawn from (child key, child.surrogate_timing_seed),
a runtime setting, so two runs of one search differ in timing alone. The two seeds used are
picked here from the durations themselves, so that the first batch to end differs between them
by a margin of seconds, not by chance.
"""

import os
import random
import signal
import time

import pandas as pd
import pytest

from nasrl.search import journal as journals
from nasrl.search.registry import load_strategy
from nasrl.settings import ChildConfig, SearchSettings
from nasrl.training.surrogate import SurrogateTable
from nasrl.pipeline.search_steps import init_controller
from test_faults import ended_before_the_search, finished_jobs, recorded_finished, start, wait
from workflow_helpers import COMPARED, make_workdir, snakemake, surrogate_config

pytestmark = pytest.mark.e2e

CORES = "6"  # every first-step child at once: batches end in the order their durations give
MARGIN = 1.0  # seconds between the first and the second batch to end, under both timings


def config(timing_seed=None, replay=None, tracking=False):
    cfg = surrogate_config(rounds=3, m=2, replicas=3, staleness=0, seconds_column="flops",
                           seconds_per_unit=2.5e-8, seconds_jitter=0.8)
    cfg["search"]["updates"] = "async"
    cfg["child"]["surrogate_timing_seed"] = timing_seed
    if replay is not None:
        cfg["search"]["replay"] = str(replay)
    cfg["tracking"] = {"enabled": tracking}
    return cfg


def first_step_ends(timing_seed, tmp_path):
    """Replica -> when its first batch's slowest child ends (all start at once)."""
    cfg = config(timing_seed)
    search, child = SearchSettings.from_dict(cfg["search"]), ChildConfig.from_dict(cfg["child"])
    init_controller(search, tmp_path / "c0.pt")
    strategy = load_strategy(tmp_path / "c0.pt")
    table = SurrogateTable.load(child.surrogate)
    from nasrl.settings import child_key

    ends = {}
    for replica in range(search.replicas):
        archs = strategy.ask(search.children_per_round, offset=replica * search.children_per_round)
        ends[replica] = max(table.seconds(a, child_key(a, child), timing_seed) for a in archs)
    return ends


def two_timings(tmp_path):
    """Two timing seeds whose first batch to end is another replica's, each ahead by MARGIN."""
    found = {}
    for seed in range(1, 60):
        ends = sorted((end, replica) for replica, end in first_step_ends(seed, tmp_path).items())
        if ends[1][0] - ends[0][0] >= MARGIN:
            found.setdefault(ends[0][1], seed)
        if len(found) == 2:
            return list(found.values())
    raise AssertionError("no two timing seeds with distinct first replicas")


def run(tmp_path, name, cfg):
    workdir = make_workdir(tmp_path / name, cfg)
    snakemake(workdir, "--cores", CORES)
    results = workdir / "results" / "scale"
    return results, journals.read_journal(results / "journal.jsonl"), pd.read_parquet(results / "history.parquet")


def check_valid(journal, history):
    """Every batch applied once, versions in order, each batch sampled by the version its replica's
    previous update made, and the history says the same."""
    batches = [entry.batch for entry in journal.entries]
    assert sorted(batches) == sorted(f"{s:04d}-{r:03d}" for s in range(3) for r in range(3))
    made = {entry.batch: entry.version for entry in journal.entries}
    for entry in journal.entries:
        step, replica = map(int, entry.batch.split("-"))
        assert entry.sampled_by == (0 if step == 0 else made[f"{step - 1:04d}-{replica:03d}"])
    by_batch = history.groupby(["round", "replica"])["controller"].agg(set)
    assert {f"{s:04d}-{r:03d}": c for (s, r), c in by_batch.items()} == {b: {e.sampled_by} for b, e in
                                                                         journal.by_batch.items()}


@pytest.mark.slow
def test_timings_change_the_order_and_a_replay_at_other_timings_gives_the_same_history(tmp_path):
    first, second = two_timings(tmp_path)
    a, journal_a, history_a = run(tmp_path, "a", config(first, tracking=True))
    b, journal_b, history_b = run(tmp_path, "b", config(second))
    for journal, history in ((journal_a, history_a), (journal_b, history_b)):
        check_valid(journal, history)
    # one seed, other timings: another order of updates, so other controllers sample later batches
    assert journal_a.entries[0].batch != journal_b.entries[0].batch
    assert history_a[history_a["round"] == 0]["key"].tolist() == history_b[history_b["round"] == 0]["key"].tolist()
    assert history_a["controller"].tolist() != history_b["controller"].tolist()
    # the first search's journal, replayed under the second's timings: the first search, bit for bit
    c, journal_c, history_c = run(tmp_path, "c", config(second, replay=a / "journal.jsonl"))
    pd.testing.assert_frame_equal(history_c[COMPARED], history_a[COMPARED])
    assert (c / "journal.jsonl").read_bytes() == (a / "journal.jsonl").read_bytes()
    assert (c / "controller" / "final.pt").read_bytes() == (a / "controller" / "final.pt").read_bytes()
    # MLflow: every child once, one step of metrics per update
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{a.parent.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("scale")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    children = [r for r in runs if r.data.tags.get("nasrl.stage") == "child"]
    assert sorted(r.data.tags["nasrl.key"] for r in children) == sorted(set(history_a["key"]))
    search = next(r for r in runs if r.data.tags.get("nasrl.stage") == "search")
    steps = [m.step for m in client.get_metric_history(search.info.run_id, "mean_reward")]
    assert sorted(steps) == list(range(9))


@pytest.mark.slow
def test_a_search_killed_at_random_moments_resumes_along_its_journal(tmp_path):
    cfg = config(timing_seed=3)
    workdir = make_workdir(tmp_path / "killed", cfg)
    results = workdir / "results" / "scale"
    children = results / "children"
    log = tmp_path / "killed.log"
    rng = random.Random(2027)
    prefixes, finished, kills = [], {}, 0
    for target in sorted(rng.sample(range(4, 60), 4)):
        process = start(workdir, log)
        while finished_jobs(log) < target and process.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.0))
        if process.poll() is not None:
            if not ended_before_the_search(process, log):
                break  # the search finished before this moment
            continue  # ended early after a checkpoint (snakemake/snakemake#823): start it again
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        if (results / "journal.jsonl").exists():
            journal = journals.read_journal(results / "journal.jsonl")
            prefixes.append([entry.batch for entry in journal.entries])
            if kills == 1:  # as a kill inside an append would leave it
                with open(results / "journal.jsonl", "a") as f:
                    f.write('{"batch": "0002-00')
        for key, mtime in recorded_finished(workdir, children).items():
            finished.setdefault(key, mtime)
    process = start(workdir, log)
    wait(process, log)
    while ended_before_the_search(process, log):
        process = start(workdir, log)
        wait(process, log)

    assert kills >= 3, "too few kills landed before the search finished"
    journal = journals.read_journal(results / "journal.jsonl")
    history = pd.read_parquet(results / "history.parquet")
    check_valid(journal, history)
    batches = [entry.batch for entry in journal.entries]
    for prefix in prefixes:
        assert batches[:len(prefix)] == prefix, "a resumed search left the journal it had"
    assert any(prefixes), "no kill came after the first update"
    for key, mtime in finished.items():
        assert (children / key / "metrics.json").stat().st_mtime_ns == mtime, f"{key} was trained again"
    # the controller of the last version has seen every update
    assert load_strategy(results / "controller" / "final.pt").updates == 9
