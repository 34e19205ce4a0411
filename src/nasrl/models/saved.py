"""A trained child network saved as ``model.pt``, and rebuilt from that file alone.

The file holds the architecture, the constructor arguments the network was built with
(input channels and classes, or vocabulary and layer sizes), the training settings and the
weights: whoever reads it (the final report, MLflow's model registry) needs no dataset and no
training code to rebuild the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasrl.io import atomic_path
from nasrl.layout import RunFolder
from nasrl.space_kinds import kind_of, load


def build_model(arch: dict[str, Any], args: dict[str, Any]) -> nn.Module:
    """The child network of ``arch`` (its space kind's network: a CNN, a cell language model) with
    constructor ``args``."""
    return load(kind_of(arch, trainable=True).network)(arch, **args)


def save_model(path: str | Path, arch: dict[str, Any], args: dict[str, Any], model: nn.Module,
               settings: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"arch": arch, "model_args": args, "child": settings, "state_dict": model.state_dict()}, tmp)


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The network saved in ``path`` (a model.pt or its folder) with its weights, and the file's
    contents (architecture, settings) without the weights."""
    path = Path(path)
    if path.is_dir():
        path = RunFolder(path).model
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(saved["arch"], saved["model_args"])
    model.load_state_dict(saved.pop("state_dict"))
    return model, saved
