"""Where a CNN diagram's skip connections go: a side of the layer column, and a port on each box.

The layers stand in one column (Fig. 7); a skip connection from layer a up to layer b is a
half-ellipse beside the column, as wide as it is long. Two of them on the same side cross
exactly when their spans interleave (a < c < b < d), so each is put on the side (left or
right) where it crosses fewer of those placed before it, longest first: a two-page book
embedding, greedy. On a box, the arcs of one side attach at separate ports, incoming ones
below outgoing ones and the longer arcs nearer the middle, so that arcs sharing a box nest
instead of crossing.
"""

from __future__ import annotations

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
