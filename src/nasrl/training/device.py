"""How a child trains on its device: precision, memory format, cuDNN autotuning, torch.compile.

On a CUDA GPU a child trains with bf16 autocast (``child.precision: null`` resolves to
"bf16-mixed" where the GPU computes bf16 natively, "32-true" elsewhere), its convolution
weights in channels-last memory format (the images are converted in the forward pass,
``ImageClassifier``), and cuDNN's autotuner on (``torch.backends.cudnn.benchmark``: the shapes
of a child's batches do not change, so the first batches pick each convolution's fastest
kernel). The image data modules keep their splits on the GPU (``nasrl.data.images``). On a CPU
none of this applies: the precision resolves to "32-true" and nothing else changes, so CPU
results are what they were before these settings existed.

``child.compile: true`` compiles the child network with ``torch.compile`` when training
starts; compilation happens during the first batches, inside the child's measured seconds.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch


def resolves_to_cuda(accelerator: str) -> bool:
    """Whether Lightning's ``accelerator`` setting runs on a CUDA GPU on this machine."""
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(precision: str | None, accelerator: str) -> str:
    """The Trainer's precision: ``precision`` when given; otherwise "bf16-mixed" on a CUDA GPU
    that computes bf16 natively (Ampere and later) and "32-true" everywhere else."""
    if precision is not None:
        return precision
    if resolves_to_cuda(accelerator) and torch.cuda.is_bf16_supported(including_emulation=False):
        return "bf16-mixed"
    return "32-true"


class DeviceSetup(pl.Callback):
    """Prepares the training system for the Trainer's device when fitting or testing starts.

    On CUDA: cuDNN autotuning on and, for systems trained channels-last, the network's weights
    stored channels-last. With ``compile``: the network compiled in place
    (``nn.Module.compile``, so its state dict keeps its keys), on any device.
    """

    def __init__(self, compile: bool = False):
        self.compile = compile

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        model = getattr(pl_module, "model", None)
        if trainer.strategy.root_device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            if model is not None and pl_module.hparams.get("channels_last", False):
                model.to(memory_format=torch.channels_last)
        if self.compile and model is not None and getattr(model, "_compiled_call_impl", None) is None:
            model.compile()
