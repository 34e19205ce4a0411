import copy

import pytest

from nasrl.architecture import ArchitectureError
from nasrl.spaces.presets import preset_architecture, preset_space
from nasrl.spaces import Anchor, Categorical, build_space


def conv_weights(arch):
    """Sum of FH * FW * C_in * N over the layers; a layer with no input reads the RGB image."""
    layers = arch["layers"]
    total = 0
    for layer in layers:
        c_in = sum(layers[j]["num_filters"] for j in layer["inputs"]) if layer["inputs"] else 3
        total += layer["filter_height"] * layer["filter_width"] * c_in * layer["num_filters"]
    return total


def test_figure7_preset_is_in_the_v1_space_and_has_the_papers_weight_count():
    arch, space = preset_architecture("cnn_figure7")
    assert space.validate(arch) == arch
    assert len(arch["layers"]) == 15
    assert conv_weights(arch) == 4_199_868  # Table 1: 4.2M (docs/paper.md Sec. 4)
    # Fig. 7: the last layer reads L2, L7, L11, L12, L13 and the chain edge from L14 (1-based).
    assert arch["layers"][14]["inputs"] == [1, 6, 10, 11, 12, 13]
    consumed = {j for layer in arch["layers"] for j in layer["inputs"]}
    assert set(range(14)) <= consumed  # only L15 reaches the softmax


def test_figure7_round_trips_through_decisions():
    arch, space = preset_architecture("cnn_figure7")
    steps, actions = space.encode(arch)
    assert space.decode(steps, actions) == arch
    # v1: FH, FW, N and an anchor per layer (strides are fixed, so not decided)
    assert [s.name for s in steps[:4]] == ["layer_0.filter_height", "layer_0.filter_width",
                                           "layer_0.num_filters", "layer_0.anchor"]
    assert len(steps) == 15 * 4
    anchor_3 = steps[3 * 4 + 3]
    assert isinstance(anchor_3, Anchor) and anchor_3.candidates == (0, 1)  # layer 2 is always read
    assert actions[3 * 4 + 3] == (1, 1)  # L4 reads L1 and L2 besides L3


def test_depth_schedule_start_6_plus_2_every_1600_up_to_20():
    space = preset_space("cnn_v1")
    assert [space.depth_at(n) for n in (0, 1599, 1600, 3200, 11199, 11200, 12799, 50_000)] == [6, 6, 8, 10, 18, 20, 20, 20]
    assert len(space.steps(1600)) == 8 * 4


def test_v2_predicts_strides():
    space = preset_space("cnn_v2")
    kinds = [s.kind for s in space.steps(0)[:5]]
    assert kinds == ["filter_height", "filter_width", "stride_height", "stride_width", "num_filters"]
    assert space.decision_kinds()["stride_height"] == 3


def test_without_skip_connections_layers_form_a_chain():
    space = build_space({"type": "cnn", "skip_connections": False, "depth": {"start": 4, "step": 0, "every": 1, "max": 4}})
    steps = space.steps()
    assert not any(isinstance(s, Anchor) for s in steps)
    arch = space.decode(steps, [0] * len(steps))
    assert [layer["inputs"] for layer in arch["layers"]] == [[], [0], [1], [2]]
    bad = copy.deepcopy(arch)
    bad["layers"][3]["inputs"] = [0, 2]
    with pytest.raises(ArchitectureError, match=r"layers\[3\]\.inputs: this space has no skip connections"):
        space.validate(bad)


def test_free_anchors_allow_a_layer_to_read_the_image(skip_only_cnn):
    steps = skip_only_cnn.steps()
    assert [s.candidates for s in steps] == [(), (0,), (0, 1)]
    arch = skip_only_cnn.decode(steps, [(), (0,), (1, 0)])
    assert [layer["inputs"] for layer in arch["layers"]] == [[], [], [0]]
    assert skip_only_cnn.validate(arch) == arch


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a["layers"][2].update(filter_height=4), r"layers\[2\]\.filter_height: 4 is not one of \[1, 3, 5, 7\]"),
    (lambda a: a["layers"][2].update(filter_height="3"), r"layers\[2\]\.filter_height: '3' is not one of"),
    (lambda a: a["layers"][5].pop("num_filters"), r"layers\[5\]\.num_filters: missing"),
    (lambda a: a["layers"][5].update(kernel=3), r"layers\[5\]\.kernel: unknown field"),
    (lambda a: a["layers"][4].update(inputs=[3, 7]), r"layers\[4\]\.inputs: layer 4 can only read earlier layers 0..3"),
    (lambda a: a["layers"][4].update(inputs=[0]), r"layers\[4\]\.inputs: layer 4 must read layer 3"),
    (lambda a: a["layers"][4].update(inputs=[3, 0]), r"layers\[4\]\.inputs: expected sorted"),
    (lambda a: a["layers"][1].update(stride_height=2), r"layers\[1\]\.stride_height: 2 is not one of \[1\]"),
    (lambda a: a.update(space="rnn_cell"), r"architecture\.space: expected 'cnn'"),
    (lambda a: a.update(layers=a["layers"] * 2), r"30 layers, the space allows at most 20"),
    (lambda a: a.update(max_pool_after=[3]), r"max_pool_after: \[3\], the space fixes \[\]"),
])
def test_bad_architectures_name_the_offending_field(mutate, message):
    arch, space = preset_architecture("cnn_figure7")
    arch = copy.deepcopy(arch)
    mutate(arch)
    with pytest.raises(ArchitectureError, match=message):
        space.validate(arch)


def test_v3_space_fixes_pooling_positions_in_every_architecture():
    space = preset_space("cnn_v3")
    steps = space.steps()
    arch = space.decode(steps, [0 if isinstance(s, Categorical) else tuple(0 for _ in s.candidates) for s in steps])
    assert len(arch["layers"]) == 39 and arch["max_pool_after"] == [12, 23]
    assert space.validate(arch) == arch


@pytest.mark.parametrize("spec, message", [
    ({"type": "cnn", "filter_height": [3]}, r"unknown key\(s\) \['filter_height'\]"),
    ({"type": "cnn", "num_filters": []}, r"num_filters: expected a non-empty list"),
    ({"type": "cnn", "num_filters": [8, 8]}, r"choices must be distinct"),
    ({"type": "cnn", "depth": {"start": 0}}, r"depth.start: expected a positive integer"),
    ({"type": "cnn", "depth": {"start": 6, "max": 4}}, r"depth.max: expected null or an integer >= start"),
    ({"type": "conv"}, r"'conv' is not one of \['cnn', 'rnn_cell', 'tabular'\]"),
])
def test_bad_space_specs_name_the_key(spec, message):
    with pytest.raises(ArchitectureError, match=message):
        build_space(spec)
