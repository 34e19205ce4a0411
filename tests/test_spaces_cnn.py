import copy
import math

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


# --- v3: 13 controller layers, each a fully connected block of 3 convs (docs/paper.md Sec. 2.5) ---


def all_first_choices(space):
    steps = space.steps()
    return steps, [0 if isinstance(s, Categorical) else tuple(0 for _ in s.candidates) for s in steps]


def test_v3_controller_predicts_13_blocks_of_filter_height_width_filters_and_anchor():
    space = preset_space("cnn_v3")
    steps = space.steps()
    assert len(steps) == 13 * 4  # FH, FW, N, anchor per block; strides fixed
    assert [s.name for s in steps[:4]] == ["block_0.filter_height", "block_0.filter_width",
                                           "block_0.num_filters", "block_0.anchor"]
    assert steps[2].choices == (6, 12, 24, 36)
    # block 5 always reads block 4; its anchor picks among blocks 0..3
    assert steps[5 * 4 + 3].candidates == (0, 1, 2, 3)
    assert space.decision_kinds() == {"filter_height": 4, "filter_width": 4, "num_filters": 4}


def test_v3_block_expands_into_3_densely_connected_convs_sharing_the_blocks_decisions():
    space = preset_space("cnn_v3")
    steps = space.steps()
    actions = []
    for s in steps:
        if isinstance(s, Anchor):  # block 5 also reads block 1; every other block only its predecessor
            actions.append(tuple(int(s.layer == 5 and c == 1) for c in s.candidates))
        else:
            actions.append({"filter_height": 3, "filter_width": 1, "num_filters": 2}[s.kind])
    arch = space.decode(steps, actions)
    layers = arch["layers"]
    assert len(layers) == 39 and arch["max_pool_after"] == [12, 23]
    assert {(l["filter_height"], l["filter_width"], l["num_filters"]) for l in layers} == {(7, 3, 24)}
    # block 0 reads the image: its first conv has no input, the next convs read the block's earlier convs
    assert [l["inputs"] for l in layers[:3]] == [[], [0], [0, 1]]
    # block 5 = convs 15..17; its input is the output (last conv) of blocks 1 and 4, layers 5 and 14
    assert [l["inputs"] for l in layers[15:18]] == [[5, 14], [5, 14, 15], [5, 14, 15, 16]]
    assert layers[18]["inputs"] == [17]  # block 6 reads block 5's output only
    assert space.validate(arch) == arch
    assert space.encode(arch) == (steps, actions)


def test_v3_per_layer_keeps_39_independent_layer_decisions():
    space = preset_space("cnn_v3_per_layer")
    steps = space.steps()
    assert len(steps) == 39 * 4 and steps[0].name == "layer_0.filter_height"
    arch = space.decode(*all_first_choices(space))
    assert len(arch["layers"]) == 39 and arch["max_pool_after"] == [12, 23]
    # a plain chain of 39 layers is not a network of dense blocks
    with pytest.raises(ArchitectureError, match=r"layers\[2\]\.inputs: expected \[0, 1\] \(the block's input"):
        preset_space("cnn_v3").validate(arch)


def test_plus40_space_adds_40_filters_to_every_conv():
    space = preset_space("cnn_v3_plus40")
    steps = space.steps()
    assert steps[2].choices == (46, 52, 64, 76)  # {6, 12, 24, 36} + 40
    arch = space.decode(*all_first_choices(space))
    assert {layer["num_filters"] for layer in arch["layers"]} == {46}
    narrow = preset_space("cnn_v3").decode(*all_first_choices(preset_space("cnn_v3")))
    assert arch["layers"] == [{**layer, "num_filters": layer["num_filters"] + 40} for layer in narrow["layers"]]
    with pytest.raises(ArchitectureError, match=r"layers\[0\]\.num_filters: 6 is not one of \[46, 52, 64, 76\]"):
        space.validate(narrow)


