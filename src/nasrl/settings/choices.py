"""The closed sets of values a setting may take: datasets, Lightning accelerators and precisions.

They are ``Literal`` types, so a name outside the set fails when the config is read (the
workflow's plan, before any job runs) with one line listing what is allowed, instead of in the
first job that uses it. The datasets come from ``nasrl.data_kinds``, the table the data modules
use too; the settings layer does not import Lightning (heavy, and above it), so its lists are
written out here and ``tests/test_settings.py`` checks that they agree with Lightning's own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from nasrl.data_kinds import DATASET_KINDS

# A dataset name outside nasrl.data_kinds.DATASET_KINDS fails when the config is read.
Dataset = Literal[tuple(DATASET_KINDS)]  # type: ignore[valid-type]

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
