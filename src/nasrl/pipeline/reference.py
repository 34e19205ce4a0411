"""The reference children of a round, for the median stopping rule (nasrl.training.early_stopping).

Round r's reference is every completed child (status ok, so trained for all its epochs; not
stopped, failed or a surrogate) of rounds 0 .. r - 1 - s, s = search.staleness: exactly the
rounds whose rewards exist when round r is sampled, so building it waits for nothing the
round's sampling did not already wait for. With s = 0 round r sees the rounds before it; the
first s + 1 rounds have an empty reference and train every child fully. Children of the same
round never see each other: they train in parallel, and which finished first would decide.

``rounds/NNNN/reference.csv`` is in long format, one row per child and epoch: key, epoch,
value (the raw validation metric of that epoch, from the child's curve.csv, which its job
writes before its metrics.json), sorted by key and epoch, so the same history gives the same
bytes and the same fingerprint.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from nasrl.io import write_text
from nasrl.layout import RunFolder

COLUMNS = ("key", "epoch", "value")


def reference_rows(rewards: list[str | Path], children_dir: str | Path) -> list[tuple[str, int, float]]:
    """(key, epoch, value) of every distinct completed child of the given round tables."""
    rows = []
    keys: dict[str, str] = {}  # key -> its metric column
    for path in rewards:
        table = pd.read_parquet(path)
        done = table[table["status"] == "ok"]
        if "surrogate" in done:  # a table lookup has no curve (and plan_checks keeps stopping off for it)
            done = done[~done["surrogate"].astype(bool)]
        for key, metric in zip(done["key"], done["metric"]):
            keys.setdefault(key, str(metric))
    for key in sorted(keys):
        with open(RunFolder(Path(children_dir) / key).curve, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows.append((key, int(row["epoch"]), float(row[keys[key]])))
    return sorted(rows)


def build_reference(rewards: list[str | Path], children_dir: str | Path, out: str | Path) -> int:
    """Write ``reference.csv`` from the earlier rounds' rewards tables; returns its children count."""
    rows = reference_rows(rewards, children_dir)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((key, epoch, repr(value)) for key, epoch, value in rows)
    write_text(out, text.getvalue())
    return len({key for key, _, _ in rows})
