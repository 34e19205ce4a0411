"""The content hash of a dataset's files: it enters the child key, so changed data trains new
children and unchanged data reuses them.

The hash covers each file's path relative to the dataset's root, its size and its sha256, so a
renamed class folder changes it as much as an edited image. Digests are remembered per
(path, size, modification time) for the life of the process: the plan and ``nasrl data check``
read each file once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _CACHE[key] = digest.hexdigest()
    return _CACHE[key]


def files_digest(root: Path, files: Iterable[Path], extra: str = "") -> str:
    """sha256 over (relative path, size, sha256) of each file, sorted, plus ``extra`` text."""
    total = hashlib.sha256(extra.encode())
    for path in sorted(files):
        name = path.relative_to(root).as_posix() if path != root else path.name
        total.update(f"{name}\0{path.stat().st_size}\0{file_digest(path)}\n".encode())
    return total.hexdigest()
