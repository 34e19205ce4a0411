import json
import subprocess
import sys

import pandas as pd
import pytest

from nasrl.cli import main

SPACE = """\
decisions:
  - {name: l0, choices: ["0", "1", "2"]}
  - {name: l1, choices: ["0", "1", "2"]}
  - {name: l2, choices: ["0", "1", "2"]}
key: "{l0}{l1}{l2}"
"""


@pytest.fixture
def bench_files(tmp_path):
    """A 27-row table: reward grows with the digit sum; report = 100 - key position."""
    keys = [f"{a}{b}{c}" for a in "012" for b in "012" for c in "012"]
    table = pd.DataFrame({"arch": keys, "acc": [sum(map(int, k)) / 6 for k in keys], "test": [100.0 - i for i in range(27)]})
    table.to_csv(tmp_path / "table.csv", index=False)
    (tmp_path / "space.yaml").write_text(SPACE)
    return tmp_path


def bench_args(d, *extra):
    return ["bench", "--space", str(d / "space.yaml"), "--table", str(d / "table.csv"), "--key-column", "arch",
            "--reward-column", "acc", "--report-column", "test", "--budget", "20", "--repeats", "3",
            "--seed", "5", "--out", str(d / "out"), *extra]


def test_bench_writes_curves_and_summary(bench_files, capsys):
    assert main(bench_args(bench_files, "--strategy", "reinforce", "--strategy", "random", "--eval-at", "10")) == 0
    curves = pd.read_csv(bench_files / "out" / "curves.csv", dtype={"key": str})
    assert list(curves.columns) == ["strategy", "repeat", "step", "trainings", "round", "replica", "key", "reward",
                                    "best_so_far"]
    assert len(curves) == 2 * 3 * 20
    assert set(curves["strategy"]) == {"reinforce", "random"}
    table = pd.read_csv(bench_files / "table.csv", dtype={"arch": str}).set_index("arch")
    assert (curves["reward"] == table.loc[curves["key"], "acc"].to_numpy()).all()
    for _, run in curves.groupby(["strategy", "repeat"]):
        assert list(run["step"]) == list(range(1, 21))
        assert (run["best_so_far"] == run["reward"].cummax()).all()
        assert list(run["trainings"]) == list((~run["key"].duplicated()).cumsum())  # distinct children so far

    summary = json.loads((bench_files / "out" / "summary.json").read_text())
    assert set(summary["at_step"]) == {"10", "20"}
    assert summary["at_step"]["20"] == summary["strategies"]
    for strategy, stats in summary["strategies"].items():
        run_best = curves[curves.strategy == strategy].groupby("repeat")["reward"].max()
        assert stats["best_reward"]["mean"] == pytest.approx(run_best.mean())
        assert stats["best_reward"]["std"] == pytest.approx(run_best.std(ddof=1))
        for k in (1, 5, 15):
            assert {"top%d_unique_reward" % k, "top%d_unique_report" % k} <= set(stats)
        # top-k of UNIQUE architectures, by reward, per repeat
        expected = []
        for _, run in curves[curves.strategy == strategy].groupby("repeat"):
            expected.append(run.drop_duplicates("key")["reward"].nlargest(5).mean())
        assert stats["top5_unique_reward"]["mean"] == pytest.approx(sum(expected) / len(expected))
    assert json.loads(capsys.readouterr().out)["out"] == str(bench_files / "out")


def test_bench_is_reproducible(bench_files):
    main(bench_args(bench_files))
    first = (bench_files / "out" / "curves.csv").read_text()
    main(bench_args(bench_files))
    assert (bench_files / "out" / "curves.csv").read_text() == first


def test_key_missing_from_the_table_is_a_clear_error(bench_files, capsys):
    table = pd.read_csv(bench_files / "table.csv", dtype={"arch": str})
    table[table.arch != "111"].to_csv(bench_files / "table.csv", index=False)
    assert main(bench_args(bench_files, "--strategy", "random", "--budget", "200")) == 1
    err = capsys.readouterr().err
    assert "architecture key '111' is not in column 'arch' of" in err and err.count("\n") == 1


def test_unknown_column_is_a_clear_error(bench_files, capsys):
    args = bench_args(bench_files)
    args[args.index("acc")] = "accuracy"
    assert main(args) == 1
    assert "no reward column 'accuracy'; columns are ['arch', 'acc', 'test']" in capsys.readouterr().err


def test_bench_help_explains_outputs():
    out = subprocess.run([sys.executable, "-m", "nasrl.cli", "bench", "--help"], capture_output=True, text=True, check=True).stdout
    for phrase in ("curves.csv", "summary.json", "--reward-transform", "top-1/5/15 unique", "--budget"):
        assert phrase in out


