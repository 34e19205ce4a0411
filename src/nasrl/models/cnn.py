"""The CNN child network compiled from a ``cnn`` architecture (Zoph & Le 2017, Sec. 3.1-3.2, App. A).

Every layer is conv -> batch norm -> ReLU (the paper names the three parts, not their
order; conv -> BN -> ReLU is the usual reading, as in ENAS macro children). The paper's
compile rules (docs/paper.md Sec. 2.3) turn the skip connections into a network:

1. a layer with no input (``inputs == []``) reads the image;
2. every layer output no later layer consumes is concatenated and sent to the classifier;
3. inputs of different spatial size are zero-padded to the largest one, then concatenated
   along channels (skip connections concatenate, they are not residual; Fig. 7).

The classifier is global average pooling + one linear layer: the paper does not give it,
but this head is the one under which the Fig. 7 network has its 4.2M weights (docs/paper.md
Sec. 4). Layers named in ``max_pool_after`` (the v3 net) are followed by a 2x2/2 max pool.
The v3 space's blocks of 3 convs (docs/paper.md Sec. 2.5) arrive here already expanded into
layers with their ``inputs``, and its "+40 filters" into each layer's ``num_filters``, so this
builder has no notion of blocks or widening.

Example::

    arch, _ = nasrl.spaces.presets.preset_architecture("cnn_figure7")
    logits = CnnChild(arch)(torch.randn(2, 3, 32, 32))  # [2, 10]
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters of ``module`` (each shared Parameter counted once)."""
    return sum(p.numel() for p in module.parameters())


def pad_and_concat(maps: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate feature maps along channels, zero-padding them to the largest height/width.

    Compile rule 3. The paper only says "pad the smaller ones"; the zeros go at the bottom
    and right, so the top-left pixel of every map stays aligned with the image's top-left.

    Args:
        maps: tensors [B, C_i, H_i, W_i].

    Returns:
        [B, sum C_i, max H_i, max W_i].
    """
    if len(maps) == 1:
        return maps[0]
    height = max(m.shape[-2] for m in maps)
    width = max(m.shape[-1] for m in maps)
    # F.pad takes (left, right, top, bottom) for the last two dims; it keeps channels_last.
    padded = [F.pad(m, (0, width - m.shape[-1], 0, height - m.shape[-2])) for m in maps]
    return torch.cat(padded, dim=1)


class ConvBnRelu(nn.Sequential):
    """One searched layer: Conv2d (no bias, BN follows) -> BatchNorm2d -> ReLU."""

    def __init__(self, in_channels: int, layer: dict[str, Any], bn_eps: float):
        kernel = (layer["filter_height"], layer["filter_width"])
        super().__init__(
            # FH is the kernel height (rows); "same" padding for odd kernels, so a stride-1
            # layer keeps its input's size (all Fig. 7 maps stay 32x32).
            nn.Conv2d(in_channels, layer["num_filters"], kernel,
                      stride=(layer["stride_height"], layer["stride_width"]),
                      padding=(kernel[0] // 2, kernel[1] // 2), bias=False),
            nn.BatchNorm2d(layer["num_filters"], eps=bn_eps),
            nn.ReLU(inplace=True),
        )


class CnnChild(nn.Module):
    """A CNN child network built from a ``cnn`` architecture value.

    Args:
        arch: architecture value with ``layers`` (each with filter_height, filter_width,
            stride_height, stride_width, num_filters, inputs) and ``max_pool_after``; see
            ``nasrl.spaces.cnn``.
        in_channels: channels of the input image (3 for CIFAR-10, 1 for 8x8 digits).
        num_classes: outputs of the classifier.
        bn_eps: batch-norm epsilon (one of the knobs of the paper's final grid search, Sec. 3.1).

    Raises:
        ValueError: a layer reads itself, a later layer or a missing one, or
            ``max_pool_after`` names a missing layer.
    """

    @staticmethod
    def tensor_specs(args: dict[str, Any], data: dict[str, Any]) -> tuple[tuple[str, tuple, str], ...]:
        """(dtype, shape, name) of the input and the output, batch dimension free (-1): normalized
        images [B, C, H, W] of the data's ``image_size`` (data.json) to class logits [B, classes]."""
        if "image_size" not in data:
            raise ValueError("the data summary (data.json) gives no image_size: the images' input shape is unknown")
        size = data["image_size"]
        return (("float32", (-1, args["in_channels"], size, size), "images"),
                ("float32", (-1, args["num_classes"]), "logits"))

    def __init__(self, arch: dict[str, Any], in_channels: int = 3, num_classes: int = 10, bn_eps: float = 1e-5):
        super().__init__()
        layers = arch["layers"]
        self.inputs: list[list[int]] = [list(layer["inputs"]) for layer in layers]
        for i, inputs in enumerate(self.inputs):
            if any(not 0 <= j < i for j in inputs):
                raise ValueError(f"layers[{i}].inputs: a layer can only read earlier layers 0..{i - 1}, got {inputs}")
        self.pool_after = set(arch.get("max_pool_after", []))
        if any(not 0 <= i < len(layers) for i in self.pool_after):
            raise ValueError(f"max_pool_after: {sorted(self.pool_after)} names a layer outside 0..{len(layers) - 1}")

        widths = [layer["num_filters"] for layer in layers]
        self.layers = nn.ModuleList(
            ConvBnRelu(sum(widths[j] for j in inputs) if inputs else in_channels, layer, bn_eps)
            for layer, inputs in zip(layers, self.inputs)
        )
        # ceil_mode keeps a 1x1 map at 1x1 instead of failing, so tiny inputs survive pooling.
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)
        consumed = {j for inputs in self.inputs for j in inputs}
        self.outputs = [i for i in range(len(layers)) if i not in consumed]  # compile rule 2
        self.classifier = nn.Linear(sum(widths[i] for i in self.outputs), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Classify a batch.

        Args:
            images: [B, in_channels, H, W].

        Returns:
            logits [B, num_classes].
        """
        outs: list[torch.Tensor] = []
        for i, (layer, inputs) in enumerate(zip(self.layers, self.inputs)):
            x = pad_and_concat([outs[j] for j in inputs]) if inputs else images  # compile rule 1
            y = layer(x)
            outs.append(self.pool(y) if i in self.pool_after else y)
        features = pad_and_concat([outs[i] for i in self.outputs])
        # Padding zeros are averaged in too: a padded map's mean is scaled by its true area
        # over the largest one, a constant per architecture that the linear layer absorbs.
        return self.classifier(features.mean(dim=(2, 3)))  # [B, C] -> [B, num_classes]

    def conv_weight_count(self) -> int:
        """Convolution weights only (the quantity the paper's "4.2M" counts for Fig. 7)."""
        return sum(layer[0].weight.numel() for layer in self.layers)
