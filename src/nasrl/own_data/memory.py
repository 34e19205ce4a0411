"""Whether a dataset fits in memory, decided when the run is planned.

Every child job loads its own copy of the data as tensors (data/images.py keeps the splits in
memory), and several children train at once, so a dataset may take at most a quarter of the
memory this process may use (physical memory, or its cgroup's limit when lower). Above that the
run stops at plan time with one line naming the data's size, instead of children failing one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

from nasrl.own_data.errors import DataError

MEMORY_SHARE = 4  # the data may take 1 / MEMORY_SHARE of the memory


def memory_bytes() -> int:
    """The memory this process may use: physical memory, or its cgroup's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def gigabytes(size: int) -> str:
    """A size in words: GB, MB or kB, whichever fits."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def check_fits(size: int, where: str | Path, what: str) -> None:
    """DataError naming the data's size when ``size`` bytes exceed the share of memory."""
    total = memory_bytes()
    if size > total // MEMORY_SHARE:
        raise DataError(f"{where}: {gigabytes(size)} in memory ({what}), more than 1/{MEMORY_SHARE} of this "
                        f"machine's {gigabytes(total)}; expected at most {gigabytes(total // MEMORY_SHARE)}: "
                        "each child job holds its own copy and several run at once")
