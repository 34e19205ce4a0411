"""The graph of an architecture: checked, then built by its space kind's builder (cnn.py, cell.py)."""

from __future__ import annotations

from typing import Any

from nasrl.draw.graph import ArchitectureGraph
from nasrl.space_kinds import kind_of, load
from nasrl.spaces.containing import validated


def architecture_graph(arch: Any) -> ArchitectureGraph:
    """The graph of an architecture of a kind with a network (checked first: ArchitectureError if
    malformed), built by its kind's builder (nasrl.space_kinds)."""
    graph = load(kind_of(arch, trainable=True).graph)
    return graph(validated(arch))
