"""A run's architecture diagram (``architecture.svg``), drawn by ``nasrl.draw``.

Shown in the MLflow UI next to ``architecture.json``: the run's page then shows which network
it trained (Fig. 7 for a CNN, Fig. 5 and 8 for a cell), not only its decisions as params.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.space_kinds import kind_named

def diagram_svg(arch: dict[str, Any]) -> str | None:
    """The SVG text of ``arch``'s diagram; None for a space kind without a network to draw."""
    kind = kind_named(arch)
    if kind is None or kind.graph is None:
        return None
    from nasrl.draw import draw_architecture

    with tempfile.TemporaryDirectory() as folder:
        try:
            path = draw_architecture(arch, Path(folder) / "architecture.svg")
        except ArchitectureError:  # the run is logged without its picture, never not at all
            return None
        return Path(path).read_text(encoding="utf-8")
