"""The README's figures that do not depend on the machine are what their commands print, and
the history table agrees with itself and with config/config.yaml.

The history table's rewards and accuracies are one machine's (the README says why another CPU
can differ), so they are not rerun here; their arithmetic and the counts are.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nasrl.draw.cnn import cnn_graph
from nasrl.spaces import build_space
from nasrl.spaces.presets import preset_architecture
from nasrl.tracking.links import ui_hint
from nasrl.tracking.state import SearchRun

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
NASRL = Path(sys.executable).parent / "nasrl"


def table_rows(first_cell: str) -> list[list[str]]:
    """The cells of every README table row whose first cell starts with ``first_cell``."""
    rows = [line.strip().strip("|").split("|") for line in README.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows if row[0].strip().startswith(first_cell)]


@pytest.mark.parametrize("name", ["cnn_v3_reference", "cnn_v3_reference_plus40"])
def test_the_describe_table_is_what_nasrl_describe_prints(name):
    [row] = table_rows(f"`{name}`")
    described = json.loads(subprocess.run([NASRL, "describe", name, "--json"], capture_output=True, text=True,
                                          check=True, timeout=300).stdout)
    assert int(row[1]) == described["depth"]
    assert row[2].split()[0] == f"{described['params']:,}"


def test_the_figure_7_caption_counts_its_layers_and_skip_connections():
    arch, _ = preset_architecture("cnn_figure7")
    skips = sum(edge.kind == "skip" for edge in cnn_graph(arch).edges)  # as `nasrl draw` counts them
    alt = re.search(r'<img src="docs/images/cnn_figure7.svg" alt="([^"]+)"', README).group(1)
    assert f"The {len(arch['layers'])}-layer CIFAR-10 network of Fig. 7" in alt
    assert f"{skips} skip connections" in alt


def test_the_printed_mlflow_link_is_what_a_finished_default_search_prints(tmp_path):
    state = tmp_path / "search.json"
    SearchRun(experiment=CONFIG["experiment"], results=f"results/{CONFIG['experiment']}",
              uri="sqlite:///mlflow.db", experiment_id="1", run_id="0" * 32).save(state)
    printed = ui_hint(state)
    block = README.split("A finished run prints how to open it, for the default search:\n\n```\n", 1)[1].split("\n```", 1)[0]
    assert block == printed


def test_the_history_table_agrees_with_itself_and_the_default_config():
    search = CONFIG["search"]
    rounds, children = search["rounds"], search["rounds"] * search["children_per_round"]
    rows = table_rows("REINFORCE") + table_rows("random")
    assert len(rows) == 2
    for row in rows:
        per_round = [float(value) for value in row[1].split()]
        assert len(per_round) == rounds
        assert float(row[2]) == pytest.approx(sum(per_round[5:8]) / 3, abs=0.005)  # "rounds 5-7"
        stopped, of = re.fullmatch(r"(\d+) of (\d+)", row[3]).groups()
        assert int(of) == children and int(stopped) <= children
    # the prose around it
    assert f"{rounds} controller\nrounds of {search['children_per_round']} CNN children each" in README
    assert f"then the {CONFIG['final']['top_k']} best architectures retrained" in README
    space = build_space(search["space"])
    depths = [space.depth_at(seen) for seen in range(children)]
    every = search["space"]["depth"]["every"]
    assert (f"grows\nthe children from {depths[0]} to {depths[-1]} layers in both, a layer more every {every} children"
            in README)
