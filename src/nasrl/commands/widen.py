"""Widen a found CNN for its final training: Table 1's "+40 filters per layer" network.

Zoph & Le (2017, Table 1) retrain the v3 space's best architecture with 40 more filters in
every layer (7.1M -> 37.4M parameters). ``nasrl widen ARCH --filters 40 -o wide.json`` writes
that architecture: each conv's filter count plus 40, every connection and pooling unchanged.
It belongs to the searched space with ``extra_filters`` raised by the same amount (preset
``cnn_v3_plus40`` for ``cnn_v3``), so ``final.architectures: [wide.json]`` retrains it
(config/ptb-char-transfer.yaml shows that mode).
"""

from __future__ import annotations

import copy
from typing import Any

from nasrl.architecture import ArchitectureError


def widen_cnn(arch: Any, extra_filters: int) -> dict[str, Any]:
    """A copy of the CNN ``arch`` with ``extra_filters`` more filters in every conv layer."""
    if not isinstance(extra_filters, int) or isinstance(extra_filters, bool) or extra_filters < 1:
        raise ArchitectureError(f"--filters: expected a whole number of filters >= 1, got {extra_filters!r}")
    if not isinstance(arch, dict) or arch.get("space") != "cnn":
        space = arch.get("space") if isinstance(arch, dict) else type(arch).__name__
        raise ArchitectureError(f"widen: expected a CNN architecture (space 'cnn'), got {space!r}; "
                                "a recurrent cell has no filters to widen")
    layers = arch.get("layers")
    if not isinstance(layers, list) or not layers or not all(
            isinstance(layer, dict) and isinstance(layer.get("num_filters"), int) for layer in layers):
        raise ArchitectureError("widen: architecture.layers must be a non-empty list of layers with num_filters")
    wide = copy.deepcopy(arch)
    for layer in wide["layers"]:
        layer["num_filters"] += extra_filters
    return wide
