"""Architectures as values: canonical JSON and a stable content key.

An architecture is a plain JSON object (dicts, lists, strings, numbers) whose ``"space"``
field names the search space it belongs to. Two architectures are the same exactly when
their canonical JSON is the same, so the content key can name result folders and caches.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from nasrl.errors import ArchitectureError  # noqa: F401  (raised here and imported from here by the spaces)

KEY_LENGTH = 16  # hex digits of sha256: 64 bits, ample for the 10^4-10^5 children of a search


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically: sorted keys, no whitespace, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_key(value: Any) -> str:
    """Stable content hash of a JSON value (same in every process and on every machine)."""
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()[:KEY_LENGTH]


# Files named on the command line (architectures, configs, space specs) and the result files
# are read whole. A cap keeps a wrong path (/dev/zero, a dataset, a disk image) from reading
# until the memory runs out; the largest such file nasrl writes, a search's final/top.json,
# is a few kilobytes per architecture.
MAX_INPUT_BYTES = 8 * 1024 * 1024
# An architecture is a handful of levels deep (its mapping, the list of layers or nodes, one
# layer, its inputs) and a result file a few more; code that walks a value recursively stays
# far from Python's recursion limit (1000) below this depth.
MAX_JSON_DEPTH = 100


def read_input(path: str | Path, what: str) -> str:
    """The text of a file, read whole up to ``MAX_INPUT_BYTES``; a missing, unreadable, too
    large or non-UTF-8 file is one ArchitectureError line."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise ArchitectureError(f"{what} file not found: {path}") from None
    except OSError as err:
        raise ArchitectureError(f"cannot read {what} file {path}: {err.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ArchitectureError(f"{what} file {path} is larger than {MAX_INPUT_BYTES // 2**20} MiB, the most "
                                f"nasrl reads; expected a small JSON or YAML text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchitectureError(f"{what} file {path} is not UTF-8 text (byte {err.start}); "
                                "expected a JSON or YAML text file") from None


def read_json(path: str | Path, what: str = "architecture") -> Any:
    """Read a JSON file, turning a missing, oversized or unreadable file, bad JSON, a value
    nested too deeply and a non-finite number into one clear error."""
    path = Path(path)
    text = read_input(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ArchitectureError(
            f"{what} file {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    except ValueError:  # the one other ValueError: an integer beyond Python's 4300-digit limit on int conversion
        raise ArchitectureError(f"{what} file {path} holds an integer of more than 4300 digits; "
                                "expected numbers of ordinary size") from None
    except RecursionError:  # the parser recurses per level: thousands of [[[... end it
        raise ArchitectureError(f"{what} file {path} nests lists or mappings too deeply to read; "
                                f"expected at most {MAX_JSON_DEPTH} levels") from None
    check_json_value(value, f"{what} file {path}")
    return value


def check_json_value(value: Any, where: str) -> None:
    """ArchitectureError unless ``value`` is at most ``MAX_JSON_DEPTH`` levels deep and every
    number in it is finite.

    Python's JSON reader accepts NaN and Infinity and reads a number beyond the float range
    (``1e400``) as infinity; nasrl writes strict JSON, so such a number is an input error,
    named by its place. The walk keeps its own stack, so any depth the parser accepted is fine.
    """
    stack = [(value, (), 1)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            text = "NaN" if math.isnan(item) else \
                "out of range (Infinity, or a number of magnitude beyond 1.8e308 such as 1e400)"
            raise ArchitectureError(f"{where}: {json_place(place)} is {text}; expected a finite number")
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in reversed(list(children)):  # popped in the file's order: the first bad value is named
            if depth >= MAX_JSON_DEPTH and isinstance(child, (dict, list)):
                raise ArchitectureError(f"{where}: lists or mappings nested more than {MAX_JSON_DEPTH} levels "
                                        f"deep; expected at most {MAX_JSON_DEPTH} levels")
            stack.append((child, place + (key,), depth + 1))


def json_place(place: tuple[Any, ...]) -> str:
    """A place in a JSON value as ``layers[0].num_filters`` (``the top level`` for the value itself)."""
    text = ""
    for part in place:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the top level"
