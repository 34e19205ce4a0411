"""Data modules for data of one's own (``child.dataset`` as a mapping; nasrl.own_data reads it).

Image folders and .npz arrays go through the in-memory tensor path of images.py: normalised
with the training split's statistics, augmented (pad-and-crop, flip) when ``child.augment`` is
on, which it is by default as for CIFAR-10, with a crop padding of an eighth of the side (4
pixels for 32). A text folder is read as Penn Treebank is (ptb.py). A module is built from its
import path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nasrl.data.images import ImageDataModule
from nasrl.data.ptb import PtbDataModule, read_lines
from nasrl.data.vocab import Vocabulary, split_symbols
from nasrl.own_data import arrays, images, modules
from nasrl.own_data.errors import DataError
from nasrl.own_data.text import TEXT_FILES, text_paths

IMAGE_READERS = {"image_folder": images, "arrays": arrays}


class OwnImageDataModule(ImageDataModule):
    """An image folder or an .npz file (``spec``: the child.dataset mapping) as in-memory tensors.

    The class count, channels and side are known once the files are read: ``setup`` reads them.
    """

    def __init__(self, spec: dict[str, Any], batch_size: int = 64, seed: int = 0, augment: bool = True,
                 pad: int | None = None, num_workers: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed, augment=augment, pad=pad or 1, num_workers=num_workers)
        self.spec = spec
        self.pad_given = pad

    def load_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        found = IMAGE_READERS[self.spec["type"]].scan(self.spec, self.seed, load=True)
        classes = found["classes"]
        self.num_classes = len(classes) if isinstance(classes, list) else classes
        self.in_channels, self.image_size, _ = found["shape"]
        self.pad = self.pad_given or max(1, self.image_size // 8)
        return {name: (torch.from_numpy(x.astype("float32", copy=False)), torch.from_numpy(y.astype("int64")))
                for name, (x, y) in found["splits"].items()}


class TextFolderDataModule(PtbDataModule):
    """A folder with train.txt, valid.txt, test.txt, read as Penn Treebank's files are."""

    def prepare_data(self) -> None:
        text_paths(Path(self.data_dir))

    def load_streams(self) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
        from collections import Counter

        paths = text_paths(Path(self.data_dir))
        tokens = {split: [tok for line in read_lines(path) for tok in split_symbols(line)]
                  for split, path in paths.items()}
        if not tokens["train"]:
            raise DataError(f"{paths['train']} is empty")
        vocab = Vocabulary.from_counts(Counter(tokens["train"]))
        return vocab, {split: vocab.encode(toks, source=str(paths[split])) for split, toks in tokens.items()}


def make_own_datamodule(spec: dict[str, Any], **kwargs):
    """The data module for a child.dataset mapping; ``kwargs`` as make_datamodule's (a module's
    own constructor takes only its ``args``)."""
    kind = spec["type"]
    if kind in IMAGE_READERS:
        keep = {k: v for k, v in kwargs.items() if k in ("batch_size", "seed", "augment", "pad", "num_workers")}
        return OwnImageDataModule(spec, **keep)
    if kind == "text":
        keep = {k: v for k, v in kwargs.items() if k in ("batch_size", "bptt", "eval_batch_size")}
        return TextFolderDataModule(spec["path"], level=spec["level"], **keep)
    if kind == "module":
        return modules.build(spec)
    raise DataError(f"child.dataset.type: {kind!r}; expected one of image_folder, arrays, text, module")


__all__ = ["OwnImageDataModule", "TEXT_FILES", "TextFolderDataModule", "make_own_datamodule"]
