"""What ``nasrl describe`` says about a CNN architecture (Sec. 3.1-3.3)."""

from __future__ import annotations

from typing import Any

from nasrl.models.cnn import CnnChild, count_parameters


def summarize(arch: dict[str, Any], in_channels: int = 3, num_classes: int = 10, **_) -> dict[str, Any]:
    """Depth, parameters and conv weights of the network for images of ``in_channels`` and ``num_classes``."""
    model = CnnChild(arch, in_channels=in_channels, num_classes=num_classes)
    return {"depth": len(arch["layers"]), "params": count_parameters(model), "conv_weights": model.conv_weight_count(),
            "params_for": {"in_channels": in_channels, "num_classes": num_classes}}


def facts_and_rows(summary: dict[str, Any], arch: dict[str, Any]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The summary's facts, and one row per layer: filter, stride, filters, inputs, what follows."""
    shape = summary["params_for"]
    channels = "channel" if shape["in_channels"] == 1 else "channels"
    facts = [("layers", str(summary["depth"])),
             ("parameters", f"{summary['params']:,} for {shape['in_channels']} input {channels} and "
                            f"{shape['num_classes']} classes"),
             ("conv weights", f"{summary['conv_weights']:,}")]
    consumed = {j for layer in arch["layers"] for j in layer["inputs"]}
    pooled = set(arch["max_pool_after"])
    rows = [{
        "layer": i, "FH": layer["filter_height"], "FW": layer["filter_width"],
        "stride": f"{layer['stride_height']}x{layer['stride_width']}", "N": layer["num_filters"],
        "inputs": " ".join(map(str, layer["inputs"])) or "image",
        "then": ", ".join((["max pool"] if i in pooled else []) + (["classifier"] if i not in consumed else [])),
    } for i, layer in enumerate(arch["layers"])]
    return facts, rows
