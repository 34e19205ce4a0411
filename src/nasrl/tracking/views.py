"""The runs table a search opens on: a saved view of MLflow's UI with the search's columns.

MLflow's runs table starts with no metric or param column. Since MLflow 3.15 the UI keeps
named views as experiment tags (``mlflow.sharedViewState.<id>``) holding the selected
columns and the sort, and opens one from the URL parameter ``viewStateShareKey=<id>``
(mlflow/mlflow#16964). ``nasrl track start`` writes one such view per experiment, so the
link a search prints opens on the children's reward, validation metric, depth, epochs, size,
status and round, best reward first. The tag's form is the UI's own: an envelope
``{name, createdAt, updatedAt, state}`` whose ``state`` is the view's JSON as text.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nasrl.data_kinds import dataset_kind
from nasrl.space_kinds import KINDS

VIEW_ID = "nasrl-search"
VIEW_NAME = "nasrl search"
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


def search_view_tag(dataset: str | dict | None, now_ms: int | None = None,
                    early_stopping: bool = False) -> tuple[str, str]:
    """The experiment tag (key, value) of the search's saved view."""
    columns = view_columns(dataset, early_stopping)
    # columnOrder: in this order, reward first; without it the UI groups metrics, params and
    # tags and sorts each group by name.
    state = {"selectedColumns": columns, "columnOrder": columns, "orderByKey": column("metrics", "reward"),
             "orderByAsc": False}
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    envelope = {"name": VIEW_NAME, "createdAt": now_ms, "updatedAt": now_ms, "state": json.dumps(state)}
    return VIEW_TAG_PREFIX + VIEW_ID, json.dumps(envelope)


def view_state(tags: dict[str, Any]) -> dict[str, Any] | None:
    """The saved view's state among an experiment's tags (None when it has none)."""
    value = tags.get(VIEW_TAG_PREFIX + VIEW_ID)
    return None if value is None else json.loads(json.loads(value)["state"])
