"""``child.dataset`` as a dataset of one's own: a mapping tagged by ``type`` (docs/pipeline.md, Datasets).

    {type: image_folder, path: DIR}          one subfolder per class of PNG/JPEG files
    {type: arrays, path: FILE.npz}           x and y arrays, or x_train, y_train, x_val ...
    {type: text, path: DIR, level: word}     train.txt, valid.txt, test.txt, as Penn Treebank
    {type: module, target: "pkg.mod:Class", args: {...}}   any LightningDataModule

``DatasetValue`` is a pydantic discriminated union: a dataset's name, or the model that the
mapping's ``type`` names, so a bad key is reported within that type.

Relative paths are read from the working directory of the run (where ``snakemake`` runs).
The files are read, checked and hashed when the run is planned (nasrl.own_data, called from
``plan_checks.py``), which writes the hash into ``digest``: the child key includes it, so changed
data trains new children and the same data reuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import Discriminator, Field, Tag

from nasrl.settings.base import Count, Section
from nasrl.settings.choices import Dataset

SplitFraction = Annotated[float, Field(gt=0, lt=0.5)]
# "written by the plan": the content hash of the data (nasrl.own_data.digest), never set by hand.
Digest = str | None


class ImageFolderData(Section):
    """PNG/JPEG files, one subfolder per class; ``train/``, ``val/``, ``test/`` when present."""

    SECTION = "child.dataset"

    type: Literal["image_folder"]
    path: str
    val_fraction: SplitFraction = 0.1  # of each class, when there is no val/ folder
    test_fraction: SplitFraction = 0.1  # of each class, when there is no test/ folder
    digest: Digest = None


class ArraysData(Section):
    """A NumPy .npz file: ``x`` and ``y``, or ``x_train``, ``y_train`` (+ ``_val``, ``_test``)."""

    SECTION = "child.dataset"

    type: Literal["arrays"]
    path: str
    # auto: N,C,H,W when axis 1 has 1, 3 or 4 entries and the last axis does not, N,H,W,C when the
    # reverse holds; anything else must be named. A 3-axis x is N,H,W (one channel).
    layout: Literal["auto", "nchw", "nhwc"] = "auto"
    num_classes: Count | None = None  # None: the largest label + 1
    val_fraction: SplitFraction = 0.1
    test_fraction: SplitFraction = 0.1
    digest: Digest = None


class TextData(Section):
    """A folder with train.txt, valid.txt, test.txt in Penn Treebank's format."""

    SECTION = "child.dataset"

    type: Literal["text"]
    path: str
    level: Literal["word", "char"] = "word"  # char: bits per character are reported, as for ptb_char
    digest: Digest = None


class ModuleData(Section):
    """A LightningDataModule named ``package.module:Class``, built with ``args``."""

    SECTION = "child.dataset"

    type: Literal["module"]
    target: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    args: dict[str, Any] = Field(default_factory=dict)
    digest: Digest = None


OWN_DATASETS = {model.model_fields["type"].annotation.__args__[0]: model
                for model in (ImageFolderData, ArraysData, TextData, ModuleData)}
DATASET_NAMES = get_args(Dataset)


def _dataset_branch(value: Any) -> str | None:
    """Which branch checks ``child.dataset``: "name", or a mapping's type (None: no branch fits).

    Picking one branch keeps a bad key of data of one's own reported within its type, where a
    plain union would report every branch's complaints."""
    if isinstance(value, str):
        return "name" if value in DATASET_NAMES else None
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in OWN_DATASETS else None


# child.dataset: a dataset's name, or a mapping checked as the model its type names.
DatasetValue = Annotated[
    Union[(Annotated[Dataset, Tag("name")], *(Annotated[model, Tag(kind)] for kind, model in OWN_DATASETS.items()))],
    Discriminator(_dataset_branch, custom_error_type="dataset",
                  custom_error_message=f"expected one of {list(DATASET_NAMES)} or a mapping with type "
                                       f"{' | '.join(sorted(OWN_DATASETS))}"),
]
