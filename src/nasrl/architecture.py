"""Architectures as values: canonical JSON and a stable content key.

An architecture is a plain JSON object (dicts, lists, strings, numbers) whose ``"space"``
field names the search space it belongs to. Two architectures are the same exactly when
their canonical JSON is the same, so the content key can name result folders and caches.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

KEY_LENGTH = 16  # hex digits of sha256: 64 bits, ample for the 10^4-10^5 children of a search


class ArchitectureError(ValueError):
    """An architecture (or search-space spec) is malformed or lies outside its space."""


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically: sorted keys, no whitespace, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_key(value: Any) -> str:
    """Stable content hash of a JSON value (same in every process and on every machine)."""
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()[:KEY_LENGTH]


def read_json(path: str | Path, what: str = "architecture") -> Any:
    """Read a JSON file, turning a missing file or bad JSON into one clear error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArchitectureError(f"{what} file not found: {path}") from None
    except OSError as err:
        raise ArchitectureError(f"cannot read {what} file {path}: {err.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ArchitectureError(
            f"{what} file {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None

