"""A seeded, stratified cut of validation and test examples from a training set.

Each class gives ``round(n * fraction)`` of its n examples to each cut split, so the split
sizes do not depend on the seed (the plan can report them without drawing) and every split
keeps the classes' shares. The seed (``child.seed``) only decides which examples go where.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasrl.own_data.errors import DataError


def split_indices(labels: np.ndarray, fractions: dict[str, float], seed: int,
                  where: str | Path) -> dict[str, np.ndarray]:
    """``{"train": idx, **{name: idx}}``, sorted index arrays into ``labels`` for each cut split."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], **{name: [] for name in fractions}}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for name, fraction in fractions.items():
            count = int(round(len(members) * fraction))
            parts[name].append(members[start:start + count])
            start += count
        parts["train"].append(members[start:])
    result = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    for name, index in result.items():
        if len(index) == 0:
            raise DataError(f"{where}: the {name} split is empty ({len(labels)} examples in all); expected more "
                            f"examples per class" + (f" or a larger {name}_fraction" if name in fractions else ""))
    return result
