"""Shared fixtures: small spaces the tests build themselves, one finished tiny search."""

import pytest

from nasrl.spaces import build_space


@pytest.fixture
def tiny_tabular():
    """3 decisions x 3 choices: small enough to enumerate all 27 architectures."""
    return build_space({
        "type": "tabular",
        "decisions": [{"name": f"l{i}", "choices": ["0", "1", "2"]} for i in range(3)],
        "key": "{l0}{l1}{l2}",
    })


@pytest.fixture
def skip_only_cnn():
    """A 3-layer CNN space where only the anchor points decide (every layer may read any earlier one)."""
    return build_space({
        "type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [8],
        "always_connect_previous": False, "depth": {"start": 3, "step": 0, "every": 1, "max": 3},
    })


@pytest.fixture(scope="session")
def finished_tiny_search(tmp_path_factory):
    """One uninterrupted tiny search through `snakemake` (tests/test_workflow.py: TINY), run once
    for the workflow and the tracking tests."""
    from test_workflow import TINY, make_workdir, snakemake

    workdir = make_workdir(tmp_path_factory.mktemp("search") / "run", TINY)
    snakemake(workdir)
    return workdir
