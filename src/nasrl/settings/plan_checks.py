"""Checks that the workflow makes when it plans, before any job runs, that need files.

The section models check their own values (types, ranges, the names in ``choices.py``, and
with model validators the checks across a section's keys, such as early stopping's
``min_epochs`` below ``epochs``). What needs the space or the data is checked here, so that a
run that no child could finish stops at once with one line instead of failing in its first job:
the space must build (a preset name, a YAML file or a spec), and its children must be trainable
on the dataset (a CNN on image data, a recurrent cell on text), unless they are surrogates
looked up in a table (which must then hold a column named by a cost-aware reward's measure,
``check_cost_column``); data of one's own is read and hashed here (``check_own_data``: its
digest enters the child key).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nasrl.architecture import ArchitectureError
from nasrl.data_kinds import DATASET_KINDS
from nasrl.errors import SettingsError
from nasrl.space_kinds import SPACE_DATA_KINDS

if TYPE_CHECKING:
    from nasrl.settings.child import ChildConfig
    from nasrl.settings.search import SearchSettings


def check_plan(search: SearchSettings, child: ChildConfig) -> None:
    """ValueError in one line, naming the key, when the config cannot make one child."""
    from nasrl.spaces.presets import space_names

    value = search.space
    if isinstance(value, str) and value not in space_names() and not Path(value).is_file():
        raise SettingsError(f"search.space: {value!r} is neither a preset ({', '.join(space_names())}) nor a file")
    try:
        space = search.build_space()
    except ArchitectureError as err:  # one line, even where it quotes a YAML parser's message
        raise SettingsError(f"search.space: {' '.join(str(err).split())}") from None
    if child.surrogate is not None:
        check_cost_column(child)
        return  # no network and no data: the table is read (and checked) by prepare_data
    needs = SPACE_DATA_KINDS.get(space.type)
    if needs is None:
        raise SettingsError(f"search.space: a {space.type} space has no network to train; its children need "
                         f"child.surrogate (a results table), or a space of type {sorted(SPACE_DATA_KINDS)}")
    dataset = child.dataset
    if not isinstance(dataset, str):
        check_own_data(child, space.type, needs)
        return
    if DATASET_KINDS[dataset] != needs:
        matching = sorted(name for name, kind in DATASET_KINDS.items() if kind == needs)
        raise SettingsError(f"child.dataset: {dataset!r} is {DATASET_KINDS[dataset]} data, but a {space.type} space "
                         f"needs {needs} data; expected one of {matching}")


def check_own_data(child: ChildConfig, space_type: str, needs: str):
    """Read and check data of one's own against the space (nasrl.own_data) and record its content
    hash in ``child.dataset.digest``, which the child key includes. Returns what was read."""
    from nasrl.own_data import inspect

    facts = inspect(child.dataset.model_dump(), child.seed)
    if facts.kind != needs:
        raise SettingsError(f"child.dataset: {facts.source} is {facts.kind} data, but a {space_type} space needs "
                         f"{needs} data")
    child.dataset.digest = facts.digest
    return facts



def check_cost_column(child: ChildConfig) -> None:
    """A surrogate's cost-aware reward reads its cost from the table's column named by the
    measure (``params`` or ``flops``): a table without one stops the plan, not the first child."""
    import csv

    from nasrl.tables import table_path

    cost, table = child.reward.cost, child.surrogate.table
    if cost is None or table is None:
        return
    try:
        with open(table_path(table), newline="", encoding="utf-8") as f:
            columns = next(csv.reader(f), [])
    except (OSError, ValueError):
        return  # a missing table is prepare_data's one line (child.surrogate.table)
    if cost.measure not in columns:
        raise SettingsError(f"child.reward.cost.measure: the surrogate table {table} has no {cost.measure!r} column "
                            f"to price its children by; expected one of the columns {columns}")
