"""Scale-out: replica rounds and bounded staleness through the pipeline's steps and through
`snakemake`, with surrogate children (rewards from the shipped NAS-Bench-Macro table)."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from nasrl.pipeline.search_steps import init_controller, sample_round
from nasrl.settings import SearchSettings
from nasrl.settings import ChildConfig
from nasrl.training.surrogate import SurrogateTable
from workflow_helpers import (COMPARED, SURROGATE, TABLE, killed_in_round_1_and_resumed, make_workdir, snakemake,
                              step_by_step, surrogate_config, workflow_history)


def test_stale_replica_rounds_through_the_steps(tmp_path, monkeypatch):
    config = surrogate_config(rounds=4, m=3, replicas=2, staleness=1)
    history = step_by_step(config, tmp_path, monkeypatch)
    assert list(history.groupby("round").size()) == [6, 6, 6, 6]
    assert list(history.drop_duplicates("round")["controller"]) == [0, 0, 1, 2]
    assert list(history["replica"][:6]) == [0, 0, 0, 1, 1, 1]
    assert history["surrogate"].all() and (history["status"] == "ok").all()
    stats = json.loads((tmp_path / "s2.json").read_text())
    assert stats["sampled_by"] == 1 and len(stats["replica_steps"]) == 2
    # a round must come from its own sampling controller
    search = SearchSettings.from_dict(config["search"])
    with pytest.raises(ValueError, match="round 3 is sampled by controller 2"):
        sample_round(search, ChildConfig.from_dict(config["child"]), tmp_path / "c1.pt", 3, tmp_path / "wrong")


def test_a_surrogate_child_reads_the_table_and_imports_no_training_stack(tmp_path):
    arch = {"space": "tabular", "decisions": {f"l{i}": v for i, v in enumerate("01201020")}}
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    (tmp_path / "child.yaml").write_text(json.dumps({"child": {"surrogate": {
        **SURROGATE, "seconds_column": "flops", "seconds_per_unit": 1e-9, "seconds_jitter": 0.5}}}))
    code = ("import sys; from nasrl.cli import main; code = main(['train-child', '--arch', 'arch.json', '--config', "
            "'child.yaml', '--out', 'out']); heavy = {'torch', 'pytorch_lightning', 'mlflow'} & set(sys.modules); "
            "print(sorted(heavy)); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    row = pd.read_csv(TABLE, dtype={"arch": str}).set_index("arch").loc["01201020"]
    assert metrics["surrogate"] is True and metrics["status"] == "ok"
    assert metrics["reward"] == pytest.approx((row["test_acc_seed0"] / 100) ** 3)
    assert metrics["params"] == row["params"] and metrics["best_val"] == pytest.approx(row["test_acc_seed0"])
    # the duration: FLOPs x 1e-9 s, times a log-normal factor drawn from the child key
    assert metrics["finished_at"] - metrics["started_at"] >= 0.9 * SurrogateTable.load(
        ChildConfig.from_dict({"surrogate": {**SURROGATE, "seconds_column": "flops", "seconds_per_unit": 1e-9,
                                             "seconds_jitter": 0.5}}).surrogate).seconds(arch, metrics["key"])


@pytest.mark.parametrize("surrogate, message", [
    ({"key_column": "name"}, "child.surrogate.key_column: .* has no column 'name'"),
    ({"table": "missing.csv"}, "child.surrogate.table: file not found: missing.csv"),
    ({"key_template": "{l0}{l1}"}, r"child.surrogate: architecture '\d\d' is not in"),
])
def test_a_bad_surrogate_table_is_one_error_naming_what_is_wrong(tmp_path, surrogate, message):
    config = surrogate_config(rounds=1, m=2, replicas=1, staleness=0, **surrogate)
    search, child = SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"])
    init_controller(search, tmp_path / "c0.pt")
    with pytest.raises(ValueError, match=message):
        sample_round(search, child, tmp_path / "c0.pt", 0, tmp_path / "r0")
    assert not (tmp_path / "r0").exists()  # nothing sampled, no child can start


@pytest.mark.e2e
def test_a_paper_shaped_surrogate_search_runs_through_snakemake(tmp_path, monkeypatch):
    """400 children: 5 rounds of K = 10 replicas x m = 8, staleness 1; the workflow's history is
    the step-by-step reference's, row for row."""
    config = surrogate_config(rounds=5, m=8, replicas=10, staleness=1)
    workdir = make_workdir(tmp_path / "wf", config)
    snakemake(workdir, "--cores", "4")
    history = workflow_history(workdir)
    assert len(history) == 400 and history["surrogate"].all()
    assert list(history.drop_duplicates("round")["controller"]) == [0, 0, 1, 2, 3]
    assert sorted(history["replica"].unique()) == list(range(10))
    reference = step_by_step(config, tmp_path / "reference", monkeypatch)
    pd.testing.assert_frame_equal(history[COMPARED], reference[COMPARED])
    metrics = json.loads((workdir / "results" / "scale" / "metrics.json").read_text())
    assert metrics["children"] == 400
    best = json.loads((workdir / "results" / "scale" / "final" / "best.json").read_text())
    assert set(best["test"]) == {"surrogate_test_acc_seed0"}


@pytest.mark.e2e
def test_a_killed_stale_search_resumes_to_the_same_history(tmp_path, monkeypatch):
    """SIGKILL while rounds overlap (s = 2), then the same command: nothing finished is redone
    and the history equals the reference."""
    config = surrogate_config(rounds=5, m=3, replicas=2, staleness=2, seconds_column="flops",
                              seconds_per_unit=1e-8, seconds_jitter=0.5)
    workdir = killed_in_round_1_and_resumed(make_workdir(tmp_path / "wf", config), cores=4)
    reference = step_by_step(config, tmp_path / "reference", monkeypatch)
    pd.testing.assert_frame_equal(workflow_history(workdir)[COMPARED], reference[COMPARED])


@pytest.mark.e2e
def test_changing_replicas_or_staleness_keeps_every_trained_child(tmp_path):
    """Children are keyed by content, not by the search's shape: a search continued in the same
    folder with other K and s retrains nothing it already has."""
    config = surrogate_config(rounds=2, m=3, replicas=1, staleness=0)
    workdir = make_workdir(tmp_path / "wf", config)
    snakemake(workdir, "--cores", "4")
    children = workdir / "results" / "scale" / "children"
    trained = {p: p.stat().st_mtime_ns for p in children.glob("*/metrics.json")}
    first_round = set(workflow_history(workdir).query("round == 0")["key"])
    config["search"].update(replicas=2, staleness=1)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))  # the same folder, new K and s
    snakemake(workdir, "--cores", "4")
    for path, mtime in trained.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was trained again"
    history = workflow_history(workdir)
    assert len(history) == 2 * 2 * 3 and set(history["replica"]) == {0, 1}
    # replica 0 of round 0 draws the old round 0's stream: the same children, found already trained
    assert set(history.query("round == 0 and replica == 0")["key"]) == first_round
