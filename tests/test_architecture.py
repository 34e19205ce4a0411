import json
import subprocess
import sys

import pytest

from nasrl.architecture import ArchitectureError, canonical_json, content_key, read_json
from nasrl.spaces.presets import preset_architecture


def test_canonical_json_ignores_key_order_and_whitespace():
    a = {"b": [1, 2], "a": {"y": 1, "x": "s"}}
    b = json.loads('{ "a": {"x": "s", "y": 1},   "b": [1, 2] }')
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":"s","y":1},"b":[1,2]}'
    assert content_key(a) == content_key(b)


def test_key_differs_when_content_differs():
    arch, _ = preset_architecture("cnn_figure7")
    changed = json.loads(json.dumps(arch))
    changed["layers"][3]["num_filters"] = 64
    assert content_key(arch) != content_key(changed)


def test_key_is_stable_across_processes():
    arch, _ = preset_architecture("rnn_nas_cell")
    code = "from nasrl.spaces.presets import preset_architecture as p; from nasrl.architecture import content_key as k; print(k(p('rnn_nas_cell')[0]))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert other == content_key(arch)
    assert len(other) == 16 and int(other, 16) >= 0


def test_non_finite_numbers_are_rejected():
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_read_json_reports_bad_json_with_position(tmp_path):
    bad = tmp_path / "arch.json"
    bad.write_text('{"space": "cnn", "layers": [}')
    with pytest.raises(ArchitectureError, match=r"arch.json is not valid JSON \(line 1, column 29"):
        read_json(bad)


def test_read_json_reports_missing_file(tmp_path):
    with pytest.raises(ArchitectureError, match="architecture file not found: .*nope.json"):
        read_json(tmp_path / "nope.json")
