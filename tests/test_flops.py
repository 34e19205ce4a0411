"""The analytic FLOP count of a CNN child against PyTorch's own counter on the built network."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nasrl.models import CnnChild
from nasrl.models.flops import cnn_flops
from nasrl.spaces.presets import preset_architecture


def layer(fh=3, fw=3, sh=1, sw=1, n=4, inputs=()):
    return {"filter_height": fh, "filter_width": fw, "stride_height": sh, "stride_width": sw,
            "num_filters": n, "inputs": list(inputs)}


def counted(arch, in_channels, size, classes):
    model = CnnChild(arch, in_channels=in_channels, num_classes=classes).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, in_channels, size, size))
    return counter.get_total_flops()


ARCHS = [
    ({"space": "cnn", "layers": [layer(n=8), layer(5, 1, n=16, inputs=[0]), layer(1, 3, n=4, inputs=[0, 1])],
      "max_pool_after": []}, 1, 8, 10),
    # strides, a pooled layer and a skip from a smaller map (zero-padded to the larger one)
    ({"space": "cnn", "layers": [layer(3, 3, 2, 1, n=6), layer(7, 5, n=12, inputs=[0]), layer(1, 1, 1, 2, n=5, inputs=[0]),
                                 layer(3, 3, n=7, inputs=[1, 2])], "max_pool_after": [1]}, 3, 15, 7),
]


@pytest.mark.parametrize("arch, in_channels, size, classes", ARCHS)
def test_analytic_flops_equal_pytorchs_count(arch, in_channels, size, classes):
    assert cnn_flops(arch, in_channels, size, classes) == counted(arch, in_channels, size, classes)


def test_figure7_flops():
    arch, _ = preset_architecture("cnn_figure7")
    flops = cnn_flops(arch, 3, 32, 10)
    assert flops == counted(arch, 3, 32, 10)
    # every map stays 32x32: 2 x 1,024 positions x the 4,199,868 conv weights, plus the classifier
    assert flops == 2 * 1024 * 4_199_868 + 2 * 48 * 10
