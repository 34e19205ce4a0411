"""Early stopping of children: the median stopping rule, its callback, the round references,
and a stopped child through the workflow (nasrl.training.early_stopping, nasrl.pipeline.reference)."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from nasrl.pipeline.collect import build_history, collect_rewards, reward_curve, round_summary
from nasrl.settings import ChildConfig, validate_workflow_config
from nasrl.settings.child import EarlyStoppingConfig
from nasrl.settings.child import child_key
from nasrl.training.early_stopping import Reference, best_so_far, quantile, should_stop
from nasrl.training.rewards import reward_from_curve

from training_helpers import SMALL_CNN, read_curve
from workflow_helpers import TINY, make_workdir, snakemake


def rule(**values):
    return EarlyStoppingConfig(enabled=True, **values)


# --- the rule ---------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.1, 0.25, 0.5, 0.9])
def test_the_quantile_is_numpys_linear_interpolation(q):
    values = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2]
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))
    assert quantile([4.0], q) == 4.0


def test_a_child_below_the_median_stops_and_one_at_or_above_goes_on():
    refs = [0.5, 0.6, 0.7]  # median 0.6
    assert should_stop(0.59, 2, refs, rule(), epochs=5, higher_is_better=True)
    assert not should_stop(0.6, 2, refs, rule(), epochs=5, higher_is_better=True)  # an exact tie is not worse
    assert not should_stop(0.61, 2, refs, rule(), epochs=5, higher_is_better=True)


def test_the_quantile_is_the_fraction_of_references_a_child_must_beat():
    refs = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert should_stop(0.45, 1, refs, rule(quantile=0.9), epochs=5, higher_is_better=True)  # 0.9 quantile: 0.46
    assert not should_stop(0.45, 1, refs, rule(quantile=0.5), epochs=5, higher_is_better=True)
    assert not should_stop(0.15, 1, refs, rule(quantile=0.1), epochs=5, higher_is_better=True)  # 0.1 quantile: 0.14


def test_perplexity_uses_the_mirrored_quantile():
    ppl = [100.0, 200.0, 300.0, 400.0, 500.0]
    # beating a quarter of the references means a perplexity below their 0.75 quantile (400)
    assert should_stop(401.0, 1, ppl, rule(quantile=0.25), epochs=5, higher_is_better=False)
    assert not should_stop(400.0, 1, ppl, rule(quantile=0.25), epochs=5, higher_is_better=False)
    assert not should_stop(399.0, 1, ppl, rule(quantile=0.25), epochs=5, higher_is_better=False)
    assert should_stop(301.0, 1, ppl, rule(), epochs=5, higher_is_better=False)  # above the median
    assert not should_stop(300.0, 1, ppl, rule(), epochs=5, higher_is_better=False)


def test_no_stop_before_min_epochs_at_the_last_epoch_or_with_too_few_references():
    refs = [0.9, 0.9, 0.9]
    assert not should_stop(0.1, 1, refs, rule(min_epochs=2), epochs=5, higher_is_better=True)
    assert should_stop(0.1, 2, refs, rule(min_epochs=2), epochs=5, higher_is_better=True)
    assert not should_stop(0.1, 5, refs, rule(), epochs=5, higher_is_better=True)  # it trained fully anyway
    assert not should_stop(0.1, 2, refs, rule(min_reference=4), epochs=5, higher_is_better=True)
    assert not should_stop(0.1, 2, [], rule(), epochs=5, higher_is_better=True)
    assert not should_stop(None, 2, refs, rule(), epochs=5, higher_is_better=True)  # no finite value yet


def test_references_count_their_best_value_so_far_at_each_epoch(tmp_path):
    assert best_so_far([0.2, float("nan"), 0.5, 0.4], True) == [0.2, 0.2, 0.5, 0.5]
    assert best_so_far([float("nan"), 90.0, 95.0], False) == [None, 90.0, 90.0]
    path = tmp_path / "reference.csv"
    path.write_text("key,epoch,value\na,1,0.5\na,2,0.4\na,3,0.7\nb,1,0.6\nb,2,0.8\n")
    reference = Reference.load(path, higher_is_better=True)
    assert reference.by_epoch == {1: [0.5, 0.6], 2: [0.5, 0.8], 3: [0.7]} and reference.children == 2
    assert Reference.load(path, True).fingerprint == reference.fingerprint and len(reference.fingerprint) == 16
    path.write_text("key,epoch,value\na,1,0.5\n")
    assert Reference.load(path, True).fingerprint != reference.fingerprint
    assert Reference.load(None, True).children == 0


# --- a real child -----------------------------------------------------------------------------
def write_reference(path, value, epochs, children=3):
    path.write_text("key,epoch,value\n" + "".join(f"r{i},{e},{value}\n" for i in range(children)
                                                  for e in range(1, epochs + 1)))
    return path


def stopping_config(**stopping):
    return ChildConfig.from_dict({"dataset": "digits", "epochs": 4, "batch_size": 64, "threads": 1,
                                  "limit_train_batches": 2, "early_stopping": {"enabled": True, **stopping}})


def test_a_child_below_every_reference_stops_at_min_epochs_with_a_reward_from_its_curve(tmp_path):
    from nasrl.training.child import train_child

    reference = write_reference(tmp_path / "reference.csv", 0.999, epochs=4)
    metrics = train_child(SMALL_CNN, stopping_config(min_epochs=2), tmp_path / "child", reference=reference)
    assert metrics["status"] == "stopped" and metrics["stopped_epoch"] == 2 and metrics["epochs"] == 2
    curve = read_curve(tmp_path / "child" / "curve.csv")
    assert [row["epoch"] for row in curve] == [1, 2]
    # the reward: its curve completed by the references' median progress (flat references: its
    # best accuracy held for the epochs it did not train)
    best = max(row["val_acc"] for row in curve)
    assert metrics["projected_val"] == pytest.approx(best)
    assert metrics["reward"] == pytest.approx(reward_from_curve([row["val_acc"] for row in curve] + [best] * 2,
                                                                "accuracy"))
    assert metrics["reward"] > 0 and (tmp_path / "child" / "model.pt").exists()
    assert metrics["reference"]["children"] == 3
    assert metrics["reference"]["fingerprint"] == Reference.load(reference, True).fingerprint
    assert json.loads((tmp_path / "child" / "metrics.json").read_text())["status"] == "stopped"


def test_a_child_above_the_references_trains_every_epoch(tmp_path):
    from nasrl.training.child import train_child

    reference = write_reference(tmp_path / "reference.csv", 0.0, epochs=4)
    metrics = train_child(SMALL_CNN, stopping_config(), tmp_path / "child", reference=reference)
    assert metrics["status"] == "ok" and metrics["stopped_epoch"] is None and metrics["epochs"] == 4


def test_a_stopped_child_is_counted_as_trained_not_failed(tmp_path):
    samples, children = tmp_path / "samples", tmp_path / "children"
    samples.mkdir()
    rows = []
    for index, status in enumerate(["ok", "stopped", "failed"]):
        arch = {"space": "cnn", "layers": [], "n": index}
        key = f"{index:016x}"
        rows.append({"round": 0, "index": index, "key": key, "arch_key": key, "arch": arch})
        (children / key).mkdir(parents=True)
        stopped = {"stopped_epoch": 1, "projected_val": 0.75, "reference": {"children": 3, "fingerprint": "f"}}
        (children / key / "metrics.json").write_text(json.dumps({
            "status": status, "reward": 0.5, "metric": "val_acc", "best_val": 0.8, "seconds": 1.0, "params": 10,
            "epochs": {"ok": 4, "stopped": 1, "failed": 0}[status], "key": key,
            **(stopped if status == "stopped" else {})}))
    (samples / "archs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    collect_rewards(samples, children, "reinforce", tmp_path / "rewards.parquet")
    history = build_history([tmp_path / "rewards.parquet"], tmp_path / "history.parquet")
    assert list(history["status"]) == ["ok", "stopped", "failed"] and list(history["epochs"]) == [4, 1, 0]
    summary = round_summary(history)
    assert summary["failed"].tolist() == [1] and summary["stopped"].tolist() == [1]
    # what a stopped child's reward comes from, beside it in the history and in rewards.csv
    stopped = history.iloc[1]
    assert (stopped["stopped_epoch"], stopped["projected_val"], stopped["reference_children"]) == (1, 0.75, 3)
    assert history.drop(index=1)[["stopped_epoch", "projected_val", "reference_children"]].isna().all().all()
    assert reward_curve(history).loc[1, ["stopped_epoch", "projected_val"]].tolist() == [1, 0.75]


def test_the_mlflow_record_of_a_stopped_child_says_so(tmp_path):
    from nasrl.spaces import build_space
    from nasrl.tracking.record import result_record
    from nasrl.training.child import train_child

    reference = write_reference(tmp_path / "reference.csv", 0.999, epochs=4)
    train_child(SMALL_CNN, stopping_config(min_epochs=1), tmp_path / "child", reference=reference)
    space = build_space({"type": "cnn", "filter_heights": [1, 3], "filter_widths": [1, 3], "num_filters": [8],
                         "strides": [1, 2], "depth": {"start": 3, "step": 0, "every": 1, "max": 3}})
    record = result_record(tmp_path / "child", SMALL_CNN, "child", "parent", {}, space)
    assert record.tags["nasrl.status"] == "stopped" and not record.failed
    summary = {name: value for name, value, step in record.metrics if step == 0}
    assert summary["stopped_epoch"] == 1 and summary["epochs"] == 1
    metrics = json.loads((tmp_path / "child" / "metrics.json").read_text())
    assert summary["projected_val_acc"] == pytest.approx(metrics["projected_val"]) and summary["reference_children"] == 3


def test_the_search_view_shows_the_stopped_epoch_and_the_projected_value_when_children_may_stop():
    from nasrl.tracking.views import view_columns

    assert "metrics.`stopped_epoch`" not in view_columns("digits")
    columns = view_columns("digits", early_stopping=True)
    assert {"metrics.`stopped_epoch`", "metrics.`projected_val_acc`"} <= set(columns)
    assert "metrics.`projected_val_ppl`" in view_columns("ptb", early_stopping=True)


# --- settings -----------------------------------------------------------------------------------
def test_stopping_is_off_by_default_and_enters_the_child_key_only_when_on():
    config = ChildConfig()
    assert not config.early_stopping.enabled and config.early_stopping.quantile == 0.5
    assert "early_stopping" not in config.result_dict()
    on = ChildConfig.from_dict({"early_stopping": {"enabled": True}})
    assert child_key(SMALL_CNN, on) != child_key(SMALL_CNN, config)


@pytest.mark.parametrize("stopping, message", [
    ({"quantile": 0.0}, "child.early_stopping.quantile: Input should be greater than 0, got 0.0"),
    ({"quantile": 1}, "child.early_stopping.quantile: Input should be less than 1, got 1"),
    ({"min_epochs": 0}, "child.early_stopping.min_epochs: Input should be greater than or equal to 1, got 0"),
    ({"min_reference": 0}, "child.early_stopping.min_reference: Input should be greater than or equal to 1, got 0"),
    ({"enabled": True, "min_epochs": 4},
     "child.early_stopping.min_epochs: expected an integer in [1, 3] (below child.epochs = 4), got 4"),
    ({"enabled": True, "epochs": 1},
     "child.early_stopping.enabled: a child of 1 epoch cannot stop early; expected false, or child.epochs >= 2"),
])
def test_bad_stopping_settings_are_one_line_when_the_workflow_plans(stopping, message):
    stopping = dict(stopping)
    config = {"experiment": "plan", "search": {"space": "cnn_v1"},
              "child": {"dataset": "digits", "epochs": stopping.pop("epochs", 4), "early_stopping": stopping}}
    with pytest.raises(ValueError) as err:
        validate_workflow_config(config)
    assert str(err.value) == message


@pytest.mark.e2e
def test_a_min_epochs_beyond_the_epochs_stops_snakemake_before_any_job(tmp_path):
    workdir = make_workdir(tmp_path / "run", TINY)
    done = snakemake(workdir, "--config", 'child={"epochs": 3, "early_stopping": {"enabled": true, "min_epochs": 3}}',
                     check=False)
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert "invalid config: child.early_stopping.min_epochs: expected an integer in [1, 2] (below child.epochs = 3), " \
           "got 3" in output
    assert not (workdir / "results").exists()


# --- the workflow ------------------------------------------------------------------------------
STOPPING_SEARCH = json.loads(json.dumps(TINY))
# Children that learn in an epoch (all 20 batches), of 8 architectures that differ in how well
# they do, so the later rounds' children are not all tied with the references.
STOPPING_SEARCH["search"].update(rounds=3)
STOPPING_SEARCH["search"]["space"].update(filter_heights=[1, 3], num_filters=[2, 8])
STOPPING_SEARCH["child"].update(epochs=2, limit_train_batches=None,
                                early_stopping={"enabled": True, "quantile": 0.9, "min_reference": 1})
STOPPING_SEARCH["tracking"] = {"enabled": False}


def reference_keys(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, {row["key"] for row in rows}


@pytest.fixture(scope="module")
def stopping_search(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("stopping") / "run", STOPPING_SEARCH)
    snakemake(workdir)
    return workdir / "results" / "tiny"


@pytest.mark.e2e
def test_each_round_is_stopped_against_the_earlier_rounds_completed_children(stopping_search):
    history = pd.read_parquet(stopping_search / "history.parquet")
    for round_index in range(3):
        rows, keys = reference_keys(stopping_search / "rounds" / f"{round_index:04d}" / "reference.csv")
        earlier = history[(history["round"] < round_index) & (history["status"] == "ok")]
        assert keys == set(earlier["key"])
        for key in keys:  # every epoch of each reference's curve, as its curve.csv has it
            curve = read_curve(stopping_search / "children" / key / "curve.csv")
            assert [(int(r["epoch"]), float(r["value"])) for r in rows if r["key"] == key] == \
                [(int(c["epoch"]), c["val_acc"]) for c in curve]
    assert reference_keys(stopping_search / "rounds" / "0000" / "reference.csv")[0] == []


@pytest.mark.e2e
def test_a_stopped_child_is_in_the_history_with_its_epochs(stopping_search):
    history = pd.read_parquet(stopping_search / "history.parquet")
    first = history[~history["repeat"]]
    assert (first.loc[first["round"] == 0, "status"] == "ok").all()  # round 0 has no reference
    stopped = first[first["status"] == "stopped"]
    assert len(stopped) >= 1 and (stopped["epochs"] == 1).all()
    assert (first.loc[first["status"] == "ok", "epochs"] == 2).all()
    for key in stopped["key"]:
        metrics = json.loads((stopping_search / "children" / key / "metrics.json").read_text())
        assert metrics["stopped_epoch"] == 1 and metrics["reference"]["children"] >= 1
    headline = json.loads((stopping_search / "metrics.json").read_text())
    assert headline["stopped_children"] == len(stopped) and headline["failed_children"] == 0
    assert headline["child_epochs"] == int(first["epochs"].sum())
    final = json.loads((stopping_search / "final" / "runs" / "0_0" / "metrics.json").read_text())
    assert final["status"] == "ok" and final["epochs"] == 1 and "reference" not in final  # final runs never stop


def test_a_stopped_childs_curve_moves_as_the_median_reference_moves_after_its_stop():
    from nasrl.training.early_stopping import projected_curve

    by_epoch = {1: [0.5, 0.6, 0.7], 2: [0.6, 0.7, 0.8], 3: [0.7, 0.85, 0.9], 4: [0.8, 0.9, 0.95]}
    # stopped after epoch 2 at a best of 0.5 (median 0.7 there): + 0.15, then + 0.2
    assert projected_curve([0.4, 0.5], by_epoch, 4, True) == pytest.approx([0.4, 0.5, 0.65, 0.7])
    assert projected_curve([0.9, 0.8], by_epoch, 4, True)[-1] == 1.0  # accuracy stays within [0, 1]
    # perplexity: the median's ratio; the child stays the same factor above the median
    ppl = {1: [200.0, 300.0, 400.0], 2: [100.0, 150.0, 200.0], 3: [80.0, 120.0, 160.0]}
    assert projected_curve([500.0, 450.0], ppl, 3, False) == pytest.approx([500.0, 450.0, 360.0])
    # epochs the references do not reach are left out
    assert projected_curve([0.4, 0.5], {2: [0.7, 0.7, 0.7]}, 4, True) == [0.4, 0.5]
    assert projected_curve([0.4, 0.5], by_epoch, 2, True) == [0.4, 0.5]  # nothing left to project
