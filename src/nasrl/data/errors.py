"""The one exception the data modules raise for missing or malformed data (nasrl.own_data.errors:
defined below this package, so the torch-free readers of one's own data raise it too)."""

from __future__ import annotations

from nasrl.own_data.errors import DataError

__all__ = ["DataError"]
