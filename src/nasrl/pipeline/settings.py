"""The sections of a workflow config that each step needs, checked and with defaults.

The workflow writes each section to its own file (``settings/search.yaml``,
``settings/child.yaml``, ``settings/final.yaml``) so that changing, say, the final grid
does not touch the inputs of already trained children.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nasrl.spaces import SearchSpace
from nasrl.training.config import ChildConfig

STRATEGIES = ("reinforce", "random")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"settings file not found: {path}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


@dataclass
class SearchSettings:
    """What sampling and controller updates need."""

    space: dict[str, Any] | str  # a spec, a preset name or a YAML path
    strategy: str = "reinforce"
    seed: int = 0
    rounds: int = 4
    children_per_round: int = 4  # m, the controller minibatch (8 in the paper, Sec. 4.1)
    replicas: int = 1  # K: a round samples K x m children and applies K updates (the paper's 100 replicas)
    staleness: int = 0  # s: round r is sampled from controller r - s (0: synchronous rounds)
    controller: dict[str, Any] = field(default_factory=dict)  # ReinforceConfig keys

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SearchSettings":
        settings = cls(**values)
        if settings.strategy not in STRATEGIES:
            raise ValueError(f"strategy: {settings.strategy!r} is not one of {list(STRATEGIES)}")
        if settings.rounds < 1 or settings.children_per_round < 1:
            raise ValueError("search.rounds and search.children_per_round must be >= 1")
        for name, low in (("replicas", 1), ("staleness", 0)):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"search.{name}: expected an integer >= {low}, got {value!r}")
        return settings

    def build_space(self) -> SearchSpace:
        from nasrl.spaces.presets import resolve_space

        return resolve_space(self.space)

    def strategy_config(self) -> dict[str, Any] | None:
        return dict(self.controller) if self.strategy == "reinforce" else None


@dataclass
class FinalSettings:
    """Final retraining (Sec. 4.1): top-k architectures x a small grid of training settings."""

    top_k: int = 2
    epochs: int | None = None  # None: the search's child epochs
    grid: dict[str, list[Any]] = field(default_factory=dict)  # lr, weight_decay, bn_eps, lr_decay_at

    GRID_KEYS = ("lr", "weight_decay", "bn_eps", "lr_decay_at")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FinalSettings":
        settings = cls(**values)
        unknown = sorted(set(settings.grid) - set(cls.GRID_KEYS))
        if unknown:
            raise ValueError(f"final.grid: unknown key(s) {unknown}; expected some of {list(cls.GRID_KEYS)}")
        for key, values_ in settings.grid.items():
            if not isinstance(values_, list) or not values_:
                raise ValueError(f"final.grid.{key}: expected a non-empty list")
        return settings

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in a fixed order."""
        keys = [k for k in self.GRID_KEYS if k in self.grid]
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def child_config(self, base: ChildConfig, point: dict[str, Any]) -> ChildConfig:
        """The search's child settings with this grid point and the final epochs applied."""
        values = base.to_dict()
        if self.epochs is not None:
            values["epochs"] = self.epochs
        for key, value in point.items():
            if key in ("lr", "weight_decay"):
                values["optimizer"][key] = value
            else:
                values[key] = value
        return ChildConfig.from_dict(values)
