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
    assert list(curves.columns) == ["strategy", "repeat", "step", "round", "replica", "key", "reward", "best_so_far"]
    assert len(curves) == 2 * 3 * 20
    assert set(curves["strategy"]) == {"reinforce", "random"}
    table = pd.read_csv(bench_files / "table.csv", dtype={"arch": str}).set_index("arch")
    assert (curves["reward"] == table.loc[curves["key"], "acc"].to_numpy()).all()
    for _, run in curves.groupby(["strategy", "repeat"]):
        assert list(run["step"]) == list(range(1, 21))
        assert (run["best_so_far"] == run["reward"].cummax()).all()

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
