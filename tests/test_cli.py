import json
import subprocess
import sys

from nasrl.cli import main
from nasrl.spaces.presets import preset_architecture


def test_validate_prints_key_and_decisions(tmp_path, capsys):
    arch, _ = preset_architecture("rnn_figure5")
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(arch))
    assert main(["validate", "--space", "rnn_base2", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "rnn_cell"
    assert out["decisions"]["node_1.combination"] == "elem_mult"
    assert out["decisions"]["cell_indices.new_memory"] == 1
    assert main(["key", str(path)]) == 0
    assert capsys.readouterr().out.strip() == out["key"]


def test_bad_architecture_is_one_error_line_and_nonzero_exit(tmp_path):
    arch, _ = preset_architecture("cnn_figure7")
    arch["layers"][0]["filter_width"] = 2
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(arch))
    done = subprocess.run([sys.executable, "-m", "nasrl.cli", "validate", "--space", "cnn_v1", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "nasrl validate: error: architecture.layers[0].filter_width: 2 is not one of [1, 3, 5, 7]\n"


def test_presets_lists_spaces_and_architectures(capsys):
    assert main(["presets"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"cnn_v1", "cnn_v2", "cnn_v3", "rnn_base8", "rnn_base8_extended", "rnn_base2"} <= set(out["spaces"])
    assert out["architectures"]["cnn_figure7"] == "cnn_v1"


def test_describe_reports_space_depth_parameters_and_decisions(capsys):
    assert main(["describe", "src/nasrl/spaces/presets/cnn_figure7.json", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "cnn" and out["depth"] == 15
    assert out["conv_weights"] == 4_199_868
    assert out["params"] > out["conv_weights"]  # + batch norm and the classifier
    assert out["decisions"]["layer_14.anchor"] == [1, 6, 10, 11, 12]  # besides the chain edge from layer 13
    assert main(["describe", "src/nasrl/spaces/presets/rnn_nas_cell.json", "--json", "--input-size", "10",
                 "--hidden-size", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "rnn_cell" and out["base"] == 8
    assert out["params"] == 8 * 4 * (10 + 4)  # docs/paper.md Sec. 6.3, no bias
    assert out["decisions"]["cell_indices.new_memory"] == 12


def test_describe_bad_input_is_one_error_line(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text('{"space": "cnn", "layers": [{"filter_height": 3}], "max_pool_after": []}')
    done = subprocess.run([sys.executable, "-m", "nasrl.cli", "describe", str(path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "nasrl describe: error: architecture.layers[0].filter_width: missing\n"
    path.write_text("not json")
    done = subprocess.run([sys.executable, "-m", "nasrl.cli", "describe", str(path)], capture_output=True, text=True)
    assert done.returncode == 1 and "is not valid JSON" in done.stderr and done.stderr.count("\n") == 1


# --- the user verbs: --version, the verb list, architecture arguments, describe, draw, show ------

import re  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

import nasrl  # noqa: E402
from nasrl.architecture import content_key  # noqa: E402
from nasrl.layout import ResultsLayout  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def finished_cnn_search(root: Path, arch: dict, space: dict | str = "cnn_v1") -> ResultsLayout:
    """The files of a finished digits search that the architecture verbs read (written directly)."""
    layout = ResultsLayout(root / "results" / "digits")
    layout.best.parent.mkdir(parents=True)
    layout.best.write_text(json.dumps({"status": "ok", "arch": arch, "arch_key": content_key(arch), "rank": 0,
                                       "metric": "val_acc", "val": 0.97, "test": {"test_acc": 0.96},
                                       "run": str(layout.final_run(0, 0))}))
    layout.settings("search").parent.mkdir(parents=True)
    layout.settings("search").write_text(yaml.safe_dump({"space": space, "strategy": "reinforce", "rounds": 2}))
    layout.settings("child").write_text(yaml.safe_dump({"dataset": "digits"}))
    layout.data_summary.write_text(json.dumps({"dataset": "digits", "kind": "image", "in_channels": 1,
                                               "num_classes": 10}))
    return layout


def test_version_is_the_installed_packages(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"nasrl {nasrl.__version__}" == f"nasrl {version('nasrl')}"


def test_help_lists_the_users_verbs_apart_from_the_workflows_steps(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    verbs, steps = out.split("workflow steps")
    listed = set(re.findall(r"^    (\S+)", verbs, re.MULTILINE))
    assert {"show", "draw", "describe", "validate", "key", "presets", "train-child", "bench", "track"} <= listed
    assert not listed & {"sample", "update-controller", "select-top", "report"}
    assert {"prepare-data", "sample", "update-controller", "select-top", "report"} <= set(re.findall(r"[\w-]+", steps))
    with pytest.raises(SystemExit) as done:  # a step is still a command
        main(["sample", "--help"])
    assert done.value.code == 0


def test_every_verb_takes_a_file_a_best_json_a_results_folder_or_a_preset(tmp_path, capsys):
    arch, _ = preset_architecture("cnn_figure7")
    layout = finished_cnn_search(tmp_path, arch)
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    forms = ["cnn_figure7", str(tmp_path / "arch.json"), str(layout.best), str(layout.root), str(layout.best.parent)]
    for form in forms:
        assert main(["key", form]) == 0
        assert capsys.readouterr().out.strip() == content_key(arch), form
        assert main(["describe", form, "--json"]) == 0
        # a search's forms count with its data (8x8 digits: 1 channel, 3 x 3 x 2 x 36 fewer weights in layer 0)
        from_search = form not in forms[:2]
        assert json.loads(capsys.readouterr().out)["conv_weights"] == 4_199_868 - from_search * 648, form
        assert main(["draw", form, "-o", str(tmp_path / "fig.svg")]) == 0
        assert "<svg" in (tmp_path / "fig.svg").read_text()
        capsys.readouterr()
    for form in ("cnn_figure7", str(layout.root), str(layout.best)):  # these know their space
        assert main(["validate", form]) == 0
        assert json.loads(capsys.readouterr().out)["space"] == "cnn"


def test_validate_checks_against_the_searchs_own_space(tmp_path, capsys):
    arch, _ = preset_architecture("cnn_figure7")
    space = {"type": "cnn", "num_filters": [36, 48, 64], "filter_heights": [3, 5, 7], "depth": {"max": 15}}
    layout = finished_cnn_search(tmp_path, arch, space)
    assert main(["validate", str(layout.root)]) == 0
    space["filter_heights"] = [3, 5]
    layout.settings("search").write_text(yaml.safe_dump({"space": space}))
    assert main(["validate", str(layout.root)]) == 1
    assert "architecture.layers[5].filter_height: 7 is not one of [3, 5]" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "results" / "digits" / "final" / "best.json"), "--space", "cnn_v1"]) == 0


def test_describe_prints_a_table_by_default(capsys):
    assert main(["describe", "cnn_figure7"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^conv weights +4,199,868$", out, re.MULTILINE)
    assert re.search(r"^ +12 +7 +5 +1x1 +48 +0 2 5 6 7 8 9 10 11$", out, re.MULTILINE)  # docs/paper.md Sec. 4, L13
    assert re.search(r"^ +14 +7 +5 +1x1 +48 +1 6 10 11 12 13 +classifier$", out, re.MULTILINE)
    assert main(["describe", "rnn_nas_cell"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^cell inject +c_\{t-1\} into node 8: add, tanh$", out, re.MULTILINE)
    assert re.search(r"^ +3 +leaf +elem_mult +relu +x_t h_\{t-1\}$", out, re.MULTILINE)
    assert re.search(r"^ +14 +root, h_t +elem_mult +tanh +12 13$", out, re.MULTILINE)


def test_describe_counts_parameters_with_the_searchs_or_a_configs_sizes(tmp_path, capsys):
    from nasrl.models import CellLanguageModel, CnnChild, count_parameters

    arch, _ = preset_architecture("cnn_figure7")
    layout = finished_cnn_search(tmp_path, arch)
    digits = count_parameters(CnnChild(arch, in_channels=1, num_classes=10))
    assert main(["describe", str(layout.root), "--json"]) == 0  # the search's data.json: 1 channel
    out = json.loads(capsys.readouterr().out)
    assert out["params_for"] == {"in_channels": 1, "num_classes": 10} and out["params"] == digits
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"child": {"dataset": "digits"}}))
    assert main(["describe", "cnn_figure7", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == digits
    assert main(["describe", "cnn_figure7", "--config", str(config), "--in-channels", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params_for"]["in_channels"] == 3  # a flag wins

    cell, _ = preset_architecture("rnn_nas_cell")
    config.write_text(yaml.safe_dump({"child": {"dataset": "pydoc_topics", "language_model": {
        "embedding_size": 16, "hidden_size": 8}}}))
    assert main(["describe", "rnn_nas_cell", "--config", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    vocab = out["model_params_for"]["vocab_size"]
    assert vocab > 100 and out["params"] == 8 * 8 * (16 + 8)  # docs/paper.md Sec. 6.3, one cell layer
    assert out["model_params"] == count_parameters(CellLanguageModel(cell, vocab, 16, 8))


def test_an_architecture_argument_that_names_nothing_is_one_clear_error(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "nasrl.cli", *args], capture_output=True, text=True, cwd=tmp_path)

    done = run("describe", "cnn_figure8")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "architecture 'cnn_figure8': no such file or folder, and not a preset (cnn_figure7" in done.stderr
    (tmp_path / "results" / "half" / "rounds").mkdir(parents=True)
    done = run("draw", "results/half", "-o", "fig.svg")
    assert done.returncode == 1 and "no results/half/final/best.json (the search has not finished)" in done.stderr
    (tmp_path / "best.json").write_text(json.dumps({"status": "no final run succeeded"}))
    done = run("draw", "best.json", "-o", "fig.svg")
    assert done.returncode == 1 and "best.json: holds no architecture (status 'no final run succeeded')" in done.stderr
    assert not (tmp_path / "fig.svg").exists()
    done = run("draw", "best.json", "-o", "fig.svg", "--or-note")  # the workflow's rule: a figure saying why
    assert done.returncode == 0 and "<svg" in (tmp_path / "fig.svg").read_text()


def surrogate_search(root: Path, monkeypatch, rounds_done: int, finish: bool) -> ResultsLayout:
    """A NAS-Bench-Macro surrogate search (3 rounds planned, 4 children each) written by the
    pipeline's own steps into results/macro/: rewards looked up, nothing trained."""
    from nasrl.pipeline.collect import build_history
    from nasrl.pipeline.final import report, retrain, select_top
    from nasrl.settings import ChildConfig, FinalSettings, SearchSettings
    from search_helpers import surrogate_rounds

    monkeypatch.setattr("nasrl.training.surrogate.time.sleep", lambda seconds: None)
    table = REPO / "src" / "nasrl" / "tables" / "nas-bench-macro-cifar10.csv"
    config = {"search": {"space": "nas_bench_macro", "strategy": "reinforce", "seed": 7, "rounds": 3,
                         "children_per_round": 4},
              "child": {"surrogate": {"table": str(table), "key_column": "arch", "reward_column": "test_acc_seed0",
                                      "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}"}},
              "final": {"top_k": 1, "grid": {"lr": [0.1, 0.05]}}}
    layout = ResultsLayout(root / "results" / "macro")
    search, child = SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"])
    layout.settings("search").parent.mkdir(parents=True)
    layout.settings("search").write_text(yaml.safe_dump(config["search"]))
    layout.tracking_state.parent.mkdir(parents=True)
    layout.tracking_state.write_text(json.dumps({"experiment": "macro", "results": str(layout.root),
                                                 "uri": "sqlite:///mlflow.db", "experiment_id": "3",
                                                 "run_id": "0123abcd", "registered_model": "nasrl-macro"}))
    surrogate_rounds(search, child, layout, rounds_done)
    if finish:
        build_history([layout.rewards(r) for r in range(rounds_done)], layout.history)
        select_top(layout.history, 1, layout.top)
        final = FinalSettings.from_dict(config["final"])
        for point in range(2):
            retrain(layout.top, 0, point, child, final, layout.final_run(0, point))
        report(layout.top, [layout.final_run(0, p) for p in range(2)], layout.history, "macro", layout.best,
               layout.search_metrics)
    return layout


def test_show_summarises_a_finished_search_from_its_files(tmp_path, monkeypatch, capsys):
    layout = surrogate_search(tmp_path, monkeypatch, rounds_done=3, finish=True)
    assert main(["show", str(layout.root)]) == 0
    out = capsys.readouterr().out
    history = pd.read_parquet(layout.history)
    assert "progress    3 of 3 rounds (finished); 12 children sampled" in out
    for r, part in history.groupby("round"):  # the rounds table: mean and best-so-far rewards
        best_so_far = history.loc[history["round"] <= r, "reward"].max()
        assert re.search(rf"^ +{r} +4 +\d +0 +{part['reward'].mean():.4f} +{part['reward'].max():.4f} "
                         rf"+{best_so_far:.4f}$", out, re.MULTILINE), out
    best = history.sort_values("reward", ascending=False, kind="stable").iloc[0]
    children = out.split("best children")[1].splitlines()
    assert best["arch_key"] in children[2]  # first row under the header
    chosen = json.loads(layout.best.read_text())
    assert re.search(r"^ *0_0 +0 +0 +lr=0.1 +ok", out, re.MULTILINE) and re.search(r"^ *0_1 +0 +1 +lr=0.05 +ok", out,
                                                                                  re.MULTILINE)
    assert f"chosen      {Path(chosen['run']).name}: {chosen['metric']}" in out
    assert f"best        {layout.best}" in out and f"history     {layout.history}" in out
    assert "search run  0123abcd" in out and "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out
    assert "#/experiments/3/runs" in out


def test_show_follows_a_running_search_and_rejects_other_folders(tmp_path, monkeypatch, capsys):
    layout = surrogate_search(tmp_path, monkeypatch, rounds_done=2, finish=False)
    assert main(["show", str(layout.root)]) == 0
    out = capsys.readouterr().out
    assert "progress    2 of 3 rounds (running); 8 children sampled" in out
    assert "final grid" not in out and "chosen" not in out
    assert main(["show", str(tmp_path)]) == 1
    assert "not a search's results folder" in capsys.readouterr().err
