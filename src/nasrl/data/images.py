"""In-memory image classification data with batched, on-device augmentation.

Child CNNs in the search are trained as in Zoph & Le (2017), Sec. 3.1 of docs/paper.md:
images are "whitened" (read here as per-channel mean/std normalisation, with the
statistics taken from the training split only so no validation or test information
leaks into training), then augmented by a random crop after padding ("upsample then
crop"; pad 4 -> 40x40 -> random 32x32 is the standard equivalent) and a random
horizontal flip.

Augmentation runs on whole batches, after the batch has been moved to the device
(``on_after_batch_transfer``), instead of per sample with PIL in DataLoader workers:
the datasets are small enough to live in memory as tensors, and one gather per batch
on the accelerator is far cheaper than thousands of Python-level per-image transforms
for each of the many short child trainings in a search. On a CUDA GPU the splits themselves
move to the GPU once, when the Trainer sets the data module up, and every batch is an index
slice taken there: nothing is copied from the host per step.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset


SPLITS = ("train", "val", "test")


def crop_and_flip(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor,
                  pad: int = 4) -> torch.Tensor:
    """Zero-pad a batch, then cut one crop per sample at the given offsets, optionally mirrored.

    Args:
        x: images ``[B, C, H, W]``.
        top: row offsets into the padded images, ints in ``[0, 2 * pad]``, shape ``[B]``.
        left: column offsets, same range and shape.
        flip: bool ``[B]``; where true the crop is mirrored left-right.
        pad: zero padding added on every side before cropping.

    Returns:
        A tensor shaped like ``x``: ``out[b] = padded[b, :, top:top+H, left:left+W]``,
        flipped along the width where ``flip[b]``.
    """
    B, C, H, W = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # [B, C, H+2p, W+2p]
    device = x.device
    top, left, flip = top.to(device), left.to(device), flip.to(device)
    rows = top[:, None] + torch.arange(H, device=device)  # [B, H]
    col_idx = torch.arange(W, device=device)
    # A mirrored crop reads its columns right to left, so the flip costs no extra pass.
    cols = left[:, None] + torch.where(flip[:, None], W - 1 - col_idx, col_idx)  # [B, W]
    b = torch.arange(B, device=device)[:, None, None, None]
    c = torch.arange(C, device=device)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]  # [B, C, H, W]


def augment_batch(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """Random pad-and-crop plus random horizontal flip, independently per sample (Sec. 3.1).

    Args:
        x: images ``[B, C, H, W]`` (already normalised, so zero padding is the mean colour).
        generator: source of randomness; its device decides where the draws are made.
        pad: padding on each side; crop offsets are uniform in ``[0, 2 * pad]``.

    Returns:
        The augmented batch, same shape, dtype and device as ``x``.
    """
    B = x.shape[0]
    device = generator.device if generator is not None else torch.device("cpu")
    top = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=device)
    left = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=device)
    flip = torch.rand(B, generator=generator, device=device) < 0.5
    return crop_and_flip(x, top, left, flip, pad=pad)


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of ``[N, C, H, W]`` images.

    Args:
        images: uint8 or float images.
        chunk: images per step, so uint8 data is never converted to float all at once.

    Returns:
        ``(mean, std)``, float32 tensors of shape ``[C]``, in the units of ``images``.
    """
    C = images.shape[1]
    total = torch.zeros(C, dtype=torch.float64)
    total_sq = torch.zeros(C, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        part = images[start:start + chunk].to(torch.float64)
        total += part.sum(dim=(0, 2, 3))
        total_sq += (part * part).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    # A constant channel would divide by zero; leave such a channel unscaled.
    std = torch.where(std > 0, std, torch.ones_like(std))
    return mean.float(), std.float()


class ImageDataModule(pl.LightningDataModule):
    """Base class: subclasses implement ``load_splits`` and set the class attributes.

    The dataloaders yield ``(x, y)`` with ``x`` float32 ``[B, C, H, W]`` normalised
    with training-split statistics and ``y`` int64 ``[B]``. Augmentation is added in
    ``on_after_batch_transfer`` during training only, or by calling ``augment_batch``.

    Args:
        batch_size: images per batch for every split.
        seed: seeds the split (in subclasses), the training shuffle and the augmentation.
        augment: whether training batches are cropped and flipped.
        pad: crop padding for the augmentation.
        num_workers: DataLoader workers; 0 because the data is already in memory.
    """

    num_classes: int = 0
    in_channels: int = 0
    image_size: int = 0

    def __init__(self, batch_size: int = 64, seed: int = 0, augment: bool = True, pad: int = 4,
                 num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.augment = augment
        self.pad = pad
        self.num_workers = num_workers
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        self.datasets: dict[str, TensorDataset] = {}
        # Separate streams so changing the batch size or epoch count of one never
        # shifts the random draws of the other.
        self._shuffle_generator = torch.Generator().manual_seed(seed)
        self._augment_generator = torch.Generator().manual_seed(seed + 1)
        self.resident: torch.device | None = None  # the device the splits were moved to (to_device)

    def load_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Return ``{"train"|"val"|"test": (images [N, C, H, W], labels [N])}``, unnormalised."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Load all splits once and normalise them with the training statistics; when a Trainer
        on a CUDA device sets the module up, the splits move to that device (once)."""
        self._load()
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.strategy.root_device.type == "cuda":
            self.to_device(trainer.strategy.root_device)

    def _load(self) -> None:
        if self.datasets:
            return
        splits = self.load_splits()
        self.mean, self.std = channel_stats(splits["train"][0])
        for name in SPLITS:
            images, labels = splits[name]
            self.datasets[name] = TensorDataset(self.normalize(images), labels.long())

    def to_device(self, device: torch.device | str) -> None:
        """Keep every split on ``device``: the loaders then yield index slices of these tensors,
        taken on the device, in the same order as the host loaders. On a CUDA device the
        augmentation draws its offsets there too (its own seeded stream, so a GPU run is
        reproducible but crops differently from a CPU run)."""
        device = torch.device(device)
        if self.resident == device:
            return
        self._load()
        self.datasets = {name: TensorDataset(*(t.to(device) for t in data.tensors))
                         for name, data in self.datasets.items()}
        if device.type == "cuda":
            self._augment_generator = torch.Generator(device).manual_seed(self.seed + 1)
        self.resident = device

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Whiten ``[N, C, H, W]`` images with the training split's per-channel mean/std."""
        if self.mean is None or self.std is None:
            raise RuntimeError("call setup() before normalize()")
        mean = self.mean.to(images.device).view(1, -1, 1, 1)
        std = self.std.to(images.device).view(1, -1, 1, 1)
        return (images.float() - mean) / std

    def split_size(self, split: str) -> int:
        """Number of examples in ``split`` ("train", "val" or "test")."""
        self.setup()
        return len(self.datasets[split])

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Crop and flip training batches on their device; other batches pass through."""
        trainer = getattr(self, "trainer", None)
        if self.augment and trainer is not None and trainer.training:
            x, y = batch
            batch = (augment_batch(x, self._augment_generator, pad=self.pad), y)
        return batch

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        # Whole batches are fetched with one tensor index (TensorDataset accepts an index
        # list) instead of B single-image reads stacked by the default collate.
        self.setup()
        dataset = self.datasets[split]
        order = RandomSampler(dataset, generator=self._shuffle_generator) if shuffle else SequentialSampler(dataset)
        batches = BatchSampler(order, self.batch_size, drop_last=False)
        if self.resident is not None:
            return DataLoader(dataset, sampler=DeviceBatches(batches, self.resident), batch_size=None, num_workers=0)
        return DataLoader(dataset, sampler=batches, batch_size=None, num_workers=self.num_workers)


class DeviceBatches:
    """The index batches of ``batches`` as slices of one index tensor on ``device``: the epoch's
    order is drawn on the host as before (same generator, same draws), copied to the device once
    per epoch, and each batch is a view of it, so fetching a batch copies nothing from the host."""

    def __init__(self, batches: BatchSampler, device: torch.device):
        self.batches = batches
        self.device = device

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        order = torch.tensor(list(self.batches.sampler), dtype=torch.long).to(self.device)
        size = self.batches.batch_size
        for start in range(0, len(order), size):
            if self.batches.drop_last and start + size > len(order):
                return
            yield order[start:start + size]
