"""The smallest space an architecture fits in, for an architecture that comes without its space.

``nasrl describe`` and ``nasrl draw`` take a bare architecture file: they check it against
the default space of its type, widened just enough to hold its values (a 64-filter layer in
a space without 64, a cell with ``max``), so that a well-formed architecture of any shipped
space is accepted and a malformed one gets the space's own one-line error.
"""

from __future__ import annotations

from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.spaces import SearchSpace, build_space
from nasrl.spaces.cnn import DEFAULT_SPEC as CNN_DEFAULTS, LAYER_DECISIONS
from nasrl.spaces.rnn_cell import ACTIVATIONS, COMBINATIONS

DRAWABLE_SPACES = ("cnn", "rnn_cell")


def smallest_space_of(arch: Any) -> SearchSpace:
    """The default space of the architecture's type, widened just enough to contain it."""
    if not isinstance(arch, dict) or arch.get("space") not in DRAWABLE_SPACES:
        found = arch.get("space") if isinstance(arch, dict) else type(arch).__name__
        raise ArchitectureError(f"architecture.space: expected 'cnn' or 'rnn_cell', got {found!r}")
    if arch["space"] == "rnn_cell":
        return build_space({"type": "rnn_cell", "base": arch.get("base"),
                            "combinations": list(COMBINATIONS), "activations": list(ACTIVATIONS)})
    layers = arch.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise ArchitectureError("architecture.layers: expected a list of layer objects")
    spec: dict[str, Any] = {"type": "cnn", "depth": {"start": 1, "step": 0, "every": 1, "max": None},
                            "max_pool_after": arch.get("max_pool_after", [])}
    for field, key, _ in LAYER_DECISIONS:
        used = {layer.get(field) for layer in layers if isinstance(layer.get(field), int)}
        spec[key] = sorted(set(spec.get(key, CNN_DEFAULTS[key])) | used)  # both strides share one key
    # inputs that are not a list are reported by the space's validation, with the layer they belong to
    spec["always_connect_previous"] = all(isinstance(layer.get("inputs"), list) and i - 1 in layer["inputs"]
                                          for i, layer in enumerate(layers) if i)
    return build_space(spec)


def validated(arch: Any) -> dict[str, Any]:
    """``arch`` checked against the smallest space containing it (ArchitectureError if malformed)."""
    return smallest_space_of(arch).validate(arch)
