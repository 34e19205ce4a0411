"""The runs table a search opens on: a saved view of MLflow's UI with the search's columns.

MLflow's runs table starts with no metric or param column. Since MLflow 3.15 the UI keeps
named views as experiment tags (``mlflow.sharedViewState.<id>``) holding the selected
columns and the sort, and opens one from the URL parameter ``viewStateShareKey=<id>``
(mlflow/mlflow#16964). ``nasrl track start`` writes one such view per experiment, so the
link a search prints opens on the children's reward, validation metric, depth, epochs, size,
status and round, best reward first, and a second one on the final runs alone, with their
grid point, validation and test metric, best validation first (the final choice is by
validation, Sec. 4.1). The tag's form is the UI's own: an envelope
``{name, createdAt, updatedAt, state}`` whose ``state`` is the view's JSON as text, with the
runs filter in ``searchFilter``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nasrl.data_kinds import dataset_kind
from nasrl.space_kinds import KINDS

VIEW_ID = "nasrl-search"
VIEW_NAME = "nasrl search"
FINAL_VIEW_ID = "nasrl-final"
FINAL_VIEW_NAME = "nasrl final runs"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
URL_PARAMETER = "viewStateShareKey"
# The best validation metric a child logs, by the data its space kind reads (nasrl.space_kinds):
# accuracy for images, perplexity for text.
BEST_METRIC = {kind.data: f"best_{kind.metric}" for kind in KINDS.values() if kind.trainable}


def column(kind: str, name: str) -> str:
    """A runs-table column as the UI names it: ``metrics.`reward```, ``params.`depth```, ``tags.`x```."""
    return f"{kind}.`{name}`"


def view_columns(dataset: str | dict | None, early_stopping: bool = False) -> list[str]:
    """The columns of the search's view; the validation metric follows the dataset's kind. The
    test metric and the stage show the final runs, which have no reward and sort last. With
    early stopping, a stopped child's epoch and the projected value its reward comes from."""
    best = BEST_METRIC.get(dataset_kind(dataset) or "", "best_val_acc")
    stopping = [column("metrics", "stopped_epoch"), column("metrics", best.replace("best_", "projected_", 1))]
    tested = column("metrics", best.replace("best_val_", "test_", 1))  # a final run's one test evaluation
    return [column("metrics", "reward"), column("metrics", best), tested, column("params", "depth"),
            column("metrics", "epochs"), *(stopping if early_stopping else []), column("metrics", "num_params"),
            column("metrics", "seconds"), column("tags", "nasrl.stage"), column("tags", "nasrl.status"),
            column("tags", "nasrl.round")]


def final_view_columns(dataset: str | dict | None, grid: list[str]) -> list[str]:
    """The final runs' view: validation, test metric, their grid point (``grid.*`` params),
    the run's value by the reward's rule (``final_reward``), depth, size and status."""
    best = BEST_METRIC.get(dataset_kind(dataset) or "", "best_val_acc")
    tested = column("metrics", best.replace("best_val_", "test_", 1))
    return [column("metrics", best), tested, *(column("params", f"grid.{name}") for name in grid),
            column("metrics", "final_reward"), column("params", "depth"), column("metrics", "epochs"),
            column("metrics", "num_params"), column("metrics", "seconds"), column("tags", "nasrl.status")]


def saved_view_tag(view_id: str, name: str, columns: list[str], order_by: str, search_filter: str = "",
                   now_ms: int | None = None) -> tuple[str, str]:
    """The experiment tag (key, value) of a saved view, sorted by ``order_by``, largest first."""
    # columnOrder: in this order; without it the UI groups metrics, params and tags and sorts
    # each group by name.
    state = {"selectedColumns": columns, "columnOrder": columns, "orderByKey": order_by, "orderByAsc": False,
             "searchFilter": search_filter}
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    envelope = {"name": name, "createdAt": now_ms, "updatedAt": now_ms, "state": json.dumps(state)}
    return VIEW_TAG_PREFIX + view_id, json.dumps(envelope)


def search_view_tag(dataset: str | dict | None, now_ms: int | None = None,
                    early_stopping: bool = False) -> tuple[str, str]:
    """The experiment tag (key, value) of the search's saved view: every run, reward first."""
    return saved_view_tag(VIEW_ID, VIEW_NAME, view_columns(dataset, early_stopping), column("metrics", "reward"),
                          now_ms=now_ms)


def final_view_tag(dataset: str | dict | None, grid: list[str], now_ms: int | None = None) -> tuple[str, str]:
    """The experiment tag (key, value) of the final runs' saved view, best validation first."""
    columns = final_view_columns(dataset, grid)
    return saved_view_tag(FINAL_VIEW_ID, FINAL_VIEW_NAME, columns, columns[0],
                          search_filter="tags.`nasrl.stage` = 'final'", now_ms=now_ms)


def view_state(tags: dict[str, Any], view_id: str = VIEW_ID) -> dict[str, Any] | None:
    """A saved view's state among an experiment's tags (None when it has none)."""
    value = tags.get(VIEW_TAG_PREFIX + view_id)
    return None if value is None else json.loads(json.loads(value)["state"])
