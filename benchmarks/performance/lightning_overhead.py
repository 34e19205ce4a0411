"""Cost of training a child through Lightning vs a plain PyTorch loop, and of channels_last.

The same child (a 6-layer CNN shaped like the default search's children), the same data
module, optimizer and augmentation are trained (a) through ``nasrl train-child``'s code path
(``build_system`` + ``make_trainer`` + ``Trainer.fit``) and (b) by a hand-written loop doing
the same work: train epoch with SGD + per-epoch validation. Runs alternate a, b, a, b, ...
and the medians are compared, so machine noise hits both alike. A second pair compares the
plain loop with and without channels_last.

    python benchmarks/performance/lightning_overhead.py [--repeats 5] [--epochs 2] [--data digits|cifar-shaped]

"cifar-shaped" is random 3x32x32 data (2,048 train / 512 val images): CIFAR-10 cannot be
downloaded here, and the cost per step, not the accuracy, is measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nasrl.data import make_datamodule
from nasrl.data.images import augment_batch
from nasrl.models.cnn import CnnChild
from nasrl.training.child import build_system, make_trainer, quiet_lightning
from nasrl.settings import ChildConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import RandomCifarShaped  # noqa: E402


def child_arch(filters: int = 36) -> dict:
    layer = lambda fh, fw, inputs: {"filter_height": fh, "filter_width": fw, "stride_height": 1,  # noqa: E731
                                    "stride_width": 1, "num_filters": filters, "inputs": inputs}
    return {"space": "cnn", "max_pool_after": [], "layers": [
        layer(3, 3, []), layer(3, 5, [0]), layer(5, 3, [0, 1]), layer(3, 3, [2]), layer(1, 3, [1, 3]), layer(3, 1, [4])]}


def run_lightning(arch, config, datamodule) -> float:
    system = build_system(arch, config, datamodule)
    trainer = make_trainer(config, config_dir(), [])
    start = time.perf_counter()
    trainer.fit(system, datamodule=datamodule)
    return time.perf_counter() - start


def run_plain(arch, config, datamodule, channels_last: bool) -> float:
    torch.manual_seed(config.seed)
    model = CnnChild(arch, datamodule.in_channels, datamodule.num_classes)
    opt = config.optimizer
    sgd = torch.optim.SGD(model.parameters(), lr=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov,
                          weight_decay=opt.weight_decay)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    generator = torch.Generator().manual_seed(config.seed + 1)
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for x, y in datamodule.train_dataloader():
            if datamodule.augment:
                x = augment_batch(x, generator, pad=datamodule.pad)
            logits = model(x.contiguous(memory_format=fmt))
            loss = F.cross_entropy(logits, y)
            sgd.zero_grad()
            loss.backward()
            sgd.step()
            loss_sum += loss.detach() * y.shape[0]
            correct += (logits.argmax(-1) == y).sum()
        model.eval()
        with torch.no_grad():
            for x, y in datamodule.val_dataloader():
                logits = model(x.contiguous(memory_format=fmt))
                loss_sum += F.cross_entropy(logits, y) * y.shape[0]
                correct += (logits.argmax(-1) == y).sum()
        float(loss_sum), int(correct)  # the per-epoch metrics the Lightning system also reports
    return time.perf_counter() - start


def config_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="nasrl-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", choices=["digits", "cifar-shaped"], default="digits")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_lightning()
    config = ChildConfig.from_dict({"dataset": "digits", "epochs": args.epochs, "threads": args.threads,
                                    "augment": args.data == "cifar-shaped"})
    if args.data == "digits":
        datamodule = make_datamodule("digits", batch_size=config.batch_size, seed=config.seed)
    else:
        datamodule = RandomCifarShaped(batch_size=config.batch_size, seed=config.seed, augment=True)
    datamodule.setup("fit")
    arch = child_arch()
    run_plain(arch, config, datamodule, True)  # warm-up (allocator, kernels)

    times = {"lightning": [], "plain": [], "plain_contiguous": []}
    for _ in range(args.repeats):
        times["lightning"].append(run_lightning(arch, config, datamodule))
        times["plain"].append(run_plain(arch, config, datamodule, channels_last=True))
        times["plain_contiguous"].append(run_plain(arch, config, datamodule, channels_last=False))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"data={args.data} epochs={args.epochs} repeats={args.repeats} threads={args.threads}, "
          f"{datamodule.split_size('train')} train images, batch {config.batch_size}")
    for k, v in med.items():
        print(f"  {k:17s} median {v:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times[k])})")
    print(f"  Lightning / plain loop (both channels_last): {med['lightning'] / med['plain']:.3f}")
    print(f"  channels_last / contiguous (plain loop):      {med['plain'] / med['plain_contiguous']:.3f}")


if __name__ == "__main__":
    main()
