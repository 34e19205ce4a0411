"""The smallest space an architecture fits in, for an architecture that comes without its space.

``nasrl describe`` and ``nasrl draw`` take a bare architecture file: they check it against
the default space of its type, widened just enough to hold its values (a 64-filter layer in
a space without 64, a cell with ``max``), so that a well-formed architecture of any shipped
space is accepted and a malformed one gets the space's own one-line error.
"""

from __future__ import annotations

from typing import Any

from nasrl.space_kinds import kind_of
from nasrl.spaces import SPACES, SearchSpace


def smallest_space_of(arch: Any) -> SearchSpace:
    """The default space of the architecture's kind, widened just enough to contain it."""
    return SPACES[kind_of(arch, trainable=True).name].smallest_containing(arch)


def validated(arch: Any) -> dict[str, Any]:
    """``arch`` checked against the smallest space containing it (ArchitectureError if malformed)."""
    return smallest_space_of(arch).validate(arch)
