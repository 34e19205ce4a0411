"""CIFAR-10 from the official python-pickle batches (docs/paper.md Sec. 3.1).

Zoph & Le (2017) train each child on 45,000 images and reward it with its accuracy on
5,000 validation images drawn at random from the 50,000 training images; the 10,000
test images are touched once, for the best architecture. ``Cifar10DataModule`` keeps
that split (drawn with ``seed``) and only ``test_dataloader`` sees ``test_batch``.

Nothing is downloaded at run time. Expected layout (the extracted official archive)::

    DATA_DIR/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch

Each batch is a pickle (protocol 2, written by Python 2) of a dict with bytes keys:
``b"data"`` a uint8 array ``[10000, 3072]`` holding the red, green and blue 32x32
planes of each image in row-major order, and ``b"labels"`` a list of ints in 0..9.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from nasrl.data.errors import DataError
from nasrl.data.images import ImageDataModule

ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

# The official batches only need numpy's array reconstruction (plus codecs.encode, which
# Python 3 uses for bytes in protocol-2 pickles). Refusing every other global means a
# tampered file cannot run code when it is unpickled.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def _how_to_get(root: Path) -> str:
    return (f"download cifar-10-python.tar.gz from {ARCHIVE_URL} and extract it so that "
            f"{root / BATCH_DIR / TRAIN_BATCHES[0]} exists")


def read_cifar_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one official CIFAR-10 batch file.

    Args:
        path: a ``data_batch_*`` or ``test_batch`` file.

    Returns:
        ``(images, labels)``: uint8 ``[N, 3, 32, 32]`` and int64 ``[N]``.

    Raises:
        DataError: the file is missing, is not a CIFAR-10 pickle, or has bad contents.
    """
    if not path.is_file():
        raise DataError(f"CIFAR-10 batch file {path} is missing")
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means the same thing: a bad file
        raise DataError(f"{path} is not a readable CIFAR-10 python batch ({exc}); "
                        f"re-extract cifar-10-python.tar.gz from {ARCHIVE_URL}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{path} does not hold a dict with b'data' and b'labels'; "
                        f"is it an official CIFAR-10 python batch?")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        raise DataError(f"{path}: b'data' should be a uint8 array [N, 3072], "
                        f"got {type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}")
    if labels.shape != (data.shape[0],) or labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: b'labels' should be {data.shape[0]} ints in 0..9")
    # 3072 = 3 planes x 32 rows x 32 columns, so a plain reshape gives channels-first.
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(labels.astype(np.int64))


def find_batch_dir(data_dir: str | Path) -> Path:
    """Locate ``cifar-10-batches-py`` under ``data_dir`` (or ``data_dir`` itself if it is that folder).

    Raises:
        DataError: neither place holds ``data_batch_1``, with instructions to get the data.
    """
    root = Path(data_dir).expanduser()
    for candidate in (root / BATCH_DIR, root):
        if (candidate / TRAIN_BATCHES[0]).is_file():
            return candidate
    raise DataError(f"CIFAR-10 not found under {root}: expected {root / BATCH_DIR}/ with "
                    f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH}; {_how_to_get(root)}")


class Cifar10DataModule(ImageDataModule):
    """CIFAR-10 with a seeded 45,000/5,000 train/validation split and the official test set.

    Args:
        data_dir: folder holding ``cifar-10-batches-py/`` (or that folder itself).
        batch_size: images per batch (64 as in DenseNet, whose setup the paper follows).
        val_size: validation images drawn from the 50,000 training images.
        seed: draws the validation subset; also seeds shuffling and augmentation.
        augment: pad-4 random crop and horizontal flip for training batches.
        num_workers: DataLoader workers.
    """

    num_classes = 10
    in_channels = 3
    image_size = 32

    def __init__(self, data_dir: str | Path, batch_size: int = 64, val_size: int = 5000, seed: int = 0,
                 augment: bool = True, num_workers: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed, augment=augment, pad=4, num_workers=num_workers)
        self.save_hyperparameters()
        self.data_dir = Path(data_dir)
        self.val_size = val_size

    def prepare_data(self) -> None:
        """Fail fast, before any training starts, if the batches are not there."""
        find_batch_dir(self.data_dir)

    def load_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        batch_dir = find_batch_dir(self.data_dir)
        parts = [read_cifar_batch(batch_dir / name) for name in TRAIN_BATCHES]
        images = torch.cat([p[0] for p in parts])
        labels = torch.cat([p[1] for p in parts])
        n = images.shape[0]
        if not 0 < self.val_size < n:
            raise DataError(f"val_size={self.val_size} must be between 1 and {n - 1}: "
                            f"{batch_dir} holds {n} training images")
        # The paper draws the 5,000 validation images at random; a seeded permutation
        # makes the draw reproducible. Sorting keeps the file order inside each split.
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = perm[:self.val_size].sort().values, perm[self.val_size:].sort().values
        test_images, test_labels = read_cifar_batch(batch_dir / TEST_BATCH)
        return {
            "train": (images[train_idx], labels[train_idx]),
            "val": (images[val_idx], labels[val_idx]),
            "test": (test_images, test_labels),
        }
