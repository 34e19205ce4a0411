"""Workflow-wide settings checks and results/compare/, one file per search for DVC (dvc.yaml, docs/dvc.md)."""

from pathlib import Path

import pytest
import yaml

from nasrl.errors import SettingsError
from nasrl.layout import ResultsLayout
from nasrl.settings.workflow import validate_workflow_config

REPO = Path(__file__).resolve().parents[1]


def test_each_search_has_its_own_files_in_the_compare_folder():
    search, control = ResultsLayout.for_experiment("digits-cnn"), ResultsLayout.for_experiment("digits-cnn-random")
    assert search.compared("metrics") == Path("results/compare/metrics/digits-cnn.json")
    assert search.compared("rewards") == Path("results/compare/rewards/digits-cnn.csv")
    assert control.compared("rounds") == Path("results/compare/rounds/digits-cnn-random.csv")


def test_dvc_yaml_names_the_compare_folders_and_the_control_names_none_of_its_files():
    """A file named in a dvc.yaml before it exists is reported "failed to load"; a folder is not."""
    top = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert top["metrics"] == ["results/compare/metrics"]
    assert [next(iter(plot)) for plot in top["plots"]] == ["results/compare/rewards", "results/compare/rounds"]
    control = (REPO / "random-search" / "dvc.yaml").read_text()
    assert "results/compare/" not in "\n".join(line for line in control.splitlines() if not line.lstrip().startswith("#"))
    assert "metrics" not in yaml.safe_load(control) and "plots" not in yaml.safe_load(control)


def test_an_experiment_named_compare_is_refused():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["experiment"] = "compare"
    with pytest.raises(SettingsError, match="results/compare/, the folder of every search's DVC files"):
        validate_workflow_config(config)


def test_a_final_choice_within_a_budget_without_a_cost_stops_the_plan():
    """final.within_budget has no budget without child.reward.cost: refused at plan time."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["final"]["within_budget"] = True
    with pytest.raises(SettingsError, match="final.within_budget: .* expected child.reward.cost"):
        validate_workflow_config(config)
