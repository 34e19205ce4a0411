"""Architecture diagrams: the drawn graph's structure (nodes, edges, labels) against the paper's
figures, and the rendered files (SVG, PNG) legible: no two texts overlap, every label inside its box."""

import re
from xml.etree import ElementTree

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

from nasrl.architecture import ArchitectureError
from nasrl.draw import architecture_graph, draw_architecture, draw_note
from nasrl.draw.arcs import RIGHT, Arc, assign_sides, crossings, ports, source_colours
from nasrl.draw.render import INK, render
from nasrl.spaces.presets import preset_architecture


def graph_of(name):
    return architecture_graph(preset_architecture(name)[0])


def label_number(label: str, field: str) -> int:
    return int(re.search(rf"{field}: (\d+)", label).group(1))


def test_figure7_has_the_papers_16_chain_arrows_and_51_skip_connections():
    """docs/paper.md Sec. 4: the figure's vector paths hold 16 straight arrows (image -> L1 -> ...
    -> L15 -> softmax) and 51 distinct skip curves."""
    graph = graph_of("cnn_figure7")
    assert len(graph.nodes) == 17  # image, 15 layers, the classifier
    chain = graph.edges_of_kind("chain")
    assert [(e.source, e.target) for e in chain][:2] == [("image", "layer_0"), ("layer_0", "layer_1")]
    assert len(chain) == 16 and len(graph.edges_of_kind("skip")) == 51
    assert graph.inputs_of("classifier") == ["layer_14"]  # every other output is consumed
    # Sec. 4 table, L13 (layer 12): FH 7, FW 5, N 48, reading L1 L3 L6 L7 L8 L9 L10 L11 and L12
    assert graph.node("layer_12").label == "FH: 7  FW: 5  N: 48"
    assert graph.inputs_of("layer_12") == [f"layer_{j}" for j in (0, 2, 5, 6, 7, 8, 9, 10, 11)]


def test_figure7_graph_is_the_network_with_its_4_2m_convolution_weights():
    """Read back from the drawn graph alone (labels and edges): sum of FH*FW*C_in*N = 4,199,868 (Table 1)."""
    graph = graph_of("cnn_figure7")
    filters = {n.id: label_number(n.label, "N") for n in graph.nodes if n.kind == "layer"}
    weights = 0
    for node in graph.nodes:
        if node.kind == "layer":
            c_in = sum(filters.get(source, 3) for source in graph.inputs_of(node.id))  # the image has 3 channels
            weights += label_number(node.label, "FH") * label_number(node.label, "FW") * c_in * filters[node.id]
    assert weights == 4_199_868


def test_compile_rules_show_in_the_graph():
    """A layer with no input reads the image; every unread output goes to the classifier; strides
    and pooling are labelled."""
    layer = {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 24}
    arch = {"space": "cnn", "max_pool_after": [0], "layers": [
        {**layer, "inputs": []}, {**layer, "inputs": [0], "stride_height": 2}, {**layer, "inputs": []},
        {**layer, "inputs": [0, 2]}]}
    graph = architecture_graph(arch)
    assert graph.inputs_of("layer_2") == ["image"] and graph.edges_of_source("image")[1].kind == "skip"
    assert graph.inputs_of("classifier") == ["layer_1", "layer_3"]
    assert graph.node("layer_0").label.endswith("then 2x2 max pool")
    assert "stride 2x1" in graph.node("layer_1").label


def test_nas_cell_graph_is_the_tree_of_figure_8():
    """docs/paper.md Sec. 6.2: l3 = relu(x3 * h3); q0 = tanh(l0 * l1), then q0 = tanh(q0 + c_{t-1});
    c_t = q0 * q1 before its (identity) activation; m_t = tanh(c_t * r1)."""
    graph = graph_of("rnn_nas_cell")
    tree = [n for n in graph.nodes if n.kind in ("leaf", "internal")]
    assert len(tree) == 15 and sum(n.kind == "leaf" for n in tree) == 8
    assert graph.node("node_3").label == "elem_mult\nrelu"
    for k in range(8):
        assert graph.inputs_of(f"node_{k}") == ["x_t", "h_prev"]
    assert graph.inputs_of("node_8") == ["node_0", "node_1"]
    assert graph.node("inject").label == "add\ntanh"
    assert graph.inputs_of("inject") == ["node_8", "c_prev"]
    assert graph.inputs_of("node_12") == ["inject", "node_9"]  # the parent reads the injected output
    memory = graph.edges_of_kind("memory")
    assert [(e.source, e.target, e.label) for e in memory] == [("node_12", "c_t", "before activation")]
    assert graph.node("node_14").label == "elem_mult\ntanh" and graph.inputs_of("h_t") == ["node_14"]
    assert graph.node("inject").rank > graph.node("node_8").rank and graph.node("node_12").rank > graph.node("inject").rank


def test_figure5_cell_injects_into_a_leaf_and_an_injected_root_feeds_h_t():
    graph = graph_of("rnn_figure5")  # docs/paper.md Sec. 5.3: inject at node 0, c_t from node 1
    assert graph.inputs_of("node_2") == ["inject", "node_1"]
    assert graph.inputs_of("c_t") == ["node_1"]
    arch, _ = preset_architecture("rnn_figure5")
    arch["cell_indices"] = {"inject": 2, "new_memory": 2}
    graph = architecture_graph(arch)
    assert graph.inputs_of("inject") == ["node_2", "c_prev"] and graph.inputs_of("h_t") == ["inject"]
    assert graph.node("h_t").rank > graph.node("inject").rank


