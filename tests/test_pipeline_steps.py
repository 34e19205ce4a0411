"""The pipeline's steps as plain functions (no Snakemake): sampling, rewards, updates, final."""

import json

import pandas as pd
import pytest

from nasrl.pipeline.collect import build_history, collect_rewards, read_sampled, round_summary
from nasrl.pipeline.final import select_top
from nasrl.pipeline.search_steps import init_controller, sample_round, update_controller
from nasrl.settings import FinalSettings, SearchSettings
from nasrl.search.registry import load_strategy
from nasrl.io import write_json
from nasrl.settings import ChildConfig, child_key

SPACE = {"type": "cnn", "filter_heights": [3], "filter_widths": [1, 3], "strides": [1], "num_filters": [4, 8],
         "depth": {"start": 2, "step": 0, "every": 1, "max": 2}}


@pytest.fixture
def search():
    return SearchSettings.from_dict({"space": SPACE, "seed": 1, "rounds": 2, "children_per_round": 5,
                                     "controller": {"lr": 0.05}})


def fake_child(children_dir, key, status, reward, val):
    """A finished child's metrics.json, as train-child writes it."""
    (children_dir / key).mkdir(parents=True)
    write_json(children_dir / key / "metrics.json",
                      {"status": status, "reward": reward, "metric": "val_acc", "best_val": val, "seconds": 1.0,
                       "params": 100, "error": None if status == "ok" else "RuntimeError: boom"})


def test_sampling_writes_one_line_per_child_and_one_file_per_key(tmp_path, search):
    child = ChildConfig.from_dict({"dataset": "digits", "epochs": 1})
    init_controller(search, tmp_path / "c0.pt")
    rows = sample_round(search, child, tmp_path / "c0.pt", 0, tmp_path / "r0")
    assert len(rows) == 5 and [r["index"] for r in rows] == list(range(5))
    assert read_sampled(tmp_path / "r0") == json.loads(json.dumps(rows))
    for row in rows:
        assert row["key"] == child_key(row["arch"], child)
        assert json.loads((tmp_path / "r0" / f"{row['key']}.json").read_text()) == row["arch"]
    assert len(list((tmp_path / "r0").glob("*.json"))) == len({r["key"] for r in rows})
    # the same controller state samples the same children; other child settings give other keys
    assert sample_round(search, child, tmp_path / "c0.pt", 0, tmp_path / "again") == rows
    other = sample_round(search, ChildConfig.from_dict({"dataset": "digits", "epochs": 2}), tmp_path / "c0.pt", 0,
                         tmp_path / "other")
    assert [r["arch"] for r in other] == [r["arch"] for r in rows]
    assert not {r["key"] for r in other} & {r["key"] for r in rows}


def test_failed_children_feed_their_failure_reward_and_the_search_goes_on(tmp_path, search):
    child = ChildConfig.from_dict({"dataset": "digits"})
    init_controller(search, tmp_path / "c0.pt")
    rows = sample_round(search, child, tmp_path / "c0.pt", 0, tmp_path / "r0")
    keys = sorted({r["key"] for r in rows})
    for i, key in enumerate(keys):
        fake_child(tmp_path / "children", key, "failed" if i == 0 else "ok", 0.0 if i == 0 else 0.5 + 0.1 * i, 0.9)
    table = collect_rewards(tmp_path / "r0", tmp_path / "children", "reinforce", tmp_path / "r0.parquet")
    assert list(table["index"]) == list(range(5))
    failed = table[table["key"] == keys[0]]
    assert (failed["status"] == "failed").all() and (failed["reward"] == 0.0).all()
    stats = update_controller(search, tmp_path / "c0.pt", tmp_path / "r0.parquet", tmp_path / "c1.pt", tmp_path / "s.json")
    assert stats["mean_reward"] == pytest.approx(table["reward"].mean())  # every sample counts, repeats too
    assert json.loads((tmp_path / "s.json").read_text())["round"] == 0
    assert load_strategy(tmp_path / "c1.pt").samples_seen == 5 and load_strategy(tmp_path / "c1.pt").updates == 1


def test_history_marks_repeats_and_top_k_is_unique_and_trained(tmp_path):
    arch = lambda n: {"space": "cnn", "max_pool_after": [], "layers": [  # noqa: E731
        {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": n, "inputs": []}]}
    rows = [(0, 0, "a", arch(4), "ok", 0.5), (0, 1, "b", arch(8), "failed", 0.0), (1, 0, "a", arch(4), "ok", 0.5),
            (1, 1, "c", arch(16), "ok", 0.7), (1, 2, "d", arch(24), "ok", 0.6)]
    paths = []
    for r in (0, 1):
        table = pd.DataFrame([{"round": rd, "index": i, "key": k, "arch_key": k + "x", "arch": json.dumps(a),
                               "strategy": "reinforce", "status": s, "reward": w, "metric": "val_acc", "val": w,
                               "seconds": 1.0, "params": 1} for rd, i, k, a, s, w in rows if rd == r])
        table.to_parquet(tmp_path / f"{r}.parquet")
        paths.append(tmp_path / f"{r}.parquet")
    history = build_history(paths, tmp_path / "history.parquet")
    assert list(history["repeat"]) == [False, False, True, False, False]
    assert list(round_summary(history)["mean_reward"]) == pytest.approx([0.25, 0.6])
    top = select_top(tmp_path / "history.parquet", 3, tmp_path / "top.json")
    assert [t["arch_key"] for t in top] == ["cx", "dx", "ax"]  # failed "b" is never retrained
    assert json.loads((tmp_path / "top.json").read_text()) == top


def test_final_grid_points_override_the_child_settings():
    final = FinalSettings.from_dict({"top_k": 1, "epochs": 7, "grid": {"lr": [0.1, 0.05], "bn_eps": [1e-5, 1e-3],
                                                                        "lr_decay_at": [[0.5, 0.75]]}})
    points = final.points()
    assert len(points) == 4 and points[1] == {"lr": 0.1, "bn_eps": 1e-3, "lr_decay_at": [0.5, 0.75]}
    config = final.child_config(ChildConfig(), points[3])
    assert config.optimizer.lr == 0.05 and config.bn_eps == 1e-3 and config.epochs == 7
    with pytest.raises(ValueError, match=r"final\.grid: unknown key 'momentum'"):
        FinalSettings.from_dict({"grid": {"momentum": [0.9]}})
