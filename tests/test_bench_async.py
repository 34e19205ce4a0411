"""`nasrl bench --updates async`: asynchronous replicas, updates in simulated completion order."""

import json

import pandas as pd
import pytest

from nasrl.cli import main
from nasrl.search.bench import AsyncPlan, ResultsTable, run_bench, run_strategy
from nasrl.search.rounds import RoundPlan
from nasrl.spaces.tabular import TabularSpace

SPACE = {"type": "tabular", "decisions": [{"name": f"l{i}", "choices": ["0", "1", "2"]} for i in range(3)],
         "key": "{l0}{l1}{l2}"}
KEYS = [f"{a}{b}{c}" for a in "012" for b in "012" for c in "012"]
CONFIG = {"lr": 0.5, "baseline_decay": 0.95, "entropy_weight": 0.0}  # a large step: every update shows


@pytest.fixture
def bench(tmp_path):
    """A 27-row table: reward grows with the digit sum; report = 100 - key position."""
    pd.DataFrame({"arch": KEYS, "acc": [sum(map(int, k)) / 6 for k in KEYS],
                  "test": [100.0 - i for i in range(27)]}).to_csv(tmp_path / "table.csv", index=False)
    return TabularSpace(SPACE), ResultsTable(tmp_path / "table.csv", "arch", "acc", "test")


def search(bench, plan, budget=40, seed=3, config=CONFIG, **kw):
    space, table = bench
    return run_strategy("reinforce", space, table, budget, seed=seed, batch_size=plan.children_per_replica,
                        config=config, plan=plan, **kw)


@pytest.mark.parametrize("budget_unit", ["samples", "trainings"])
def test_one_async_replica_is_the_synchronous_search(bench, budget_unit):
    budget = 10 if budget_unit == "trainings" else 30
    config = {**CONFIG, "lr": 0.1}  # learns, and finds 10 distinct children in far fewer than 200 samples
    sync = search(bench, RoundPlan(4), budget, budget_unit=budget_unit, config=config)
    assert len(sync) > budget if budget_unit == "trainings" else len(sync) == budget
    assert search(bench, AsyncPlan(4, 1, 0.7), budget, budget_unit=budget_unit, config=config) == sync
    assert search(bench, AsyncPlan(4, 1, 0.0), budget, budget_unit=budget_unit, config=config) == sync
    space, table = bench
    curves = {}
    for updates in ("rounds", "async"):
        curves[updates], _ = run_bench(space, table, ["reinforce"], budget, 2, seed=3, batch_size=4,
                                       reinforce_config=config, budget_unit=budget_unit, updates=updates)
    pd.testing.assert_frame_equal(curves["async"], curves["rounds"])


def test_four_replicas_update_in_completion_order(bench):
    plan = AsyncPlan(2, 4, 0.7)
    rows = search(bench, plan, budget=40)
    frame = pd.DataFrame(rows)
    assert list(frame["step"]) == list(range(1, 41))
    assert (frame["best_so_far"] == frame["reward"].cummax()).all()
    assert list(frame["trainings"]) == list((~frame["key"].duplicated()).cumsum())
    batches = list(dict.fromkeys(zip(frame["round"], frame["replica"])))  # in tell order
    assert len(batches) == 20 and all((frame.groupby(["round", "replica"]).size() == 2))
    # every replica runs its fixed chain of 5 batches in order; all 20 offsets are there once
    for k in range(4):
        assert [j for j, r in batches if r == k] == list(range(5))
    assert sorted(plan.offset(j, k) for j, k in batches) == list(range(0, 40, 2))
    # ... and each batch holds the children its offset's random stream draws from the controller
    # that sampled it: the first batch of every replica comes from the initial controller
    rounds = pd.DataFrame(search(bench, RoundPlan(2, 4), budget=40))
    first = frame[frame["round"] == 0].sort_values("replica", kind="stable")
    assert list(first["key"]) == list(rounds["key"][:8])
    # completion order is not replica order: somewhere a batch is told before one that started earlier
    assert batches != sorted(batches)
    # each batch is what the controller asked for at its offset: rows equal the batch's sampling order
    space, table = bench
    assert all(frame["reward"] == [table.lookup(k) for k in frame["key"]])

    assert search(bench, plan, budget=40) == rows  # reproducible
    other = search(bench, AsyncPlan(2, 4, 0.7, duration_seed=12345), budget=40)
    assert [(r["round"], r["replica"]) for r in other] != [(r["round"], r["replica"]) for r in rows]


