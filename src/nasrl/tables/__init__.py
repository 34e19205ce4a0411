"""Published results tables that ship with the package (README.md here: sources, licenses, columns).

A config or command names a shipped table ``nasrl:FILE`` (``child.surrogate.table:
nasrl:nas-bench-macro-cifar10.csv``, ``nasrl bench --table nasrl:...``), so that the shipped
configs work from an installed package, wherever it lies; any other value is the path of a
table of one's own. The name, not the file it resolves to, is what a config keeps, so a
surrogate child's key does not depend on where the package is installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nasrl.errors import TableError

PREFIX = "nasrl:"


def table_names() -> list[str]:
    """The shipped tables, as a config names them."""
    return sorted(PREFIX + p.name for p in resources.files(__name__).iterdir() if p.name.endswith(".csv"))


def table_path(value: str | Path) -> Path:
    """The file a table value names: a shipped table for ``nasrl:FILE``, else the path itself.
    TableError (a ValueError) in one line for a ``nasrl:`` name that does not ship."""
    text = str(value)
    if not text.startswith(PREFIX):
        return Path(value)
    if text not in table_names():
        raise TableError(f"{text!r} is not a table that ships with nasrl; expected one of {table_names()}, "
                         "or the path of a CSV file")
    # A regular package installed as files (pip, pip install -e): its resources are paths on disk.
    return Path(str(resources.files(__name__) / text[len(PREFIX):]))
