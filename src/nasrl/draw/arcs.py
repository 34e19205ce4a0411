"""Where a CNN diagram's skip connections go: a side of the layer column, a port on each box,
and a colour for each source layer.

The layers stand in one column (Fig. 7); a skip connection from layer a up to layer b is a
half-ellipse beside the column, as wide as it is long. Two of them on the same side cross
exactly when their spans interleave (a < c < b < d), so each is put on the side (left or
right) where it crosses fewer of those placed before it, longest first: a two-page book
embedding, greedy. On a box, the arcs of one side attach at separate ports, incoming ones
below outgoing ones and the longer arcs nearer the middle, so that arcs sharing a box nest
instead of crossing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEFT, RIGHT = -1, 1


@dataclass(frozen=True)
class Arc:
    source: int  # rank of the lower box
    target: int  # rank of the upper box
    side: int  # LEFT or RIGHT

    @property
    def span(self) -> int:
        return self.target - self.source


def cross(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do two arcs on the same side cross? Only when their spans strictly interleave."""
    (s1, t1), (s2, t2) = a, b
    return s1 < s2 < t1 < t2 or s2 < s1 < t2 < t1


def assign_sides(spans: list[tuple[int, int]]) -> list[Arc]:
    """One side per (source rank, target rank) pair, in the order given."""
    placed: dict[int, list[tuple[int, int]]] = {LEFT: [], RIGHT: []}
    side_of: dict[int, int] = {}
    for i in sorted(range(len(spans)), key=lambda i: (-(spans[i][1] - spans[i][0]), spans[i])):
        costs = {side: sum(cross(spans[i], other) for other in placed[side]) for side in (RIGHT, LEFT)}
        side = min((RIGHT, LEFT), key=lambda s: (costs[s], len(placed[s])))
        placed[side].append(spans[i])
        side_of[i] = side
    return [Arc(s, t, side_of[i]) for i, (s, t) in enumerate(spans)]


def crossings(arcs: list[Arc]) -> int:
    return sum(a.side == b.side and cross((a.source, a.target), (b.source, b.target))
               for i, a in enumerate(arcs) for b in arcs[i + 1:])


def ports(arcs: list[Arc]) -> dict[tuple[int, int, str], tuple[int, int]]:
    """(arc index, box rank, "in"|"out") -> (slot, slots on that box side), slot 0 at the bottom."""
    by_box: dict[tuple[int, int], list[tuple[tuple[int, int], int, str]]] = {}
    for i, arc in enumerate(arcs):
        # incoming first (bottom), shorter lower; then outgoing, longer lower
        by_box.setdefault((arc.target, arc.side), []).append(((0, arc.span), i, "in"))
        by_box.setdefault((arc.source, arc.side), []).append(((1, -arc.span), i, "out"))
    slots = {}
    for (rank, _), entries in by_box.items():
        entries.sort()
        for slot, (_, i, end) in enumerate(entries):
            slots[(i, rank, end)] = (slot, len(entries))
    return slots


# --- one colour per source layer ----------------------------------------------------------------
# Arcs that leave one box run side by side, so their colour is what tells their source. The
# hues are spaced evenly round CIE LCh (equal steps look equally different, unlike HSV's, where
# greens crowd and yellows vanish on white), at two lightnesses, as many as there are sources:
# no colour repeats, however deep the network. They are handed out with a stride near the
# golden section, so that neighbouring layers, whose arcs lie closest, get hues far apart.

LIGHTNESS = (40, 62)  # CIE L*: dark enough for a thin line on white, two levels apart
CHROMA = 70  # the most wanted; lowered for a hue where sRGB holds less (cyan)
FIRST_HUE = 20  # degrees: a red first, for the lowest source


def lch_to_rgb(lightness: float, chroma: float, hue: float) -> tuple[float, float, float] | None:
    """sRGB (0..1) of a CIE LCh colour under D65; None when sRGB cannot show it."""
    a, b = chroma * math.cos(math.radians(hue)), chroma * math.sin(math.radians(hue))
    fy = (lightness + 16) / 116
    inverse = lambda t: t ** 3 if t ** 3 > 216 / 24389 else (116 * t - 16) * 27 / 24389  # noqa: E731
    x, y, z = 0.95047 * inverse(fy + a / 500), inverse(fy), 1.08883 * inverse(fy - b / 200)
    linear = (3.2406 * x - 1.5372 * y - 0.4986 * z, -0.9689 * x + 1.8758 * y + 0.0415 * z,
              0.0557 * x - 0.2040 * y + 1.0570 * z)
    if not all(-1e-9 <= c <= 1 + 1e-9 for c in linear):
        return None
    return tuple(12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
                 for c in (min(1.0, max(0.0, c)) for c in linear))


def hex_colour(lightness: float, hue: float) -> str:
    chroma = CHROMA
    while (rgb := lch_to_rgb(lightness, chroma, hue)) is None:  # chroma 0 (grey) always fits
        chroma -= 1
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgb)


def golden_stride(n: int) -> int:
    """A step coprime with n near n * 0.382: i -> i * step mod n visits every hue once, far apart."""
    steps = [k for k in range(1, n) if math.gcd(k, n) == 1] or [1]
    return min(steps, key=lambda k: abs(k - n * 0.382))


def source_colours(sources: list[int]) -> dict[int, str]:
    """A distinct colour (#rrggbb) for each source rank, in rank order."""
    ranks = sorted(set(sources))
    n, step = len(ranks), golden_stride(len(ranks))
    colours = {}
    for i, rank in enumerate(ranks):
        hue_index = i * step % n
        colours[rank] = hex_colour(LIGHTNESS[hue_index % 2], FIRST_HUE + 360 * hue_index / n)
    return colours
