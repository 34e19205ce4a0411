"""Datasets for child training as LightningDataModules, looked up by name.

CIFAR-10 (docs/paper.md Sec. 3.1) and Penn Treebank (Sec. 7) are the paper's datasets and
must be on disk; ``digits`` and ``pydoc_topics`` ship with the installed packages and
stand in for them offline (smoke runs, tests, CPU-only machines).

    >>> dm = make_datamodule("digits", batch_size=32)
    >>> DATASET_KINDS["digits"]
    'image'
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl

from nasrl.data.builtin_text import BuiltinTextDataModule
from nasrl.data.cifar10 import ARCHIVE_URL, Cifar10DataModule
from nasrl.data.digits import DigitsDataModule
from nasrl.data.errors import DataError
from nasrl.data.images import ImageDataModule, augment_batch, crop_and_flip
from nasrl.data.ptb import PTB_URL, PtbDataModule
from nasrl.data.text import BpttWindows, TextDataModule, batchify
from nasrl.data.vocab import EOS, UNK, Vocabulary
from nasrl.data_kinds import DATASET_KINDS

# The datasets that must be on disk, and where a user finds them.
_NEEDS_DATA_DIR = {
    "cifar10": f"the folder holding cifar-10-batches-py/ (from cifar-10-python.tar.gz, {ARCHIVE_URL})",
    "ptb": f"the folder holding ptb.train.txt, ptb.valid.txt, ptb.test.txt (simple-examples/data of {PTB_URL})",
    "ptb_char": f"the folder holding ptb.char.{{train,valid,test}}.txt (simple-examples/data of {PTB_URL})",
}


def make_datamodule(name: str | dict, data_dir: str | Path | None = None, **kwargs) -> pl.LightningDataModule:
    """Build the data module for a dataset name.

    Args:
        name: one of ``DATASET_KINDS``, or a ``child.dataset`` mapping of one's own data
            (``{"type": "image_folder", "path": ...}``; nasrl.data.own).
        data_dir: where the files are, for "cifar10", "ptb" and "ptb_char"; ignored by the
            built-in datasets, which need no files.
        **kwargs: passed to the data module's constructor (``batch_size``, ``seed``, ``bptt`` ...).

    Returns:
        An ``ImageDataModule`` or ``TextDataModule``, not yet set up.

    Raises:
        DataError: unknown name, or a dataset that lives on disk requested without ``data_dir``.
    """
    if not isinstance(name, str):  # a child.dataset mapping: data of one's own (own.py)
        from nasrl.data.own import make_own_datamodule

        return make_own_datamodule(dict(name), **kwargs)
    if name in _NEEDS_DATA_DIR and data_dir is None:
        raise DataError(f"dataset {name!r} needs data_dir: {_NEEDS_DATA_DIR[name]}")
    if name == "cifar10":
        return Cifar10DataModule(data_dir, **kwargs)
    if name == "digits":
        return DigitsDataModule(**kwargs)
    if name in ("ptb", "ptb_char"):
        return PtbDataModule(data_dir, level="char" if name == "ptb_char" else "word", **kwargs)
    if name in ("pydoc_topics", "pydoc_topics_char"):
        level = "char" if name.endswith("_char") else "word"
        return BuiltinTextDataModule("pydoc_topics", level=level, **kwargs)
    raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASET_KINDS))}")


__all__ = [
    "DATASET_KINDS", "EOS", "UNK", "BpttWindows", "BuiltinTextDataModule", "Cifar10DataModule", "DataError",
    "DigitsDataModule", "ImageDataModule", "PtbDataModule", "TextDataModule", "Vocabulary", "augment_batch",
    "batchify", "crop_and_flip", "make_datamodule",
]
