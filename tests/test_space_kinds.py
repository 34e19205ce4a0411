"""The registry of space kinds: every kind's code is found where the layers allow, and no code
outside the registry and the spaces' and models' own files branches on a kind's name."""

import re
from pathlib import Path

import pytest

from nasrl.architecture import ArchitectureError
from nasrl.space_kinds import KINDS, TRAINABLE, kind_of, load, space_kind
from nasrl.spaces import SPACES

SRC = Path(__file__).resolve().parents[1] / "src" / "nasrl"

# Which part of the package each reference may name: the part of the layer that loads it.
REFERENCE_PARTS = {"space": "spaces", "network": "models", "system": "training", "graph": "draw", "figure": "draw",
                   "summary": "models"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_reference_loads_from_its_layer(name):
    kind = KINDS[name]
    for field, part in REFERENCE_PARTS.items():
        reference = getattr(kind, field)
        if reference is None:
            assert not kind.trainable or field not in ("network", "system", "graph", "figure", "summary"), field
            continue
        assert reference.split(".")[1] == part, f"{name}.{field} = {reference} is not in nasrl.{part}"
        assert load(reference) is not None
    assert SPACES[name].type == name  # the space class the kind names builds architectures of that kind


def test_trainable_kinds_have_everything_a_child_needs():
    assert TRAINABLE == ("cnn", "rnn_cell")
    for name in TRAINABLE:
        kind = KINDS[name]
        assert kind.data in ("image", "text") and kind.metric and kind.reward
        system = load(kind.system)
        for hook in ("data_options", "network_args", "batch_shape", "from_settings", "optimizer_states"):
            assert callable(getattr(system, hook)), (name, hook)
        assert callable(load(kind.network).tensor_specs)
        assert {"summarize", "facts_and_rows"} <= set(dir(load(kind.summary)))


def test_the_paper_facts_per_kind():
    # Sec. 3.2 / 4.1: accuracy, its cube as the reward, controller Adam 6e-4; Sec. 4.2: perplexity,
    # c / ppl^2, Adam 5e-4.
    cnn, cell = KINDS["cnn"], KINDS["rnn_cell"]
    assert (cnn.metric, cnn.higher_is_better, cnn.reward, cnn.controller_lr) == ("val_acc", True, "accuracy", 6e-4)
    assert (cell.metric, cell.higher_is_better, cell.reward, cell.controller_lr) == ("val_ppl", False, "perplexity",
                                                                                     5e-4)


def test_a_kind_without_a_network_or_an_unknown_kind_is_one_line():
    with pytest.raises(ArchitectureError, match=r"architecture.space: 'tabular' is a row of a results table .*; "
                                                r"expected one of \['cnn', 'rnn_cell'\]"):
        kind_of({"space": "tabular"}, trainable=True)
    with pytest.raises(ArchitectureError, match=r"architecture.space: 'mlp' is not a space kind; expected one of "
                                                r"\['cnn', 'rnn_cell', 'tabular'\]"):
        kind_of({"space": "mlp"})
    with pytest.raises(ArchitectureError, match=r"architecture.space: 'list' is not a space kind"):
        kind_of([])
    assert space_kind("tabular") is KINDS["tabular"]


# `arch["space"] == "cnn"`, `arch.get("space") != "rnn_cell"`, `space.type == "tabular"`, `graph.space == ...`
KIND_BRANCH = re.compile(r"""(space|type)["')\]]*\s*(==|!=|in|not in)\s*\(?["'](%s)["']""" % "|".join(KINDS))
ALLOWED = {"space_kinds.py"}  # besides the spaces' and the models' own files


def test_no_code_branches_on_a_kind_outside_the_registry_and_the_model_files():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative in ALLOWED or relative.startswith(("spaces/", "models/")):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if KIND_BRANCH.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "branches on a space kind's name:\n" + "\n".join(found)


def test_the_pattern_sees_the_branches_it_forbids():
    for line in ('if arch["space"] == "cnn":', 'x = a if arch.get("space") != "rnn_cell" else b',
                 'if space.type == "tabular":', 'if graph.space == "cnn"'):
        assert KIND_BRANCH.search(line), line
