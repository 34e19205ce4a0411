"""The paper presets hold every setting they run with themselves.

Snakemake reads config/config.yaml first (the Snakefile's ``configfile:``) and merges a
``--configfile`` over it key by key, so a key a preset leaves out comes from the digits search of
config/config.yaml. A paper preset sets every key that file sets: editing the default search
cannot change a paper-scale run. The paper's values in each preset are pinned where a run uses
them, in tests/test_paper_settings.py and tests/test_paper_settings_lm.py.
"""

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Every preset that runs a paper experiment on its own. config/controller-paper.yaml is a block
# added over another config (its search.controller only), not a run of its own.
PAPER_PRESETS = ["cifar10-paper.yaml", "cifar10-paper-surrogate.yaml", "ptb-paper.yaml", "ptb-char-transfer.yaml"]


def read(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))


def merged(default: dict, name: str) -> dict:
    """config/{name} merged over ``default``, as Snakemake merges a --configfile over config/config.yaml."""
    from snakemake.utils import update_config

    config = copy.deepcopy(default)
    update_config(config, read(name))
    return config


def changed(value):
    """Another value of the same kind: every one differs from ``value``."""
    if isinstance(value, dict):
        return {key: changed(v) for key, v in value.items()}
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list):
        return [*value, "changed"]
    assert value is None, value
    return "changed"


def leaves(config: dict, prefix: str = ""):
    for key, value in config.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_every_paper_preset_is_checked_here():
    names = {path.name for path in (REPO / "config").glob("*paper*.yaml")} - {"controller-paper.yaml"}
    assert names <= set(PAPER_PRESETS)


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_a_change_to_the_default_config_cannot_reach_a_paper_preset(name):
    default = read("config.yaml")
    other = changed(default)  # every value of the default search changed at once
    assert all(a != b for (_, a), (_, b) in zip(leaves(default), leaves(other), strict=True))
    before, after = dict(leaves(merged(default, name))), dict(leaves(merged(other, name)))
    leaked = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    assert leaked == [], f"config/config.yaml sets {leaked} of config/{name}"
