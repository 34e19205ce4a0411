"""What a diagram shows, as data: the nodes, edges and labels of an architecture's graph.

Built from the architecture value alone (no network, no drawing), so tests check a diagram's
structure and the renderer (``nasrl.draw.render``) only places and paints it.

Every node has a ``rank`` (its level along the flow: inputs at 0, the output last; the
renderer draws rank 0 at the bottom, as the paper's Fig. 5, 7 and 8 do) and an ``order``
(its position across the flow, left to right, within its rank).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # the text in the node's box; lines separated by "\n"
    kind: str  # cnn: image | layer | classifier; rnn_cell: input | leaf | internal | inject | output
    rank: float
    order: float = 0.0
    caption: str = ""  # a short name shown small with the box ("layer 3", "node 8")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # cnn: chain (to the next rank) | skip; rnn_cell: input | tree | inject | memory | output
    label: str = ""


@dataclass(frozen=True)
class ArchitectureGraph:
    space: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> list[str]:
        """The sources of every edge into ``node_id``, in edge order."""
        return [e.source for e in self.edges if e.target == node_id]

    def edges_of_source(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def edges_of_kind(self, kind: str) -> list[Edge]:
        return [e for e in self.edges if e.kind == kind]
