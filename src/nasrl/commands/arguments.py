"""One way for every verb to take an architecture: a file, a best.json, a search's folder, a preset.

``nasrl describe``, ``draw``, ``validate``, ``key`` and ``train-child --arch`` accept

- an architecture JSON file (``{"space": "cnn", ...}``);
- a ``final/best.json`` (the architecture the search chose; its ``arch`` field);
- a search's results folder (``results/EXP``, or its ``final/``): that search's best.json;
- a shipped architecture's name (``cnn_figure7``, ``rnn_nas_cell``, ``rnn_figure5``).

A path that exists wins over a preset of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasrl.architecture import read_json
from nasrl.errors import ResultsError
from nasrl.layout import ResultsLayout
from nasrl.spaces import SearchSpace
from nasrl.spaces.presets import ARCHITECTURE_SPACES, architecture_names, preset_architecture, resolve_space

EXPECTED = "an architecture JSON file, a best.json, a search's results folder or a preset name"


@dataclass(frozen=True)
class ArchitectureSource:
    arch: Any
    origin: str  # "file" | "best" | "preset"
    name: str  # what the user typed
    results: ResultsLayout | None = None  # the search it came from, when known
    preset_space: str | None = None  # the preset space a shipped architecture belongs to

    def space(self) -> SearchSpace | None:
        """The space the architecture was searched in, when its origin says so (else None)."""
        if self.preset_space is not None:
            return resolve_space(self.preset_space)
        if self.results is not None and self.results.settings("search").exists():
            from nasrl.settings import read_yaml

            return resolve_space(read_yaml(self.results.settings("search"))["space"])
        return None


def is_best_file(value: Any) -> bool:
    """A final/best.json (written by ``nasrl report``), not an architecture."""
    return isinstance(value, dict) and "space" not in value and "status" in value


def arch_of_best(best: dict[str, Any], path: Path) -> Any:
    if best.get("status") != "ok" or "arch" not in best:
        raise ResultsError(f"{path}: holds no architecture (status {best.get('status')!r}): "
                           "no final run of that search succeeded")
    return best["arch"]


def search_of(best_path: Path) -> ResultsLayout | None:
    """The results folder a final/best.json sits in, if it sits in one."""
    if best_path.parent.name == "final":
        return ResultsLayout(best_path.parent.parent)
    return None


def resolve_architecture(value: str | Path) -> ArchitectureSource:
    """The architecture named by ``value`` (see the module docstring); ResultsError if none."""
    path = Path(value)
    if path.is_dir():
        layout = ResultsLayout(path.parent) if path.name == "final" else ResultsLayout(path)
        if not layout.best.exists():
            why = "the search has not finished" if layout.history.exists() or layout.rounds_dir.exists() else \
                "it is not a search's results folder"
            raise ResultsError(f"{value}: no {layout.best} ({why}); expected {EXPECTED}")
        return ArchitectureSource(arch_of_best(read_json(layout.best, "best"), layout.best), "best", str(value), layout)
    if path.exists():
        data = read_json(path)
        if is_best_file(data):
            return ArchitectureSource(arch_of_best(data, path), "best", str(value), search_of(path))
        return ArchitectureSource(data, "file", str(value))
    if str(value) in ARCHITECTURE_SPACES:
        arch, _ = preset_architecture(str(value))
        return ArchitectureSource(arch, "preset", str(value), preset_space=ARCHITECTURE_SPACES[str(value)])
    raise ResultsError(f"architecture {str(value)!r}: no such file or folder, and not a preset "
                       f"({', '.join(architecture_names())}); expected {EXPECTED}")
