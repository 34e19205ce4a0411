"""Shared pieces of the benchmark scripts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from nasrl.data.images import ImageDataModule


class RandomCifarShaped(ImageDataModule):
    """Random 3x32x32 images with 10 labels: CIFAR-10's shapes, for timing only.

    CIFAR-10 cannot be downloaded on every machine; the cost per step does not depend on pixels.
    """

    num_classes, in_channels, image_size = 10, 3, 32

    def __init__(self, train: int = 2048, val: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.sizes = {"train": train, "val": val, "test": val}

    def load_splits(self):
        g = torch.Generator().manual_seed(0)
        return {split: (torch.rand(n, 3, 32, 32, generator=g) * 255, torch.randint(0, 10, (n,), generator=g))
                for split, n in self.sizes.items()}


REPO = Path(__file__).resolve().parents[1]


def workflow_copy(prefix: str) -> Path:
    """A temporary copy of the workflow (Snakefile, rules, profiles, configs): runs there leave
    no results or Snakemake metadata in the project."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copy(REPO / "Snakefile", work)
    for folder in ("workflow", "profiles", "config"):
        shutil.copytree(REPO / folder, work / folder)
    return work
