"""The graph of an architecture: checked, then built by its space's builder (cnn.py, cell.py)."""

from __future__ import annotations

from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.draw.cell import cell_graph
from nasrl.draw.cnn import cnn_graph
from nasrl.draw.graph import ArchitectureGraph
from nasrl.spaces.containing import validated


def architecture_graph(arch: Any) -> ArchitectureGraph:
    """The graph of a ``cnn`` or ``rnn_cell`` architecture (checked first: ArchitectureError if malformed)."""
    if isinstance(arch, dict) and arch.get("space") == "tabular":
        raise ArchitectureError("architecture.space: 'tabular' names a row of a results table, not a network: "
                                "nothing to draw (expected 'cnn' or 'rnn_cell')")
    arch = validated(arch)
    return cnn_graph(arch) if arch["space"] == "cnn" else cell_graph(arch)
