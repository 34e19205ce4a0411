"""The ``final`` section: retraining of the top architectures on a small grid (Sec. 4.1)."""

from __future__ import annotations

import itertools
from typing import Annotated, Any, ClassVar

from pydantic import Field, NonNegativeFloat, PositiveFloat

from nasrl.settings.base import Count, Section, UnitFloat
from nasrl.settings.child import ChildConfig

GRID_KEYS = ("lr", "weight_decay", "bn_eps", "lr_decay_at")  # the paper's grid, in point order


class FinalGrid(Section):
    """Values to try per architecture; every combination is one run. A key left out (null)
    keeps the search's child setting. Sec. 4.1 tunes the learning rate, weight decay,
    batch-norm epsilon and the epochs to decay the learning rate at."""

    SECTION = "final.grid"

    lr: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    weight_decay: Annotated[list[NonNegativeFloat], Field(min_length=1)] | None = None
    bn_eps: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    lr_decay_at: Annotated[list[list[UnitFloat]], Field(min_length=1)] | None = None


class FinalSettings(Section):
    """Final retraining (Sec. 4.1): top-k architectures x a small grid of training settings."""

    SECTION = "final"
    GRID_KEYS: ClassVar[tuple[str, ...]] = GRID_KEYS

    top_k: Count = 2  # distinct architectures retrained
    epochs: Count | None = None  # None: the search's child epochs
    grid: FinalGrid = Field(default_factory=FinalGrid)

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in a fixed order."""
        keys = [k for k in GRID_KEYS if getattr(self.grid, k) is not None]
        return [dict(zip(keys, combo)) for combo in itertools.product(*(getattr(self.grid, k) for k in keys))]

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
