"""Which data each dataset holds and each trainable space reads: one table for every layer.

The settings check a config against it at plan time, the data modules are looked up by its
names and the training code matches a space to its data with it. It imports nothing, so the
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

# The data each trainable space's children read; the tabular space has no network: its
# children are surrogates, looked up in a table.
SPACE_DATA_KINDS = {"cnn": "image", "rnn_cell": "text"}
