"""Slot utilization of a finished (or running) search, from its children's metrics.json.

    python benchmarks/performance/utilization.py results/EXP --slots N

Each child writes results/EXP/children/{key}/metrics.json with wall-clock ``started_at`` and
``finished_at`` (UNIX seconds). Utilization is the children's busy time over the slot time of
the whole training span:

    sum(finished_at - started_at) / (slots * (last finished_at - first started_at))

Files without both fields (written before the fields existed, or by a child still running)
are skipped. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def intervals(children_dir: str | Path) -> list[tuple[float, float]]:
    """(started_at, finished_at) of every child under ``children_dir`` that has both."""
    out = []
    for path in sorted(Path(children_dir).glob("*/metrics.json")):
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a file being written or a broken one: not a finished child
            continue
        start, end = metrics.get("started_at"), metrics.get("finished_at")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end >= start:
            out.append((float(start), float(end)))
    return out


def max_concurrent(spans: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant. An interval ending exactly when another starts does
    not overlap it (a slot handed straight to the next child), so ends sort before starts."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def slot_utilization(children_dir: str | Path, slots: int) -> dict:
    """Utilization of ``slots`` training slots by the children under ``children_dir``."""
    if slots < 1:
        raise ValueError("slots must be >= 1")
    spans = intervals(children_dir)
    busy = sum(e - s for s, e in spans)
    span = (max(e for _, e in spans) - min(s for s, _ in spans)) if spans else 0.0
    return {
        "utilization": busy / (slots * span) if span > 0 else None,
        "children": len(spans),
        "slots": slots,
        "busy_seconds": busy,
        "span_seconds": span,
        "max_concurrent": max_concurrent(spans),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="results/EXP (its children/ folder is read), or a children/ folder")
    parser.add_argument("--slots", type=int, required=True, help="training slots (GPUs, or cores of a local run)")
    args = parser.parse_args()
    root = Path(args.results)
    children = root / "children" if (root / "children").is_dir() else root
    print(json.dumps(slot_utilization(children, args.slots), indent=2))


if __name__ == "__main__":
    main()
