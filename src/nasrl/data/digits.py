"""scikit-learn's 8x8 handwritten digits as a tiny offline stand-in for CIFAR-10.

A CNN search on CIFAR-10 (docs/paper.md Sec. 3.1) needs the real archive and hours of GPU
time per child. The 1,797 digit images ship inside scikit-learn
(``sklearn.datasets.load_digits`` reads a file in the package, no download), so tests,
smoke runs and CPU-only demos can exercise the same search-and-train loop in seconds.
Preprocessing mirrors Sec. 3.1: per-channel whitening with training statistics; the
crop/flip augmentation is off by default because a 4-pixel shift or a mirror changes
what an 8x8 digit is (a mirrored 2 is not a 2).
"""

from __future__ import annotations

import numpy as np
import torch

from nasrl.data.images import ImageDataModule


class DigitsDataModule(ImageDataModule):
    """8x8 greyscale digits, 10 classes, seeded stratified train/validation/test split.

    Args:
        batch_size: images per batch.
        seed: draws the split; also seeds shuffling and augmentation.
        val_fraction: share of all 1,797 images used for validation (the reward).
        test_fraction: share of all images held out for the final test.
        augment: random crop/flip for training batches (off by default, see module docstring).
        pad: crop padding when ``augment`` is on; 1 pixel suits 8x8 images.
        num_workers: DataLoader workers.
    """

    num_classes = 10
    in_channels = 1
    image_size = 8

    def __init__(self, batch_size: int = 64, seed: int = 0, val_fraction: float = 0.15,
                 test_fraction: float = 0.15, augment: bool = False, pad: int = 1,
                 num_workers: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed, augment=augment, pad=pad, num_workers=num_workers)
        self.save_hyperparameters()
        if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
            raise ValueError(f"need 0 < val_fraction, test_fraction and val_fraction + test_fraction < 1, "
                             f"got {val_fraction} and {test_fraction}")
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def load_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        # imported here: only digits children pay for scikit-learn's import
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        images, labels = load_digits(return_X_y=True)  # [1797, 64] pixel values 0..16, [1797]
        index = np.arange(len(labels))
        # Stratify both cuts so every split keeps the ~10% share of each digit.
        rest, test = train_test_split(index, test_size=self.test_fraction, stratify=labels,
                                      random_state=self.seed)
        val_share = self.val_fraction / (1 - self.test_fraction)
        train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest],
                                      random_state=self.seed)
        x = torch.from_numpy(images.astype(np.float32)).view(-1, 1, 8, 8)
        y = torch.from_numpy(labels.astype(np.int64))
        return {name: (x[np.sort(idx)], y[np.sort(idx)])
                for name, idx in (("train", train), ("val", val), ("test", test))}
