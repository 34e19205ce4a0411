"""A CNN as a layer DAG, as the paper's Fig. 7 draws the discovered network.

One box per layer with its filter height, width and count ("FH: 3 FW: 3 N: 36", the figure's
own labels), the image below the first layer and the classifier on top. Edges follow the
compile rules of ``nasrl.models.cnn``: a layer reads the layers in its ``inputs`` (the image
when there are none), and every output no later layer reads goes to the classifier. Edges to
the next rank are the straight chain; the others are the skip connections, which concatenate
(Fig. 7: "not residual").
"""

from __future__ import annotations

from typing import Any

from nasrl.draw.graph import ArchitectureGraph, Edge, Node

IMAGE, CLASSIFIER = "image", "classifier"


def layer_id(index: int) -> str:
    return f"layer_{index}"


def layer_label(layer: dict[str, Any], pooled: bool) -> str:
    lines = [f"FH: {layer['filter_height']}  FW: {layer['filter_width']}  N: {layer['num_filters']}"]
    extras = []
    if (layer["stride_height"], layer["stride_width"]) != (1, 1):
        extras.append(f"stride {layer['stride_height']}x{layer['stride_width']}")
    if pooled:
        extras.append("then 2x2 max pool")
    if extras:
        lines.append(", ".join(extras))
    return "\n".join(lines)


def cnn_graph(arch: dict[str, Any]) -> ArchitectureGraph:
    """The layer DAG of a validated ``cnn`` architecture."""
    layers = arch["layers"]
    depth = len(layers)
    pooled = set(arch["max_pool_after"])
    nodes = [Node(IMAGE, "image", "image", 0)]
    nodes += [Node(layer_id(i), layer_label(layer, i in pooled), "layer", i + 1, caption=f"layer {i}")
              for i, layer in enumerate(layers)]
    nodes.append(Node(CLASSIFIER, "global average pool, linear, softmax", "classifier", depth + 1))
    rank = {node.id: node.rank for node in nodes}

    def edge(source: str, target: str) -> Edge:
        return Edge(source, target, "chain" if rank[target] - rank[source] == 1 else "skip")

    edges = []
    for i, layer in enumerate(layers):
        sources = [layer_id(j) for j in layer["inputs"]] or [IMAGE]  # compile rule 1: no input reads the image
        edges += [edge(source, layer_id(i)) for source in sources]
    consumed = {j for layer in layers for j in layer["inputs"]}
    edges += [edge(layer_id(i), CLASSIFIER) for i in range(depth) if i not in consumed]  # compile rule 2
    filters = sum(layer["num_filters"] for layer in layers)
    title = f"CNN: {depth} layers, {filters} filters, {sum(e.kind == 'skip' for e in edges)} skip connections"
    return ArchitectureGraph("cnn", title, tuple(nodes), tuple(edges))
