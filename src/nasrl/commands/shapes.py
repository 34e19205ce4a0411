"""The sizes a network is built with, for ``nasrl describe``'s parameter count.

A child's network depends on its data (input channels and classes of an image dataset, the
vocabulary of a text one) and on the ``child.language_model`` sizes. A search's folder has
both already (``data.json``, ``settings/child.yaml``); a config names the dataset, which is
loaded once to read them (a text dataset's vocabulary needs its files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasrl.architecture import read_json
from nasrl.layout import ResultsLayout
from nasrl.settings import ChildConfig, load_child_config


def dataset_shape(child: ChildConfig) -> dict[str, Any]:
    """in_channels and num_classes, or vocab_size, of the config's dataset (loads a text dataset)."""
    from nasrl.data import DATASET_KINDS, make_datamodule

    if child.dataset not in DATASET_KINDS:
        raise ValueError(f"child.dataset: {child.dataset!r} is not one of {sorted(DATASET_KINDS)}")
    if DATASET_KINDS[child.dataset] == "image":
        # Only the class's channel and class counts are read: no file, so no data_dir is needed.
        module = make_datamodule(child.dataset, child.data_dir or ".")
        return {"in_channels": module.in_channels, "num_classes": module.num_classes}
    module = make_datamodule(child.dataset, child.data_dir, bptt=child.language_model.bptt)
    module.prepare_data()
    module.setup("fit")
    return {"vocab_size": module.vocab_size}


def network_sizes(child: ChildConfig, data: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``nasrl.models.describe.describe`` for this child config and data."""
    if "vocab_size" in data:
        lm = child.language_model
        return {"input_size": lm.embedding_size, "hidden_size": lm.hidden_size,
                "language_model": {"vocab_size": data["vocab_size"], "embedding_size": lm.embedding_size,
                                   "hidden_size": lm.hidden_size, "tie_weights": lm.tie_weights}}
    return {"in_channels": data["in_channels"], "num_classes": data["num_classes"]}


def sizes_from_config(path: str | Path) -> dict[str, Any]:
    child = load_child_config(path)
    return network_sizes(child, dataset_shape(child))


def sizes_from_search(layout: ResultsLayout) -> dict[str, Any] | None:
    """The sizes the search's children were built with; None when the search does not say
    (a surrogate search, whose children are looked up, not built)."""
    if not (layout.data_summary.exists() and layout.settings("child").exists()):
        return None
    data = read_json(layout.data_summary, "data summary")
    if not ({"in_channels", "num_classes"} <= set(data) or "vocab_size" in data):
        return None
    return network_sizes(load_child_config(layout.settings("child")), data)
