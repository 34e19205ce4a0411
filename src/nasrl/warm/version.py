"""The warm-start server's version key: a server runs only the code it imported, so anything that
would make a fresh process import other code gets a server of its own.

The key covers the interpreter, the import path (PYTHONPATH and the launcher's folder included),
every installed distribution's name and version (an upgrade of torch, mlflow, pandas or numpy
renames its ``*.dist-info`` folder) and nasrl's own sources (an editable install changes no
version). It is computed from file names and metadata only: it runs in every job.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def installed_distributions(path: list[str]) -> list[str]:
    """Names of the ``*.dist-info`` / ``*.egg-info`` entries on the import path: name-version."""
    found = []
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found += [f"{entry}/{name}" for name in names if name.endswith((".dist-info", ".egg-info"))]
    return sorted(found)


def nasrl_sources() -> list[str]:
    import nasrl

    root = Path(nasrl.__file__).parent
    return [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sorted(root.rglob("*.py"))]


def code_version() -> str:
    stamp = [sys.executable, sys.version, *sys.path, *installed_distributions(sys.path), *nasrl_sources()]
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]
