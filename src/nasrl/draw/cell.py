"""A recurrent cell as its tree, as the paper's Fig. 5 and Fig. 8 draw it.

Leaves at the bottom, each reading x_t and h_{t-1}; every node shows its combination and its
activation; the root gives h_t. The memory follows the cell indices (docs/paper.md Sec. 5.2):
the "cell inject" box sits on the inject node's output, merging c_{t-1} into it before the
parent reads it, and c_t leaves the new-memory node *before* its activation (Fig. 5:
c_t = W3x * W4h, node 1 before its ReLU). Node numbers are the architecture's (leaves first,
root last: ``nasrl.spaces.rnn_cell``); Fig. 8 draws the same tree with its leaves in another
order.
"""

from __future__ import annotations

from typing import Any

from nasrl.draw.graph import ArchitectureGraph, Edge, Node
from nasrl.spaces.rnn_cell import tree_children

X, H_PREV, C_PREV, H, C, INJECT = "x_t", "h_prev", "c_prev", "h_t", "c_t", "inject"


def node_id(index: int) -> str:
    return f"node_{index}"


def pair_label(pair: dict[str, str]) -> str:
    return f"{pair['combination']}\n{pair['activation']}"


def cell_graph(arch: dict[str, Any]) -> ArchitectureGraph:
    """The tree of a validated ``rnn_cell`` architecture."""
    base = arch["base"]
    children = tree_children(base)
    root = 2 * base - 2
    inject, new_memory = arch["cell_indices"]["inject"], arch["cell_indices"]["new_memory"]

    rank: dict[int, float] = {k: 1 for k in range(base)}
    order: dict[int, float] = {k: float(k) for k in range(base)}
    for node, (left, right) in children.items():  # ascending: children come first
        rank[node] = rank[left] + 1
        order[node] = (order[left] + order[right]) / 2
    # The inject box gets a level of its own between its node and the node's parent.
    lift = lambda k: 1 if rank[k] > rank[inject] else 0  # noqa: E731
    top = rank[root] + 1 + 1  # the outputs, above the root and the inject level

    nodes = [Node(X, "x_t", "input", 0, min(order.values())),
             Node(H_PREV, "h_{t-1}", "input", 0, max(order.values()))]
    for k in range(2 * base - 1):
        nodes.append(Node(node_id(k), pair_label(arch["nodes"][k]), "leaf" if k < base else "internal",
                          rank[k] + lift(k), order[k], caption=f"node {k}"))
    nodes.append(Node(INJECT, pair_label(arch["cell_inject"]), "inject", rank[inject] + 1, order[inject],
                      caption="cell inject"))
    nodes.append(Node(C_PREV, "c_{t-1}", "input", rank[inject] + 1, min(order.values()) - 1))
    nodes.append(Node(H, "h_t", "output", top, order[root]))
    # c_t beside h_t, above its node; moved aside when that column is h_t's own.
    c_order = order[new_memory] if abs(order[new_memory] - order[root]) >= 1 else order[root] + 1
    nodes.append(Node(C, "c_t", "output", top, c_order))

    def output_of(k: int) -> str:
        """Where node k's output is read from: the inject box when it is the inject node."""
        return INJECT if k == inject else node_id(k)

    edges = []
    for k in range(base):
        edges += [Edge(X, node_id(k), "input"), Edge(H_PREV, node_id(k), "input")]
    edges.append(Edge(node_id(inject), INJECT, "inject"))
    edges.append(Edge(C_PREV, INJECT, "inject"))
    for node, (left, right) in children.items():
        edges += [Edge(output_of(left), node_id(node), "tree"), Edge(output_of(right), node_id(node), "tree")]
    edges.append(Edge(output_of(root), H, "output"))
    edges.append(Edge(node_id(new_memory), C, "memory", "before activation"))
    title = (f"Recurrent cell: base {base}, {2 * base - 1} nodes; c_{{t-1}} injected at node {inject}, "
             f"c_t from node {new_memory}")
    return ArchitectureGraph("rnn_cell", title, tuple(nodes), tuple(edges))
