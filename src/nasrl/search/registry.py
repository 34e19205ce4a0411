"""Strategies by name, and their state files (one file holds a whole search's state)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from nasrl.errors import StateError
from nasrl.io import atomic_path
from nasrl.search.base import STATE_FORMAT, SearchStrategy
from nasrl.search.evolution import EvolutionSearch
from nasrl.search.random import RandomSearch
from nasrl.search.reinforce import ReinforceSearch
from nasrl.spaces import SearchSpace, build_space

STRATEGIES: dict[str, type[SearchStrategy]] = {"reinforce": ReinforceSearch, "random": RandomSearch,
                                               "evolution": EvolutionSearch}


def make_strategy(name: str, space: SearchSpace, seed: int = 0, config: dict[str, Any] | None = None) -> SearchStrategy:
    """Build a strategy by name: ``reinforce`` (the paper's controller), ``random`` or ``evolution``."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy: {name!r} is not one of {sorted(STRATEGIES)}")
    return STRATEGIES[name](space, seed=seed, config=config)


def save_strategy(strategy: SearchStrategy, path: str | Path) -> None:
    """Write the whole state to ``path`` atomically (a killed write leaves the old file). Saved
    through a buffer, so the archive holds no temporary file name: one state, one byte string
    (a replayed search's controllers equal the original's byte for byte)."""
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_strategy(path: str | Path, space: SearchSpace | None = None) -> SearchStrategy:
    """Rebuild a strategy from a state file; if ``space`` is given it must match the file's."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise StateError(f"controller state file not found: {path}") from None
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise StateError(f"controller state file {path} is unreadable: {err}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise StateError(f"controller state file {path}: not a nasrl state (format {STATE_FORMAT})")
    saved_space = build_space(state["space"])
    if space is not None and space.key != saved_space.key:
        raise StateError(f"controller state file {path} was made for another search space")
    strategy = make_strategy(state["strategy"], space or saved_space, seed=state["seed"], config=state["config"])
    strategy.load_state_dict(state)
    return strategy
