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
    assert main(["describe", "src/nasrl/spaces/presets/cnn_figure7.json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["space"] == "cnn" and out["depth"] == 15
    assert out["conv_weights"] == 4_199_868
    assert out["params"] > out["conv_weights"]  # + batch norm and the classifier
    assert out["decisions"]["layer_14.anchor"] == [1, 6, 10, 11, 12]  # besides the chain edge from layer 13
    assert main(["describe", "src/nasrl/spaces/presets/rnn_nas_cell.json", "--input-size", "10", "--hidden-size", "4"]) == 0
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
