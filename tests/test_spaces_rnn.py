import copy

import pytest

from nasrl.architecture import ArchitectureError
from nasrl.spaces.presets import preset_architecture, preset_space
from nasrl.spaces import build_space
from nasrl.spaces.rnn_cell import tree_children


def test_tree_numbers_leaves_first_and_the_root_last():
    assert tree_children(2) == {2: (0, 1)}
    assert tree_children(8) == {8: (0, 1), 9: (2, 3), 10: (4, 5), 11: (6, 7), 12: (8, 9), 13: (10, 11), 14: (12, 13)}


def test_base8_space_has_34_controller_steps():
    space = preset_space("rnn_base8")
    steps = space.steps()
    assert len(steps) == 15 * 2 + 2 + 2  # docs/paper.md Sec. 5.4
    assert [s.name for s in steps[-4:]] == ["cell_inject.combination", "cell_inject.activation",
                                            "cell_indices.new_memory", "cell_indices.inject"]
    assert space.decision_kinds() == {"combination": 2, "activation": 4, "cell_index": 15}


@pytest.mark.parametrize("name", ["rnn_nas_cell", "rnn_figure5"])
def test_cell_presets_round_trip(name):
    arch, space = preset_architecture(name)
    steps, actions = space.encode(arch)
    assert space.decode(steps, actions) == arch
    assert space.validate(arch) == arch


def test_nas_cell_preset_matches_the_tensorflow_cell_structure():
    arch, _ = preset_architecture("rnn_nas_cell")
    nodes = arch["nodes"]
    assert [n["combination"] for n in nodes[:8]].count("elem_mult") == 1 and nodes[3]["combination"] == "elem_mult"
    assert nodes[12] == {"combination": "elem_mult", "activation": "identity"}  # c_t = q0' * q1
    assert nodes[14] == {"combination": "elem_mult", "activation": "tanh"}  # m_t = tanh(c_t * r1)
    assert arch["cell_inject"] == {"combination": "add", "activation": "tanh"}
    assert arch["cell_indices"] == {"new_memory": 12, "inject": 8}


def test_figure5_preset_is_the_papers_worked_example():
    arch, _ = preset_architecture("rnn_figure5")
    assert arch["nodes"] == [
        {"combination": "add", "activation": "tanh"},
        {"combination": "elem_mult", "activation": "relu"},
        {"combination": "elem_mult", "activation": "sigmoid"},
    ]
    assert arch["cell_indices"] == {"new_memory": 1, "inject": 0}


def test_extended_space_admits_max_and_sin_but_the_default_does_not():
    arch, base8 = preset_architecture("rnn_nas_cell")
    arch = copy.deepcopy(arch)
    arch["nodes"][0] = {"combination": "max", "activation": "sin"}
    assert preset_space("rnn_base8_extended").validate(arch) == arch
    with pytest.raises(ArchitectureError, match=r"nodes\[0\]\.combination: 'max' is not one of \['add', 'elem_mult'\]"):
        base8.validate(arch)


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a["nodes"].pop(), r"nodes: expected a list of 15 nodes for base 8"),
    (lambda a: a["cell_indices"].update(inject=15), r"cell_indices\.inject: 15 is not one of"),
    (lambda a: a["cell_inject"].update(activation="gelu"), r"cell_inject\.activation: 'gelu' is not one of"),
    (lambda a: a.update(base=4), r"architecture\.base: 4, the space has base 8"),
])
def test_bad_cells_name_the_offending_field(mutate, message):
    arch, space = preset_architecture("rnn_nas_cell")
    arch = copy.deepcopy(arch)
    mutate(arch)
    with pytest.raises(ArchitectureError, match=message):
        space.validate(arch)


def test_base_must_be_a_power_of_two():
    with pytest.raises(ArchitectureError, match="base: expected a power of two >= 2, got 6"):
        build_space({"type": "rnn_cell", "base": 6})
