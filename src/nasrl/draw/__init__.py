"""Architecture diagrams: a CNN as its layer DAG (the paper's Fig. 7), a recurrent cell as its
tree (Fig. 5 and 8), drawn with matplotlib alone.

    >>> from nasrl.draw import architecture_graph, draw_architecture
    >>> graph = architecture_graph(arch)          # nodes, edges, labels: what the tests check
    >>> draw_architecture(arch, "best.svg")       # SVG or PNG, by the file's suffix

``architecture_graph`` imports nothing heavy; ``draw_architecture`` imports matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasrl.draw.build import architecture_graph
from nasrl.draw.graph import ArchitectureGraph, Edge, Node


def draw_architecture(arch: Any, path: str | Path) -> Path:
    """Draw ``arch`` (a ``cnn`` or ``rnn_cell`` architecture value) into ``path`` (.svg or .png).

    Raises:
        ArchitectureError: a malformed architecture (one line naming the field).
        ValueError: a file name that ends in neither .svg nor .png.
    """
    from nasrl.draw.render import check_suffix, render, save

    check_suffix(path)
    return save(render(architecture_graph(arch)), path)


def draw_note(text: str, path: str | Path) -> Path:
    """A figure holding one line of text, for a place where a diagram is expected but none can be drawn."""
    from nasrl.draw.render import check_suffix, note_figure, save

    check_suffix(path)
    return save(note_figure(text), path)


__all__ = ["ArchitectureGraph", "Edge", "Node", "architecture_graph", "draw_architecture", "draw_note"]