def test_async_batches_sample_from_the_newest_controller(bench):
    """With no spread every batch ends at the same time, so ties go by replica: replica 0's
    second batch comes from the controller with one update (not from round 1's, with four)."""
    rounds = pd.DataFrame(search(bench, RoundPlan(2, 4), budget=16))
    tied = pd.DataFrame(search(bench, AsyncPlan(2, 4, 0.0), budget=16))
    assert list(tied["replica"]) == [0, 0, 1, 1, 2, 2, 3, 3] * 2
    assert list(tied["round"]) == [0] * 8 + [1] * 8
    assert list(tied["key"][:8]) == list(rounds["key"][:8])  # round 0: the initial controller for both
    assert list(tied["key"][8:]) != list(rounds["key"][8:])


def test_async_budget_is_spent_exactly(bench):
    rows = search(bench, AsyncPlan(3, 4, 0.7), budget=25)  # 25 = 8 batches of 3 and one of 1
    assert len(rows) == 25 and sorted(pd.DataFrame(rows).groupby(["round", "replica"]).size()) == [1] + [3] * 8
    sizes = pd.DataFrame(rows).groupby(["round", "replica"]).size()  # the rounds' batches, cut alike
    assert sizes.to_dict() == pd.DataFrame(search(bench, RoundPlan(3, 4), budget=25)).groupby(
        ["round", "replica"]).size().to_dict()
    # in trainings: the search ends at its 12th distinct child, batches still running are not told
    by_trainings = pd.DataFrame(search(bench, AsyncPlan(3, 4, 0.7), budget=12, budget_unit="trainings",
                                       config={**CONFIG, "lr": 0.05}))
    assert by_trainings["trainings"].iloc[-1] == 12 and by_trainings["key"].nunique() == 12
    assert by_trainings["key"].iloc[-1] not in set(by_trainings["key"].iloc[:-1])
    # a controller that collapses stops at max_samples, sampling no more than that
    collapsed = search(bench, AsyncPlan(3, 4, 0.7), budget=12, budget_unit="trainings", max_samples=50)
    assert len(collapsed) == 50 and collapsed[-1]["trainings"] < 12


def test_bench_cli_runs_async_replicas(tmp_path, bench):
    space_file = tmp_path / "space.yaml"
    space_file.write_text(json.dumps(SPACE))
    args = ["bench", "--space", str(space_file), "--table", str(tmp_path / "table.csv"), "--key-column", "arch",
            "--reward-column", "acc", "--report-column", "test", "--budget", "20", "--repeats", "2", "--seed", "5",
            "--strategy", "reinforce", "--strategy", "evolution", "--batch-size", "2", "--replicas", "4",
            "--updates", "async", "--duration-sigma", "0.5", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["updates"], summary["duration_sigma"], summary["replicas"]) == ("async", 0.5, 4)
    curves = pd.read_csv(tmp_path / "out" / "curves.csv", dtype={"key": str})
    assert len(curves) == 2 * 2 * 20 and set(curves["replica"]) == {0, 1, 2, 3}
    assert main(args[:-2] + ["--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "curves.csv").read_text() == (tmp_path / "out" / "curves.csv").read_text()
    assert main(args[:-6] + ["--out", str(tmp_path / "rounds")]) == 0  # the default: rounds
    assert json.loads((tmp_path / "rounds" / "summary.json").read_text())["updates"] == "rounds"


def test_async_with_staleness_is_one_clear_line(tmp_path, bench, capsys):
    space_file = tmp_path / "space.yaml"
    space_file.write_text(json.dumps(SPACE))
    base = ["bench", "--space", str(space_file), "--table", str(tmp_path / "table.csv"), "--key-column", "arch",
            "--reward-column", "acc", "--budget", "20", "--out", str(tmp_path / "out")]
    assert main(base + ["--updates", "async", "--replicas", "4", "--staleness", "1"]) == 1
    err = capsys.readouterr().err
    assert err == ("nasrl bench: error: --updates async takes no --staleness (a replica samples from the newest "
                   "controller), got --staleness 1\n")
    assert main(base + ["--duration-sigma", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "--duration-sigma sets the simulated durations of --updates async only" in err and err.count("\n") == 1
    assert main(base + ["--updates", "async", "--duration-sigma", "-1"]) == 1
    err = capsys.readouterr().err
    assert "duration_sigma: expected a finite number >= 0, got -1.0" in err and err.count("\n") == 1
    space, table = bench
    with pytest.raises(ValueError, match="staleness 2 with async updates"):
        run_bench(space, table, ["random"], 10, 1, updates="async", staleness=2)
    assert not (tmp_path / "out").exists()
