"""The ``final`` section: retraining of the top architectures on a small grid (Sec. 4.1, 4.2).

Sec. 4.1 (CIFAR-10) grid-searches the learning rate, weight decay, batch-norm epsilon and the
epochs to decay at; for Penn Treebank (docs/paper.md Sec. 7.2) the learning rate, weight
initialisation, dropout rates and decay epoch, and some final models share the input and output
embeddings and are larger than the search's children (``final.language_model``).

``final.architectures`` retrains named architectures instead of a search's best (a transfer,
as Sec. 4.2's character-level and GNMT experiments take the found cell to a new task): the
workflow then runs no search, only the final grid and the report.

``final.within_budget`` makes the choice of the final network respect a cost-aware reward's
target (``child.reward.cost``): each final run records its cost and the budget, and the report
chooses among the runs within it (``nasrl.pipeline.final.best_run``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, NonNegativeFloat, PositiveFloat, field_validator

from nasrl.settings.base import Count, Fraction, Section, UnitFloat
from nasrl.settings.child import ChildConfig

# The paper's grid keys, in point order (new keys go last, so existing grids keep their points).
GRID_KEYS = ("lr", "weight_decay", "bn_eps", "lr_decay_at", "dropout", "recurrent_dropout", "embedding_dropout",
             "init_range")
LANGUAGE_MODEL_KEYS = ("dropout", "recurrent_dropout", "embedding_dropout", "init_range")  # child.language_model.*


class FinalGrid(Section):
    """Values to try per architecture; every combination is one run. A key left out (null)
    keeps the search's child setting. Sec. 4.1 tunes the learning rate, weight decay,
    batch-norm epsilon and the epochs to decay the learning rate at."""

    SECTION = "final.grid"

    lr: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    weight_decay: Annotated[list[NonNegativeFloat], Field(min_length=1)] | None = None
    bn_eps: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None
    lr_decay_at: Annotated[list[list[UnitFloat]], Field(min_length=1)] | None = None
    # Sec. 4.2 (docs/paper.md Sec. 7.2): dropout rates and the weight initialisation scale.
    dropout: Annotated[list[Fraction], Field(min_length=1)] | None = None
    recurrent_dropout: Annotated[list[Fraction], Field(min_length=1)] | None = None
    embedding_dropout: Annotated[list[Fraction], Field(min_length=1)] | None = None
    init_range: Annotated[list[PositiveFloat], Field(min_length=1)] | None = None


class FinalLanguageModel(Section):
    """Sizes and tying of the final language models (docs/paper.md Sec. 7.2: the best cell is run
    in 3 sizes, some with shared embeddings); a key left out keeps the search's child setting."""

    SECTION = "final.language_model"

    embedding_size: Count | None = None
    hidden_size: Count | None = None
    tie_weights: bool | None = None


class FinalSettings(Section):
    """Final retraining (Sec. 4.1): top-k architectures x a small grid of training settings."""

    SECTION = "final"
    GRID_KEYS: ClassVar[tuple[str, ...]] = GRID_KEYS

    top_k: Count = 2  # distinct architectures retrained
    epochs: Count | None = None  # None: the search's child epochs
    grid: FinalGrid = Field(default_factory=FinalGrid)
    language_model: FinalLanguageModel = Field(default_factory=FinalLanguageModel)
    # Preset names or architecture JSON files: retrained instead of a search's best (no search runs).
    architectures: list[str] = Field(default_factory=list)
    # With child.reward.cost: the report chooses the run best on validation among the final runs
    # whose cost (measured in their own job) is at most child.reward.cost.target (MnasNet's budget).
    within_budget: bool = False

    @field_validator("architectures")
    @classmethod
    def _named_architectures(cls, names: list[str]) -> list[str]:
        from nasrl.spaces.presets import architecture_names

        for name in names:
            if name not in architecture_names() and not Path(name).is_file():
                raise ValueError(f"{name!r} is neither an architecture preset {architecture_names()} "
                                 f"nor an existing architecture JSON file")
        return names

    @property
    def transfer(self) -> bool:
        """True when named architectures are retrained and no search runs."""
        return bool(self.architectures)

    @property
    def ranks(self) -> int:
        """Architectures retrained: the named ones, else the search's top_k."""
        return len(self.architectures) or self.top_k

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in a fixed order."""
        keys = [k for k in GRID_KEYS if getattr(self.grid, k) is not None]
        return [dict(zip(keys, combo)) for combo in itertools.product(*(getattr(self.grid, k) for k in keys))]

    def child_config(self, base: ChildConfig, point: dict[str, Any]) -> ChildConfig:
        """The search's child settings with this grid point and the final epochs applied."""
        values = base.to_dict()
        if self.epochs is not None:
            values["epochs"] = self.epochs
        values["language_model"].update(self.language_model.model_dump(exclude_none=True))
        for key, value in point.items():
            if key in ("lr", "weight_decay"):
                values["optimizer"][key] = value
            elif key in LANGUAGE_MODEL_KEYS:
                values["language_model"][key] = value
            else:
                values[key] = value
        return ChildConfig.from_dict(values)