def test_bench_runs_replicas_and_staleness_as_the_pipeline_does(bench_files):
    """K = 2, s = 1: rounds of 2 x 4 samples, round r from controller r - 1; the last round is
    cut at the budget; the search is still reproducible."""
    args = bench_args(bench_files, "--strategy", "reinforce", "--batch-size", "4", "--replicas", "2",
                      "--staleness", "1", "--lr", "1.0")
    assert main(args) == 0
    curves = pd.read_csv(bench_files / "out" / "curves.csv", dtype={"key": str})
    run = curves[curves.repeat == 0]
    assert list(run["round"]) == [0] * 8 + [1] * 8 + [2] * 4
    assert list(run["replica"]) == [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4 + [0] * 4
    summary = json.loads((bench_files / "out" / "summary.json").read_text())
    assert (summary["replicas"], summary["staleness"]) == (2, 1)
    first = (bench_files / "out" / "curves.csv").read_text()
    assert main(args) == 0
    assert (bench_files / "out" / "curves.csv").read_text() == first
    # rounds 0 and 1 both come from controller 0: the same samples as a synchronous K = 2 run's round 0,
    # and round 1 of the synchronous run differs (it comes from the updated controller)
    assert main(bench_args(bench_files, "--strategy", "reinforce", "--batch-size", "4", "--replicas", "2",
                           "--lr", "1.0")) == 0
    sync = pd.read_csv(bench_files / "out" / "curves.csv", dtype={"key": str})
    sync = sync[sync.repeat == 0]
    assert list(sync["key"][:8]) == list(run["key"][:8])
    assert list(sync["key"][8:16]) != list(run["key"][8:16])


def test_bench_rejects_bad_round_settings(bench_files, capsys):
    assert main(bench_args(bench_files, "--replicas", "0")) == 1
    assert "replicas: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_a_budget_in_trainings_runs_until_that_many_distinct_children(bench_files):
    """Repeats are free, as in the pipeline: each search trains exactly 12 distinct children,
    draws more samples than that when it repeats itself, and both counts are reported."""
    args = bench_args(bench_files, "--strategy", "reinforce", "--strategy", "evolution", "--strategy", "random",
                      "--budget-unit", "trainings", "--lr", "0.03", "--population", "4", "--tournament", "2",
                      "--eval-at", "6")
    args[args.index("--budget") + 1] = "12"
    assert main(args) == 0
    curves = pd.read_csv(bench_files / "out" / "curves.csv", dtype={"key": str})
    summary = json.loads((bench_files / "out" / "summary.json").read_text())
    assert summary["budget_unit"] == "trainings"
    for (strategy, _), run in curves.groupby(["strategy", "repeat"]):
        assert run["key"].nunique() == 12 and run["trainings"].iloc[-1] == 12
        assert not run["key"].iloc[-1] in set(run["key"].iloc[:-1])  # the run ends at its 12th distinct child
        assert list(run["step"]) == list(range(1, len(run) + 1))
    samples = curves.groupby(["strategy", "repeat"]).size()
    assert samples["reinforce"].mean() > 12  # lr 0.03 concentrates the controller: it repeats itself
    for strategy, stats in summary["strategies"].items():
        assert stats["trainings"] == {"mean": 12.0, "std": 0.0}
        assert stats["samples"]["mean"] == pytest.approx(samples[strategy].mean())
        at6 = summary["at_step"]["6"][strategy]
        assert at6["trainings"]["mean"] == 6.0
        first6 = curves[(curves.strategy == strategy) & (curves.trainings <= 6)]
        assert at6["samples"]["mean"] == pytest.approx(first6.groupby("repeat").size().mean())
    # a controller that collapses onto a few architectures stops at 20 x budget samples
    assert main(bench_args(bench_files, "--strategy", "reinforce", "--budget-unit", "trainings", "--lr", "0.5")) == 0
    collapsed = json.loads((bench_files / "out" / "summary.json").read_text())["strategies"]["reinforce"]
    assert collapsed["samples"]["mean"] == 400 and collapsed["trainings"]["mean"] < 20
    # counted in samples, the same seeds spend exactly the budget in samples
    main(bench_args(bench_files, "--strategy", "reinforce", "--lr", "0.5"))
    by_samples = json.loads((bench_files / "out" / "summary.json").read_text())["strategies"]["reinforce"]
    assert by_samples["samples"] == {"mean": 20.0, "std": 0.0} and by_samples["trainings"]["mean"] < 20


def test_a_budget_in_trainings_beyond_the_table_is_a_clear_error(bench_files, capsys):
    args = bench_args(bench_files, "--budget-unit", "trainings")
    args[args.index("--budget") + 1] = "28"
    assert main(args) == 1
    assert "budget 28 trainings: the table has only 27 architectures" in capsys.readouterr().err


def test_bench_rejects_a_tournament_larger_than_the_population(bench_files, capsys):
    assert main(bench_args(bench_files, "--strategy", "evolution", "--population", "3", "--tournament", "4")) == 1
    err = capsys.readouterr().err
    assert "search.evolution.tournament: expected an integer in [1, 3]" in err and err.count("\n") == 1


def test_bench_reads_controller_settings_from_a_file(bench_files):
    (bench_files / "controller.yaml").write_text("lr: 0.2\nnormalize_advantage: true\nppo_epochs: 3\nppo_clip: 0.2\n")
    assert main(bench_args(bench_files, "--strategy", "reinforce", "--controller-config",
                           str(bench_files / "controller.yaml"))) == 0
    summary = json.loads((bench_files / "out" / "summary.json").read_text())
    assert summary["reinforce"] == {"lr": 0.2, "baseline_decay": 0.95, "entropy_weight": 0.0,
                                    "normalize_advantage": True, "ppo_epochs": 3, "ppo_clip": 0.2}
    with_file = (bench_files / "out" / "curves.csv").read_text()
    main(bench_args(bench_files, "--strategy", "reinforce", "--lr", "0.2"))
    assert (bench_files / "out" / "curves.csv").read_text() != with_file  # the settings changed the search
