"""Training throughput (images/s) of the Fig. 7 network through `nasrl train-child`'s code path.

Builds the 15-layer network of Zoph & Le (2017) Appendix A, wraps it in the same Lightning
system and Trainer that `nasrl train-child` uses, and trains on CIFAR-10-shaped random data
(batch 64, augmentation on). On a CUDA device it uses bf16 autocast (precision bf16-mixed)
and channels_last; on a CPU it runs a short check in full precision. Images/s is measured
from the 10th training batch (fewer on a CPU check) to the end of the epoch, with the device synchronised.

    python benchmarks/gpu_throughput.py [--train-images 8192] [--epochs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from nasrl.spaces.presets import preset_architecture
from nasrl.training.child import build_system, make_trainer, quiet_lightning
from nasrl.settings import ChildConfig

from common import RandomCifarShaped  # benchmarks/common.py

class Throughput(pl.Callback):
    """Images/s from batch ``skip`` (after cuDNN autotuning and allocator warm-up) to epoch end."""

    def __init__(self, batch_size: int, skip: int):
        self.batch_size = batch_size
        self.skip = skip
        self.rates: list[float] = []

    def _sync(self):
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, module):
        self.start, self.batches = None, 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == self.skip:
            self._sync()
            self.start = time.perf_counter()
        if batch_idx >= self.skip:
            self.batches += 1

    def on_train_epoch_end(self, trainer, module):
        self._sync()
        if self.start is not None:
            self.rates.append(self.batches * self.batch_size / (time.perf_counter() - self.start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-images", type=int, default=None, help="default: 8192 on GPU, 256 on CPU")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    quiet_lightning()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.backends.cudnn.benchmark = True
    config = ChildConfig.from_dict({
        "dataset": "cifar10", "epochs": args.epochs, "batch_size": args.batch_size, "channels_last": True,
        "accelerator": "gpu" if cuda else "cpu", "precision": "bf16-mixed" if cuda else None,
    })
    images = args.train_images or (8192 if cuda else 256)
    datamodule = RandomCifarShaped(train=images, val=512, batch_size=config.batch_size, augment=True)
    datamodule.setup("fit")
    arch, _ = preset_architecture("cnn_figure7")
    system = build_system(arch, config, datamodule)
    meter = Throughput(config.batch_size, skip=min(10, images // config.batch_size // 2))
    trainer = make_trainer(config, Path(tempfile.mkdtemp(prefix="nasrl-gpu-")), [meter])
    trainer.fit(system, datamodule=datamodule)
    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(f"Fig. 7 network ({sum(p.numel() for p in system.model.parameters()):,} parameters), "
          f"{device}, precision {config.precision or '32-true'}, channels_last, batch {config.batch_size}")
    print(f"  training images/s per epoch: {', '.join(f'{r:.0f}' for r in meter.rates)}")
    print(f"  best epoch: {max(meter.rates):.0f} images/s")


if __name__ == "__main__":
    main()
