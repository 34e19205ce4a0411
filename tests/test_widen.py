"""`nasrl widen`: Table 1's "+40 filters per layer" network from a found CNN."""

import json

import pytest

from nasrl.architecture import ArchitectureError
from nasrl.cli import main
from nasrl.spaces.cnn import widen
from nasrl.models.describe import describe
from nasrl.spaces.presets import preset_architecture, resolve_space


def test_widening_the_v3_reference_by_40_gives_the_plus40_reference_and_fits_the_plus40_space():
    narrow, _ = preset_architecture("cnn_v3_reference")
    plus40, _ = preset_architecture("cnn_v3_reference_plus40")
    wide = widen(narrow, 40)
    assert wide == plus40
    assert resolve_space("cnn_v3_plus40").validate(wide) == wide
    assert describe(wide)["params"] == 35_710_010  # docs/paper.md Sec. 2.5 (Table 1: 37.4M)
    assert narrow != wide and narrow["layers"][0]["num_filters"] == 24  # the input is not changed


def test_widen_command_writes_the_architecture_of_a_preset_or_a_file(tmp_path, capsys):
    out = tmp_path / "wide.json"
    assert main(["widen", "cnn_figure7", "--filters", "8", "-o", str(out)]) in (0, None)
    fig7, _ = preset_architecture("cnn_figure7")
    wide = json.loads(out.read_text())
    assert [layer["num_filters"] for layer in wide["layers"]] == [layer["num_filters"] + 8 for layer in fig7["layers"]]
    assert [layer["inputs"] for layer in wide["layers"]] == [layer["inputs"] for layer in fig7["layers"]]
    assert "extra_filters" in capsys.readouterr().out


@pytest.mark.parametrize("arch, filters, message", [
    ("rnn_nas_cell", 40, "expected a CNN architecture"),
    ("cnn_figure7", 0, "expected a whole number of filters >= 1"),
])
def test_widen_rejects_a_cell_or_a_non_positive_width(arch, filters, message):
    source, _ = preset_architecture(arch)
    with pytest.raises(ArchitectureError, match=message):
        widen(source, filters)