def test_skip_arcs_on_two_sides_cross_less_than_on_one():
    graph = graph_of("cnn_figure7")
    rank = {n.id: int(n.rank) for n in graph.nodes}
    spans = [(rank[e.source], rank[e.target]) for e in graph.edges_of_kind("skip")]
    arcs = assign_sides(spans)
    one_side = [Arc(s, t, RIGHT) for s, t in spans]
    assert crossings(arcs) < crossings(one_side) / 2
    # arcs sharing a box side get distinct ports, incoming below outgoing
    slots = ports(arcs)
    for box in set(rank.values()):
        for side in (-1, 1):
            ends = [(slot, end) for (i, r, end), (slot, _) in slots.items() if r == box and arcs[i].side == side]
            assert len({slot for slot, _ in ends}) == len(ends)
            ins = [slot for slot, end in ends if end == "in"]
            outs = [slot for slot, end in ends if end == "out"]
            assert not ins or not outs or max(ins) < min(outs)


@pytest.mark.parametrize("name", ["cnn_figure7", "rnn_nas_cell", "rnn_figure5", "cnn_v3_reference"])
def test_no_two_texts_overlap_and_labels_sit_in_their_boxes(name):
    if name not in ("cnn_figure7", "rnn_nas_cell", "rnn_figure5"):
        try:
            preset_architecture(name)
        except ArchitectureError:
            pytest.skip(f"{name} is not a shipped architecture")
    fig = render(graph_of(name))
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible() and t.axes is not None]
    boxes = [p.get_window_extent(renderer) for p in fig.findobj(FancyBboxPatch)]
    extents = [t.get_window_extent(renderer) for t in texts]
    figure = fig.bbox
    for i, a in enumerate(extents):
        assert figure.x0 <= a.x0 and a.x1 <= figure.x1 and figure.y0 <= a.y0 and a.y1 <= figure.y1, texts[i].get_text()
        for j in range(i + 1, len(extents)):
            assert not a.overlaps(extents[j]), (texts[i].get_text(), texts[j].get_text())
        inside = [b for b in boxes if b.overlaps(a)]  # a text touching a box lies wholly inside it
        for b in inside:
            assert b.x0 <= a.x0 and a.x1 <= b.x1 and b.y0 <= a.y0 and a.y1 <= b.y1, texts[i].get_text()
    plt.close(fig)


def test_svg_and_png_by_suffix_and_the_same_file_twice(tmp_path):
    arch, _ = preset_architecture("rnn_figure5")
    svg = draw_architecture(arch, tmp_path / "cell.svg")
    assert svg.read_text().startswith("<?xml") and "<svg" in svg.read_text()
    again = draw_architecture(arch, tmp_path / "again.svg")
    assert again.read_bytes() == svg.read_bytes()  # no date, fixed ids: reproducible
    png = draw_architecture(arch, tmp_path / "sub" / "cell.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw_note("no diagram: nothing to draw", tmp_path / "note.svg").exists()


def test_svg_keeps_its_text_as_text(tmp_path):
    """Text a reader can search, copy and hear: the Fig. 7 SVG holds one <text> per line, not paths,
    with its labels' double spaces kept (an SVG viewer folds plain spaces)."""
    svg = draw_architecture(preset_architecture("cnn_figure7")[0], tmp_path / "fig7.svg")
    texts = [t.text for t in ElementTree.parse(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert len(texts) >= 15
    assert {f"layer {i}" for i in range(15)} <= set(texts)
    assert "FH: 7 \u00a0FW: 5 \u00a0N: 48" in texts and "image" in texts


def test_arcs_from_different_source_layers_differ_in_colour():
    """Fig. 7's 51 skip connections leave 13 layers: 13 colours, one per source layer."""
    graph = graph_of("cnn_figure7")
    sources = {e.source for e in graph.edges_of_kind("skip")}
    fig = render(graph)
    arcs = [p for p in fig.findobj(FancyArrowPatch) if to_hex(p.get_edgecolor()) != INK]
    assert len(arcs) == 51
    assert len({to_hex(p.get_edgecolor()) for p in arcs}) == len(sources) == 13
    plt.close(fig)
    for n in (2, 15, 30):  # however deep the network, no colour repeats
        colours = source_colours(list(range(n)))
        assert len(set(colours.values())) == n


def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path):
    arch, _ = preset_architecture("cnn_figure7")
    with pytest.raises(ValueError, match=r"expected a name ending in \.svg or \.png, got '\.pdf'"):
        draw_architecture(arch, tmp_path / "fig.pdf")
    arch["layers"][3]["inputs"] = [5]
    with pytest.raises(ArchitectureError, match=r"layers\[3\]\.inputs: layer 3 can only read earlier layers"):
        draw_architecture(arch, tmp_path / "fig.svg")
    with pytest.raises(ArchitectureError, match="'tabular' is a row of a results table .* no network to train or draw"):
        architecture_graph({"space": "tabular", "decisions": {"l0": "1"}})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_the_workflow_draws_the_chosen_architecture(finished_tiny_search, tmp_path):
    """`snakemake` ends with final/best.svg: the diagram of final/best.json's architecture."""
    import json

    from nasrl.layout import ResultsLayout

    layout = ResultsLayout(finished_tiny_search / "results" / "tiny")
    best = json.loads(layout.best.read_text())
    assert layout.best_diagram.read_bytes() == draw_architecture(best["arch"], tmp_path / "best.svg").read_bytes()
