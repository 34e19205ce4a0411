"""Paint an architecture graph with matplotlib (a pip dependency: no Graphviz binary needed).

The flow goes upwards, as in the paper's figures: inputs at the bottom, the output on top.
Coordinates are inches (the axes span the figure one to one), so boxes, gaps and fonts keep
their size whatever the network's: a deeper network makes a taller figure, not smaller text.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display (cluster jobs, CI)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.textpath import TextPath  # noqa: E402

from nasrl.io import atomic_path  # noqa: E402
from nasrl.draw.arcs import LEFT, assign_sides, ports, source_colours  # noqa: E402
from nasrl.draw.graph import ArchitectureGraph, Node  # noqa: E402
from nasrl.space_kinds import KINDS, load  # noqa: E402

FORMATS = (".svg", ".png")
FONT = 10  # points
SMALL = 8
INK, GREY = "#222222", "#666666"
FILL = {"image": "#eeeeee", "classifier": "#eeeeee", "layer": "#dbe8f5", "leaf": "#dbe8f5", "internal": "#dcefd9",
        "inject": "#fbe3c8", "input": "white", "output": "white"}
MARGIN = 0.3


def text_width(text: str, size: float) -> float:
    """Width in inches of the widest line of ``text`` at ``size`` points."""
    return max(TextPath((0, 0), line or " ", size=size, prop=FontProperties(family="DejaVu Sans")).get_extents().width
               for line in text.split("\n")) / 72


def kept_spaces(text: str) -> str:
    """Every second space of a run as a no-break space: an SVG viewer folds a run of spaces into
    one ("FH: 7  FW: 5" would read "FH: 7 FW: 5"), but keeps a no-break space, as wide in DejaVu Sans."""
    return text.replace("  ", " \u00a0")


def math_label(label: str) -> str:
    """x_t, h_{t-1}, c_{t-1} as mathtext, with a true minus sign."""
    return "$" + label.replace("-", "{-}") + "$"


def box(ax, x: float, y: float, width: float, height: float, kind: str) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0,rounding_size=0.06",
                                facecolor=FILL[kind], edgecolor=INK, linewidth=0.9, zorder=3))


def arrow(ax, points: list[tuple[float, float]], color: str = INK, style: str = "-", width: float = 0.9,
          head: float = 8) -> None:
    ax.add_patch(FancyArrowPatch(path=MplPath(points), arrowstyle="-|>", mutation_scale=head, color=color,
                                 linewidth=width, linestyle=style, shrinkA=0, shrinkB=0, zorder=2))


def new_figure(width: float, height: float) -> tuple[Figure, Any]:
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def with_math(text: str) -> str:
    """x_t, h_{t-1}, c_t ... inside a sentence as mathtext."""
    return re.sub(r"\b([xhc])_(\{t-1\}|t)", lambda m: math_label(m.group(0)), text)


def title(ax, graph: ArchitectureGraph, x: float, y: float) -> None:
    ax.text(x, y, with_math(graph.title), ha="center", va="top", fontsize=FONT + 1, color=INK)


# --- CNN: one column of layers, skip connections as arcs on both sides ----------------------

ROW, BOX_H = 0.78, 0.46  # rank pitch and box height (inches) for a box of two lines
LINE = 0.18  # line pitch in a box (inches)
ARC_MIN, ARC_STEP = 0.2, 0.13  # half-ellipse width: ARC_MIN + ARC_STEP * (span - 2)


def arc_width(span: int) -> float:
    return ARC_MIN + ARC_STEP * (span - 2)


def draw_cnn(graph: ArchitectureGraph) -> Figure:
    rank = {n.id: int(n.rank) for n in graph.nodes}
    box_w = max(text_width(n.label, FONT) for n in graph.nodes) + 0.3
    lines = max(len(n.label.split("\n")) + bool(n.caption) for n in graph.nodes)
    box_h = BOX_H + LINE * max(0, lines - 2)  # a label with strides or pooling adds a line
    row = ROW + (box_h - BOX_H)
    skips = [e for e in graph.edges if e.kind == "skip"]
    arcs = assign_sides([(rank[e.source], rank[e.target]) for e in skips])
    reach = {side: max([arc_width(a.span) for a in arcs if a.side == side], default=0) for side in (LEFT, -LEFT)}
    top_rank = max(rank.values())
    width = max(box_w + reach[LEFT] + reach[-LEFT], text_width(graph.title, FONT + 1)) + 2 * MARGIN
    height = top_rank * row + box_h + 2 * MARGIN + 0.4
    fig, ax = new_figure(width, height)
    x0 = MARGIN + max(reach[LEFT], (width - 2 * MARGIN - reach[-LEFT] - box_w) / 2 - 0) + box_w / 2
    y_of = lambda r: MARGIN + box_h / 2 + r * row  # noqa: E731
    title(ax, graph, width / 2, height - MARGIN / 2)

    for node in graph.nodes:
        y = y_of(rank[node.id])
        box(ax, x0, y, box_w, box_h, node.kind)
        lines = ([(node.caption, SMALL, GREY)] if node.caption else []) + [(t, FONT, INK) for t in node.label.split("\n")]
        for k, (text, size, color) in enumerate(lines):  # one text per line, centred on the box
            ax.text(x0, y + ((len(lines) - 1) / 2 - k) * LINE, kept_spaces(text), ha="center", va="center",
                    fontsize=size, color=color, zorder=4)
    for edge in graph.edges:
        if edge.kind == "chain":
            arrow(ax, [(x0, y_of(rank[edge.source]) + box_h / 2), (x0, y_of(rank[edge.target]) - box_h / 2)])

    slots = ports(arcs)
    colours = source_colours([arc.source for arc in arcs])  # one per source layer, to follow its arcs
    for i, (edge, arc) in enumerate(zip(skips, arcs)):
        edge_x = x0 + arc.side * box_w / 2

        def port_y(r: int, end: str) -> float:
            slot, count = slots[(i, r, end)]
            return y_of(r) - box_h / 2 + box_h * (slot + 1) / (count + 1)

        y_a, y_b = port_y(arc.source, "out"), port_y(arc.target, "in")
        centre, half, a = (y_a + y_b) / 2, (y_b - y_a) / 2, arc_width(arc.span)
        points = [(edge_x + arc.side * a * math.sin(t), centre - half * math.cos(t))
                  for t in (math.pi * k / 48 for k in range(49))]
        arrow(ax, points, color=colours[arc.source], width=0.8, head=6)
    return fig


# --- recurrent cell: the tree, leaves at the bottom ---------------------------------------------

COL, LEVEL = 1.3, 0.95  # column pitch (per unit of order) and level pitch (inches)
NODE_H = 0.6


def draw_cell(graph: ArchitectureGraph) -> Figure:
    fanned = {n.id for n in graph.nodes if n.kind == "input" and len(graph.edges_of_source(n.id)) > 1}
    levels = sorted({n.rank for n in graph.nodes if n.id not in fanned})
    level_of = {r: i for i, r in enumerate(levels)}
    box_w = max(text_width(n.label, FONT) for n in graph.nodes if n.kind not in ("input", "output")) + 0.3
    orders = [n.order for n in graph.nodes if n.id not in fanned]
    left = min(orders)
    body_w = (max(orders) - left) * COL + box_w
    width = max(body_w, text_width(graph.title, FONT + 1)) + 2 * MARGIN
    stub = 0.55  # room under the leaves for their x_t and h_{t-1}
    height = (len(levels) - 1) * LEVEL + NODE_H + stub + 2 * MARGIN + 0.35
    fig, ax = new_figure(width, height)
    x_shift = MARGIN + (width - 2 * MARGIN - body_w) / 2 + box_w / 2
    where = {n.id: (x_shift + (n.order - left) * COL, MARGIN + stub + NODE_H / 2 + level_of[n.rank] * LEVEL)
             for n in graph.nodes if n.id not in fanned}
    title(ax, graph, width / 2, height - MARGIN / 2)

    def size(node: Node) -> tuple[float, float]:
        if node.kind in ("input", "output"):
            return 0.55, 0.34
        return box_w, NODE_H

    for node in graph.nodes:
        if node.id in fanned:
            continue
        x, y = where[node.id]
        w, h = size(node)
        box(ax, x, y, w, h, node.kind)
        if node.kind in ("input", "output"):
            ax.text(x, y, math_label(node.label), ha="center", va="center", fontsize=FONT + 1, color=INK, zorder=4)
            continue
        ax.text(x, y + 0.17, node.caption, ha="center", va="center", fontsize=SMALL, color=GREY, zorder=4)
        combination, activation = node.label.split("\n")
        ax.text(x, y + 0.0, combination, ha="center", va="center", fontsize=FONT, color=INK, zorder=4)
        ax.text(x, y - 0.17, activation, ha="center", va="center", fontsize=FONT, color=INK, zorder=4,
                fontweight="bold")

    nodes = {n.id: n for n in graph.nodes}
    into: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.source not in fanned:
            into.setdefault(edge.target, []).append(edge.source)
    for edge in graph.edges:
        if edge.source in fanned:  # x_t and h_{t-1} under every leaf (Fig. 5)
            x, y = where[edge.target]
            inputs = [s for s in graph.inputs_of(edge.target) if s in fanned]
            dx = (inputs.index(edge.source) - (len(inputs) - 1) / 2) * 0.42
            bottom = y - NODE_H / 2
            ax.text(x + dx, bottom - stub + 0.1, math_label(nodes[edge.source].label), ha="center", va="center",
                    fontsize=FONT, color=INK)
            arrow(ax, [(x + dx, bottom - stub + 0.22), (x + dx * 0.6, bottom)], head=6)
            continue
        (xs, ys), (xt, yt) = where[edge.source], where[edge.target]
        ws, hs = size(nodes[edge.source])
        wt, ht = size(nodes[edge.target])
        if edge.kind == "inject" and nodes[edge.source].kind == "input":  # c_{t-1} from the side
            arrow(ax, [(xs + ws / 2, ys), (xt - wt / 2, yt)], color="#b35900")
            continue
        siblings = into[edge.target]
        dx = (siblings.index(edge.source) - (len(siblings) - 1) / 2) * min(0.4, wt / 2)
        start = (xs - ws / 4, ys + hs / 2) if edge.kind == "memory" else (xs, ys + hs / 2)
        end = (xt + dx, yt - ht / 2)
        style = "--" if edge.kind == "memory" else "-"
        color = "#b35900" if edge.kind in ("memory", "inject") else INK
        arrow(ax, [start, end], color=color, style=style)
        if edge.label:  # along the line, on its right: the tree edges leave a node's top towards the middle
            dx, dy = end[0] - start[0], end[1] - start[1]
            length = math.hypot(dx, dy)
            mid = ((start[0] + end[0]) / 2 + 0.09 * dy / length, (start[1] + end[1]) / 2 - 0.09 * dx / length)
            ax.text(*mid, edge.label, ha="center", va="center", fontsize=SMALL, color="#b35900", style="italic",
                    rotation=math.degrees(math.atan2(dy, dx)), rotation_mode="anchor")
    return fig


def note_figure(text: str) -> Figure:
    """A one-line figure saying why there is no diagram (the workflow's output must exist)."""
    width = text_width(text, FONT) + 2 * MARGIN
    fig, ax = new_figure(width, 0.6)
    ax.text(width / 2, 0.3, text, ha="center", va="center", fontsize=FONT, color=GREY)
    return fig


def render(graph: ArchitectureGraph) -> Figure:
    """The figure of a graph, drawn as its space kind draws (nasrl.space_kinds: draw_cnn, draw_cell)."""
    return load(KINDS[graph.space].figure)(graph)


def check_suffix(path: str | Path) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"diagram file {path}: expected a name ending in .svg or .png, got {suffix or 'no suffix'!r}")


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as SVG or PNG by the file's suffix; SVG text as ``<text>`` elements."""
    path = Path(path)
    check_suffix(path)
    # SVG text stays text, to be searched, copied and read aloud by a screen reader; the layout
    # above measured it in DejaVu Sans, the font the SVG names first. No date and a fixed id
    # salt: the same architecture gives the same file, byte for byte.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nasrl"}), atomic_path(path) as tmp:
        if path.suffix.lower() == ".svg":
            fig.savefig(tmp, format="svg", metadata={"Date": None})
        else:
            fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)
    return path
