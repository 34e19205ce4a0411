"""The one exception raised for missing or malformed data, here so the torch-free readers and
the data modules (nasrl.data) raise the same class.

A child-training job that cannot find its data should stop at once with a message
saying which path was read, what was expected there and how to obtain it, rather than
with a bare ``FileNotFoundError`` or ``UnpicklingError`` from deep inside a loader.
"""

from __future__ import annotations

from nasrl.errors import NasrlError


class DataError(NasrlError):
    """A data directory or file is missing, corrupt or inconsistent.

    One of the package's errors (a ``ValueError``), so callers that treat bad configuration
    values as ``ValueError`` also catch it. The message always names the offending path.
    """
