"""Floating-point operations of a CNN child's forward pass, counted from its architecture.

The network is ``nasrl.models.cnn.CnnChild``: each layer a convolution with "same" padding for
its odd kernel and its stride, reading the zero-padded concatenation of its inputs (or the
image), optionally followed by a 2x2/2 max pool (ceil mode); the classifier is global average
pooling and one linear layer. A multiply-add counts as 2 operations, the convention of
``torch.utils.flop_counter`` (against which ``tests/test_flops.py`` checks this count). Batch
norm, ReLU, pooling and padding are left out: a few operations per activation, against a
convolution's ``2 * k_h * k_w * C_in`` per output.
"""

from __future__ import annotations

import math
from typing import Any


def cnn_flops(arch: dict[str, Any], in_channels: int, image_size: int | tuple[int, int], num_classes: int) -> int:
    """Forward-pass operations (2 per multiply-add) for one image of ``image_size``.

    Args:
        arch: a ``cnn`` architecture value (``nasrl.spaces.cnn``).
        in_channels: channels of the image.
        image_size: its side, or (height, width).
        num_classes: outputs of the classifier.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    pool_after = set(arch.get("max_pool_after", []))
    sizes: list[tuple[int, int]] = []
    widths: list[int] = []
    total = 0
    for i, layer in enumerate(arch["layers"]):
        inputs = list(layer["inputs"])
        if inputs:
            h = max(sizes[j][0] for j in inputs)
            w = max(sizes[j][1] for j in inputs)
            c_in = sum(widths[j] for j in inputs)
        else:
            h, w, c_in = height, width, in_channels
        kh, kw = layer["filter_height"], layer["filter_width"]
        sh, sw = layer["stride_height"], layer["stride_width"]
        out_h = (h + 2 * (kh // 2) - kh) // sh + 1
        out_w = (w + 2 * (kw // 2) - kw) // sw + 1
        total += 2 * out_h * out_w * kh * kw * c_in * layer["num_filters"]
        if i in pool_after:
            out_h, out_w = math.ceil(out_h / 2), math.ceil(out_w / 2)
        sizes.append((out_h, out_w))
        widths.append(layer["num_filters"])
    consumed = {j for layer in arch["layers"] for j in layer["inputs"]}
    features = sum(widths[i] for i in range(len(widths)) if i not in consumed)
    return total + 2 * features * num_classes
