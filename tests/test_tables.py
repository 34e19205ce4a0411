"""Results tables that ship with the package: named nasrl:FILE in configs and `nasrl bench`."""

import tomllib
from pathlib import Path

import pytest
import yaml

from nasrl.search.bench import ResultsTable
from nasrl.settings import ChildConfig
from nasrl.tables import table_names, table_path

REPO = Path(__file__).resolve().parents[1]
MACRO = "nasrl:nas-bench-macro-cifar10.csv"


def test_a_shipped_table_is_found_inside_the_package():
    assert MACRO in table_names()
    path = table_path(MACRO)
    assert path.is_file() and path.parent.name == "tables" and path.parent.parent.name == "nasrl"
    assert path.read_text(encoding="utf-8").startswith("arch,")


def test_a_path_is_a_table_of_ones_own(tmp_path):
    assert table_path(tmp_path / "mine.csv") == tmp_path / "mine.csv"
    assert table_path("results/mine.csv") == Path("results/mine.csv")


def test_an_unknown_shipped_name_is_one_line_at_plan_time():
    with pytest.raises(ValueError, match=r"'nasrl:nope.csv' is not a table that ships with nasrl") as err:
        ChildConfig.from_dict({"surrogate": {"table": "nasrl:nope.csv"}})
    assert "\n" not in str(err.value) and "child.surrogate.table" in str(err.value)


def test_the_name_not_the_file_is_kept_so_the_child_key_does_not_move():
    assert ChildConfig.from_dict({"surrogate": {"table": MACRO}}).surrogate.table == MACRO


@pytest.mark.parametrize("config", ["macro-surrogate.yaml", "cifar10-paper-surrogate.yaml"])
def test_the_shipped_surrogate_configs_name_the_shipped_table(config):
    table = yaml.safe_load((REPO / "config" / config).read_text())["child"]["surrogate"]["table"]
    assert table == MACRO


def test_bench_reads_a_shipped_table_by_name():
    table = ResultsTable(MACRO, "arch", "test_acc_seed0", "mean_test_acc")
    assert len(table.reward) == 3 ** 8 and table.path == table_path(MACRO)


def test_the_tables_are_package_data():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["nasrl"]
    assert "tables/*.csv" in data and "tables/README.md" in data