def v3_block_arch():
    space = preset_space("cnn_v3")
    return space, space.decode(*all_first_choices(space))


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a["layers"].pop(), r"38 layers; this space builds blocks of 3 convs, so expected a multiple of 3"),
    (lambda a: a["layers"].extend(a["layers"][:3]), r"42 layers \(14 blocks of 3\), the space allows at most 13 blocks"),
    (lambda a: a["layers"][7].update(num_filters=12), r"layers\[7\]\.num_filters: 12, but the 3 convs of a block share"),
    (lambda a: a["layers"][6].update(inputs=[4]), r"layers\[6\]\.inputs: a block's first conv reads only the output"),
    (lambda a: a["layers"][6].update(inputs=[2]), r"layers\[6\]\.inputs: block 2 must read block 1"),
    (lambda a: a["layers"][8].update(inputs=[5, 7]), r"layers\[8\]\.inputs: expected \[5, 6, 7\]"),
])
def test_bad_v3_block_architectures_name_the_offending_layer(mutate, message):
    space, arch = v3_block_arch()
    arch = copy.deepcopy(arch)
    mutate(arch)
    with pytest.raises(ArchitectureError, match=message):
        space.validate(arch)


def v3_reference_by_rule(extra_filters=0):
    """The rule of the cnn_v3_reference preset (docs/paper.md Sec. 2.5), written out: 13 blocks of
    3 convs, every conv 5x5; 24 filters in blocks 0-3 (before the first max pool), 36 after; every
    block reads every earlier block."""
    layers = []
    for block in range(13):
        block_input = [3 * j + 2 for j in range(block)]
        width = (24 if block < 4 else 36) + extra_filters
        for k in range(3):
            layers.append({"filter_height": 5, "filter_width": 5, "stride_height": 1, "stride_width": 1,
                           "num_filters": width, "inputs": block_input + [3 * block + m for m in range(k)]})
    return {"space": "cnn", "layers": layers, "max_pool_after": [12, 23]}


def test_v3_reference_preset_follows_its_rule_and_has_table_1s_7_1m_weights():
    arch, space = preset_architecture("cnn_v3_reference")
    assert space.validate(arch) == arch == v3_reference_by_rule()
    assert round(conv_weights(arch) / 1e5) == 71  # Table 1: 7.1M, to the precision printed


def test_v3_reference_plus40_is_the_same_network_40_filters_wider_near_table_1s_37_4m():
    arch, space = preset_architecture("cnn_v3_reference_plus40")
    assert space.validate(arch) == arch == v3_reference_by_rule(extra_filters=40)
    # Not a reproduction: the paper's v3 network is unpublished. The reference network is fitted
    # to 7.1M alone; its widened count is a prediction, 4.5% under Table 1's 37.4M (docs/paper.md Sec. 2.5).
    assert abs(conv_weights(arch) / 37.4e6 - 1) < 0.05


@pytest.mark.parametrize("spec, message", [
    ({"type": "cnn", "block_convs": 0}, r"cnn space.block_convs: expected an integer >= 1, got 0"),
    ({"type": "cnn", "extra_filters": -40}, r"cnn space.extra_filters: expected an integer >= 0, got -40"),
    ({"type": "cnn", "extra_filters": 4.0}, r"cnn space.extra_filters: expected an integer >= 0, got 4.0"),
])
def test_bad_block_and_widening_settings_name_the_key(spec, message):
    with pytest.raises(ArchitectureError, match=message):
        build_space(spec)


def test_the_controller_samples_and_scores_v3_block_networks():
    from nasrl.search.registry import make_strategy

    space = preset_space("cnn_v3")
    search = make_strategy("reinforce", space, seed=0)
    archs = search.ask(3)
    assert all(space.validate(a) == a and len(a["layers"]) == 39 for a in archs)
    stats = search.tell(archs, [0.1, 0.5, 0.9])
    assert all(math.isfinite(v) for v in stats.values())
