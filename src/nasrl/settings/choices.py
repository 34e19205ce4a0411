"""The closed sets of values a setting may take: datasets, Lightning accelerators and precisions.

They are ``Literal`` types, so a name outside the set fails when the config is read (the
workflow's plan, before any job runs) with one line listing what is allowed, instead of in the
first job that uses it. The settings layer imports neither ``nasrl.data`` nor Lightning (they
are heavy, and above it), so the sets are written out here; ``tests/test_settings.py`` checks
that they agree with ``nasrl.data.DATASET_KINDS``, the training code's space kinds and
Lightning's own lists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

# The datasets nasrl.data loads, and the kind of data each holds (nasrl.data.DATASET_KINDS).
DATASET_KINDS = {
    "cifar10": "image",
    "digits": "image",
    "ptb": "text",
    "ptb_char": "text",
    "pydoc_topics": "text",
    "pydoc_topics_char": "text",
}
Dataset = Literal["cifar10", "digits", "ptb", "ptb_char", "pydoc_topics", "pydoc_topics_char"]

# The data each trainable space's children read (nasrl.training.child.SPACE_KINDS); the tabular
# space has no network: its children are surrogates, looked up in a table.
SPACE_DATA_KINDS = {"cnn": "image", "rnn_cell": "text"}

# pytorch_lightning.Trainer(accelerator=...): the registry's names plus "auto" and "gpu".
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu"]


def _number_as_text(value: Any) -> Any:
    """Lightning also takes 16, 32 or 64 as numbers (a YAML file gives ints): the same as "16" ..."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# pytorch_lightning.Trainer(precision=...): every name Lightning 2.6 accepts.
Precision = Annotated[
    Literal["16-mixed", "bf16-mixed", "16-true", "bf16-true", "32-true", "64-true", "16", "32", "64", "bf16",
            "transformer-engine", "transformer-engine-float16"],
    BeforeValidator(_number_as_text),
]
