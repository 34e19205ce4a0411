"""The character-level transfer preset (config/ptb-char-transfer.yaml) through the real `snakemake`.

It plans as shipped, and a tiny version of it (the same file, with small sizes and the
character corpus that ships with Python instead of ptb.char.*.txt) runs end to end: no
search, the named cell retrained once, tested once, bits per character reported.
"""

import json
import math
import shutil

import pytest
import yaml

from nasrl.spaces.presets import preset_architecture
from workflow_helpers import REPO, make_workdir, snakemake

PRESET = REPO / "config" / "ptb-char-transfer.yaml"


@pytest.mark.e2e
def test_the_char_transfer_preset_plans_the_final_run_alone(tmp_path):
    workdir = make_workdir(tmp_path / "plan", yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    shutil.copy(PRESET, workdir / "config" / PRESET.name)
    done = snakemake(workdir, "-n", "--configfile", f"config/{PRESET.name}")
    out = done.stdout + done.stderr
    for rule, count in (("select_top", 1), ("retrain_final", 1), ("report", 1)):
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), out[-2000:]
    for rule in ("sample_architectures", "init_controller", "train_child", "summarize_search"):
        assert rule not in out  # a transfer runs no search


def tiny_transfer() -> dict:
    config = yaml.safe_load(PRESET.read_text())
    config["experiment"] = "tiny-char"
    config["child"].update(dataset="pydoc_topics_char", data_dir=None, epochs=2, batch_size=64, threads=1,
                           limit_train_batches=3)
    config["child"]["language_model"].update(embedding_size=6, hidden_size=8, bptt=20)
    return config


@pytest.mark.e2e
def test_a_tiny_char_transfer_runs_end_to_end_and_reports_bits_per_character(tmp_path):
    config = tiny_transfer()
    assert config["final"]["architectures"] == ["rnn_nas_cell"] and config["child"]["language_model"]["optimizer"] == "adam"
    workdir = make_workdir(tmp_path / "char", config)
    snakemake(workdir)
    results = workdir / "results" / "tiny-char"
    best = json.loads((results / "final" / "best.json").read_text())
    assert best["status"] == "ok" and best["arch"] == preset_architecture("rnn_nas_cell")[0]
    assert best["metric"] == "val_ppl" and best["best_epoch"] in (1, 2)
    test = best["test"]
    assert test["test_bpc"] == pytest.approx(test["test_loss"] / math.log(2))
    assert test["test_ppl"] == pytest.approx(math.exp(test["test_loss"]))
    run = json.loads((results / "final" / "runs" / "0_0" / "metrics.json").read_text())
    assert run["dataset"] == "pydoc_topics_char" and run["best_val"] == best["val"]
    curve = (results / "final" / "runs" / "0_0" / "curve.csv").read_text().splitlines()
    header, rows = curve[0].split(","), [dict(zip(curve[0].split(","), line.split(","))) for line in curve[1:]]
    assert "val_bpc" in header and best["val"] == min(float(r["val_ppl"]) for r in rows)  # its best epoch
    headline = json.loads((results / "metrics.json").read_text())
    assert headline["strategy"] == "transfer" and headline["final_test"] == test
    assert not (results / "controller").exists() and not (results / "history.parquet").exists()


def test_transfer_top_checks_the_named_architectures_against_the_space(tmp_path):
    from nasrl.pipeline.final import transfer_top
    from nasrl.settings import FinalSettings

    arch, _ = preset_architecture("rnn_nas_cell")
    (tmp_path / "cell.json").write_text(json.dumps(arch))
    top = transfer_top(FinalSettings.from_dict({"architectures": ["rnn_nas_cell", str(tmp_path / "cell.json")]}),
                       "rnn_base8", tmp_path / "top.json")
    assert [t["rank"] for t in top] == [0, 1] and top[0]["arch"] == top[1]["arch"] == arch
    assert json.loads((tmp_path / "top.json").read_text()) == top
    with pytest.raises(ValueError, match="final.architectures: 'cnn_figure7' is not in the search space rnn_cell"):
        transfer_top(FinalSettings.from_dict({"architectures": ["cnn_figure7"]}), "rnn_base8", tmp_path / "x.json")
    with pytest.raises(ValueError, match="final.architectures: 'nope' is neither an architecture preset"):
        FinalSettings.from_dict({"architectures": ["nope"]})
