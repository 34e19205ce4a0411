"""Named search spaces and architectures that ship with the package.

Spaces (YAML): ``cnn_v1``, ``cnn_v2``, ``cnn_v3`` (13 blocks of 3 convs), ``cnn_v3_plus40``
(the same, +40 filters on every conv), ``cnn_v3_per_layer`` (39 single-conv decisions),
``rnn_base8``, ``rnn_base8_extended``, ``rnn_base2``. Architectures (JSON), each with the space
it lives in:

- ``cnn_figure7``: the 15-layer CIFAR-10 network of Zoph & Le (2017) Fig. 7 / Appendix A
  (4,199,868 convolution weights; edges recovered from the figure, docs/paper.md Sec. 4).
- ``cnn_v3_reference``: a 39-layer v3 network with Table 1's 7.1M weights, built by a stated
  rule (the paper does not publish its v3 network; docs/paper.md Sec. 2.5);
  ``cnn_v3_reference_plus40``: the same with 40 more filters on every conv (Table 1: 37.4M).
- ``rnn_nas_cell``: the discovered base-8 cell (Fig. 8; TensorFlow ``NASCell``).
- ``rnn_figure5``: the base-2 example cell of Fig. 5.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nasrl.architecture import ArchitectureError
from nasrl.spaces import SearchSpace, build_space, load_space

ARCHITECTURE_SPACES = {
    "cnn_figure7": "cnn_v1",
    "cnn_v3_reference": "cnn_v3",
    "cnn_v3_reference_plus40": "cnn_v3_plus40",
    "rnn_nas_cell": "rnn_base8",
    "rnn_figure5": "rnn_base2",
}
_FILES = resources.files("nasrl.spaces.presets")


def space_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in _FILES.iterdir() if p.name.endswith(".yaml"))


def architecture_names() -> list[str]:
    return sorted(ARCHITECTURE_SPACES)


def space_spec(name: str) -> dict[str, Any]:
    if name not in space_names():
        raise ArchitectureError(f"unknown space preset {name!r}; expected one of {space_names()}")
    return yaml.safe_load((_FILES / f"{name}.yaml").read_text(encoding="utf-8"))


def preset_space(name: str) -> SearchSpace:
    return build_space(space_spec(name))


def preset_architecture(name: str) -> tuple[dict[str, Any], SearchSpace]:
    """A shipped architecture and the preset space it belongs to."""
    if name not in ARCHITECTURE_SPACES:
        raise ArchitectureError(f"unknown architecture preset {name!r}; expected one of {architecture_names()}")
    arch = json.loads((_FILES / f"{name}.json").read_text(encoding="utf-8"))
    return arch, preset_space(ARCHITECTURE_SPACES[name])


def resolve_space(value: dict[str, Any] | str | Path, default_type: str | None = None) -> SearchSpace:
    """The one way a space is named anywhere: a spec mapping, a preset name or a YAML/JSON file."""
    if isinstance(value, dict):
        return build_space(value, default_type)
    if isinstance(value, str) and value in space_names():
        return preset_space(value)
    return load_space(value, default_type)
