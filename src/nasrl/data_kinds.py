"""Which data each dataset holds: one table for every layer.

The settings check a config against it at plan time, the data modules are looked up by its
names and the training code matches a space kind's data (``nasrl.space_kinds``) with it. It imports nothing, so the
settings layer can use it without importing ``nasrl.data`` (torch, Lightning) above it.
"""

from __future__ import annotations

# The datasets nasrl.data loads (make_datamodule), and the kind of data each holds.
DATASET_KINDS = {
    "cifar10": "image",
    "digits": "image",
    "ptb": "text",
    "ptb_char": "text",
    "pydoc_topics": "text",
    "pydoc_topics_char": "text",
}


# The kinds of data of one's own, by the ``type`` of a ``child.dataset`` mapping
# (nasrl.own_data); a module's kind is read from its attributes when the run is planned.
OWN_DATA_KINDS = {"image_folder": "image", "arrays": "image", "text": "text", "module": None}


def dataset_spec(dataset) -> dict | None:
    """A ``child.dataset`` value as a mapping when it is a dataset of one's own (a settings model
    or its dump), None for a named dataset."""
    if isinstance(dataset, str) or dataset is None:
        return None
    return dataset if isinstance(dataset, dict) else dataset.model_dump()


def dataset_kind(dataset) -> str | None:
    """"image" or "text" for a dataset name or a dataset of one's own; None where only the data
    tells (a module, an unknown name)."""
    spec = dataset_spec(dataset)
    if spec is None:
        return DATASET_KINDS.get(dataset or "")
    return OWN_DATA_KINDS.get(spec.get("type"))


def dataset_label(dataset) -> str:
    """A short name for results and logs: the name, or ``type:path`` (``module:target``)."""
    spec = dataset_spec(dataset)
    if spec is None:
        return str(dataset)
    return f"{spec.get('type')}:{spec.get('path') or spec.get('target')}"
