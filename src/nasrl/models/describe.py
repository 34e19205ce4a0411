"""A JSON summary of one architecture: what ``nasrl describe ARCH.json`` prints."""

from __future__ import annotations

from typing import Any

from nasrl.architecture import ArchitectureError, content_key
from nasrl.spaces import SearchSpace, build_space
from nasrl.spaces.cnn import DEFAULT_SPEC as CNN_DEFAULTS, LAYER_DECISIONS
from nasrl.spaces.rnn_cell import ACTIVATIONS, COMBINATIONS


def smallest_space_of(arch: Any) -> SearchSpace:
    """The default space of the architecture's type, widened just enough to contain it."""
    if not isinstance(arch, dict) or arch.get("space") not in ("cnn", "rnn_cell"):
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
        spec[key] = sorted(set(CNN_DEFAULTS[key]) | used)
    spec["always_connect_previous"] = all(i - 1 in (layer.get("inputs") or []) for i, layer in enumerate(layers) if i)
    return build_space(spec)


def describe(arch: Any, in_channels: int = 3, num_classes: int = 10, input_size: int = 200,
             hidden_size: int = 200) -> dict[str, Any]:
    """Space, depth, parameter count (conv weights for CNNs) and decisions of ``arch``."""
    space = smallest_space_of(arch)
    arch = space.validate(arch)
    summary: dict[str, Any] = {"space": arch["space"], "key": content_key(arch)}
    if arch["space"] == "cnn":
        from nasrl.models.cnn import CnnChild, count_parameters

        model = CnnChild(arch, in_channels=in_channels, num_classes=num_classes)
        summary.update(depth=len(arch["layers"]), params=count_parameters(model),
                       conv_weights=model.conv_weight_count(),
                       params_for={"in_channels": in_channels, "num_classes": num_classes})
    else:
        from nasrl.models.cnn import count_parameters
        from nasrl.models.rnn_cell import TreeCell

        cell = TreeCell(arch, input_size=input_size, hidden_size=hidden_size)
        summary.update(base=arch["base"], depth=arch["base"].bit_length(), params=count_parameters(cell),  # tree levels
                       params_for={"input_size": input_size, "hidden_size": hidden_size, "what": "one cell layer"})
    summary["decisions"] = space.describe_decisions(arch)
    return summary
