"""Search spaces as data: build one from its spec (a dict, or a YAML/JSON file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nasrl.architecture import MAX_JSON_DEPTH, ArchitectureError, read_input
from nasrl.space_kinds import KINDS, kind_named, load
from nasrl.spaces.base import SearchSpace
from nasrl.spaces.steps import Anchor, Categorical, Step

# The space class of each kind (nasrl.space_kinds), by its type.
SPACES: dict[str, type[SearchSpace]] = {name: load(kind.space) for name, kind in KINDS.items()}

def space_class_of(arch: Any) -> type[SearchSpace] | None:
    """The space class of the kind an architecture value names; None for a malformed value."""
    kind = kind_named(arch)
    return SPACES[kind.name] if kind is not None else None


__all__ = ["SPACES", "space_class_of", "Anchor", "Categorical", "SearchSpace", "Step", "build_space", "load_space"]


def build_space(spec: dict[str, Any], default_type: str | None = None) -> SearchSpace:
    """Build a search space from its spec; ``spec["type"]`` picks the space."""
    if not isinstance(spec, dict):
        raise ArchitectureError(f"search space spec: expected a mapping, got {type(spec).__name__}")
    kind = spec.get("type", default_type)
    if not isinstance(kind, str) or kind not in SPACES:  # a list or mapping is no name (and unhashable)
        raise ArchitectureError(f"search space spec.type: {kind!r} is not one of {sorted(SPACES)}")
    return SPACES[kind]({**spec, "type": kind})


def load_space(path: str | Path, default_type: str | None = None) -> SearchSpace:
    """Read a space spec from a YAML (or JSON) file and build it."""
    path = Path(path)
    text = read_input(path, "search space")  # capped: a wrong path such as /dev/zero is one error line
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ArchitectureError(f"search space file {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:  # the YAML composer recurses per level of nesting
        raise ArchitectureError(f"search space file {path} nests lists or mappings too deeply to read; "
                                f"expected at most {MAX_JSON_DEPTH} levels") from None
    try:
        return build_space(spec, default_type)
    except ArchitectureError as err:
        raise ArchitectureError(f"{path}: {err}") from None
