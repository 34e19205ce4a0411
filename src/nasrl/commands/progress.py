"""How far a search is, read from its files while it runs: children done of those planned, the
time since its first child started, and an estimate of the time left at the rate so far.

The estimate counts sampled children (a child sampled again is done at once, as the workflow
reuses its training), so it is the search's own pace, slots and repeats included; the final
retraining comes after it and is not in the estimate.
"""

from __future__ import annotations

import time
from typing import Any

from nasrl.io import read_metrics
from nasrl.layout import ResultsLayout, SampleFolder


def sampled_children(layout: ResultsLayout, rounds: int) -> list[dict[str, Any]]:
    """Every child sampled so far, round by round (the lines of each round's archs.jsonl)."""
    from nasrl.pipeline.collect import read_sampled

    rows = []
    for round_index in range(rounds):
        folder = SampleFolder(layout.samples(round_index))
        if folder.sampled.exists():
            rows += read_sampled(folder.path)
    return rows


def duration(seconds: float) -> str:
    """``95`` -> ``1 min 35 s``; ``3725`` -> ``1 h 2 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress_line(layout: ResultsLayout, settings: dict[str, Any], now: float | None = None) -> str | None:
    """``children  18 of 48 done; 1 min 2 s since the first started; about 2 min 3 s left ...``;
    None before any child was sampled."""
    rounds = int(settings.get("rounds") or 0)
    planned = rounds * int(settings.get("replicas") or 1) * int(settings.get("children_per_round") or 4)
    sampled = sampled_children(layout, rounds)
    if not sampled:
        return None
    finished = {}
    for key in {row["key"] for row in sampled}:
        if layout.child_metrics(key).exists():
            finished[key] = read_metrics(layout.child_metrics(key)).raw
    done = sum(row["key"] in finished for row in sampled)
    starts = [m["started_at"] for m in finished.values() if isinstance(m.get("started_at"), (int, float))]
    line = f"children    {done} of {planned} done"
    if not starts:
        return line
    ends = [m["finished_at"] for m in finished.values() if isinstance(m.get("finished_at"), (int, float))]
    now = time.time() if now is None else now
    searching = done < planned
    elapsed = (now if searching else max(ends)) - min(starts)
    line += f"; {duration(elapsed)} since the first started" if searching else \
        f"; {duration(elapsed)} from the first start to the last end"
    if searching and done:
        line += f"; about {duration(elapsed / done * (planned - done))} left at the rate so far (final runs after)"
    return line
