"""Reading and writing the result files: one atomic writer, typed readers.

A result file is written to a temporary name and renamed in one step, so a job killed
mid-write leaves either the old file or none: a file that exists is complete (the pipeline
treats ``metrics.json`` as "this child is finished"). JSON is strict: non-finite numbers
become null.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from nasrl.architecture import read_json


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto it when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes it 0600: give it a plain file's mode
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, value: Any) -> None:
    """Indented, key-sorted strict JSON (non-finite numbers become null), replaced atomically."""
    text = json.dumps(finite(value), indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


@dataclass(frozen=True)
class RunMetrics:
    """A child's or a final run's ``metrics.json`` (written by training, read everywhere else).

    ``status`` is ok | stopped | failed | diverged | too_large (| skipped for a final run with no
    architecture; surrogate runs are ok with ``surrogate`` true). ``raw`` keeps every field as written.
    """

    status: str
    reward: float | None
    metric: str | None
    best_val: float | None
    seconds: float | None
    params: int | None
    key: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


def read_metrics(path: str | Path) -> RunMetrics:
    """A run's ``metrics.json`` (``nasrl.layout.RunFolder.metrics``)."""
    path = Path(path)
    raw = read_json(path, "metrics")
    return RunMetrics(status=raw["status"], reward=raw.get("reward"), metric=raw.get("metric"),
                      best_val=raw.get("best_val"), seconds=raw.get("seconds"), params=raw.get("params"),
                      key=raw.get("key"), raw=raw)


def read_top(path: str | Path) -> list[dict[str, Any]]:
    """``final/top.json``: the ranked architectures (rank, arch_key, arch, reward, val, round, index)."""
    return read_json(path, "top architectures")


def read_history(path: str | Path):
    """``history.parquet`` as a pandas DataFrame (one row per sampled child)."""
    import pandas as pd

    return pd.read_parquet(path)
