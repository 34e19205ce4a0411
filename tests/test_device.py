"""The device settings of a child: precision resolution, channels-last weights, cuDNN autotuning,
torch.compile and data kept on the device. CUDA is faked where the logic only asks whether it
exists; the CPU path must stay exactly what it was."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import BatchSampler

from nasrl.data import make_datamodule
from nasrl.data.images import DeviceBatches
from nasrl.settings import ChildConfig
from nasrl.training import device
from nasrl.training.device import DeviceSetup, resolve_precision, resolves_to_cuda

ARCH = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": []},
    {"filter_height": 1, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": [0]},
]}


def fake_cuda(monkeypatch, available: bool = True, bf16: bool = True) -> None:
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(device.torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)


@pytest.mark.parametrize("accelerator", ["auto", "gpu", "cuda"])
def test_default_precision_is_bf16_mixed_on_a_cuda_gpu_with_bf16(monkeypatch, accelerator):
    fake_cuda(monkeypatch)
    assert resolves_to_cuda(accelerator)
    assert resolve_precision(None, accelerator) == "bf16-mixed"


def test_default_precision_is_full_on_a_cpu_or_a_gpu_without_bf16(monkeypatch):
    fake_cuda(monkeypatch)
    assert resolve_precision(None, "cpu") == "32-true"  # a GPU present but not used
    fake_cuda(monkeypatch, bf16=False)
    assert resolve_precision(None, "auto") == "32-true"  # pre-Ampere: bf16 only emulated
    fake_cuda(monkeypatch, available=False)
    assert not resolves_to_cuda("auto") and not resolves_to_cuda("gpu")
    assert resolve_precision(None, "auto") == "32-true"


def test_a_given_precision_is_kept(monkeypatch):
    fake_cuda(monkeypatch)
    assert resolve_precision("16-mixed", "auto") == "16-mixed"
    assert resolve_precision("32-true", "gpu") == "32-true"
    fake_cuda(monkeypatch, available=False)
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"


def system_for(config: ChildConfig):
    from nasrl.training.child import build_system, child_datamodule

    datamodule = child_datamodule(ARCH, config)
    return build_system(ARCH, config, datamodule), datamodule


def on(kind: str):
    return SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(kind)))


def test_device_setup_on_cuda_turns_on_autotuning_and_channels_last_weights(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    system, _ = system_for(ChildConfig.from_dict({"epochs": 1}))
    DeviceSetup().setup(on("cuda"), system, "fit")  # no GPU needed: the conversion is on the host
    assert torch.backends.cudnn.benchmark
    conv = system.model.layers[1][0].weight  # 8 input channels: the two layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_device_setup_on_cpu_changes_nothing(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    system, _ = system_for(ChildConfig.from_dict({"epochs": 1}))
    before = {k: v.clone() for k, v in system.model.state_dict().items()}
    DeviceSetup().setup(on("cpu"), system, "fit")
    assert not torch.backends.cudnn.benchmark
    assert all(p.is_contiguous() for p in system.model.parameters())
    assert getattr(system.model, "_compiled_call_impl", None) is None
    assert all(torch.equal(before[k], v) for k, v in system.model.state_dict().items())


def test_compile_compiles_the_network_in_place_and_keeps_its_state_dict_keys():
    system, _ = system_for(ChildConfig.from_dict({"epochs": 1}))
    keys = list(system.model.state_dict())
    DeviceSetup(compile=True).setup(on("cpu"), system, "fit")
    assert system.model._compiled_call_impl is not None
    assert list(system.model.state_dict()) == keys  # model.pt loads into an uncompiled network


def test_make_trainer_on_cpu_trains_in_full_precision_with_the_host_loader(monkeypatch, tmp_path):
    from nasrl.training.child import make_trainer

    fake_cuda(monkeypatch)  # a GPU on the machine does not change a CPU child
    config = ChildConfig.from_dict({"epochs": 1, "accelerator": "cpu", "limit_train_batches": 2})
    trainer = make_trainer(config, tmp_path, [])
    assert trainer.precision == "32-true"
    assert sum(isinstance(cb, DeviceSetup) for cb in trainer.callbacks) == 1
    monkeypatch.undo()
    system, datamodule = system_for(config)
    trainer.fit(system, datamodule=datamodule)
    assert datamodule.resident is None
    assert isinstance(datamodule.train_dataloader().sampler, BatchSampler)
    assert all(p.device.type == "cpu" and p.is_contiguous() for p in system.model.parameters())


def batches(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def test_data_kept_on_a_device_gives_the_same_batches_as_the_host_loader():
    host = make_datamodule("digits", batch_size=50, seed=3)
    kept = make_datamodule("digits", batch_size=50, seed=3)
    host.setup()
    kept.to_device("cpu")
    assert kept.resident == torch.device("cpu")
    assert isinstance(kept.train_dataloader().sampler, DeviceBatches)
    for _ in range(2):  # two epochs: the shuffle's generator advances the same way
        a, b = batches(host.train_dataloader()), batches(kept.train_dataloader())
        assert len(a) == len(b) == len(host.train_dataloader())
        assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    a, b = batches(host.val_dataloader()), batches(kept.val_dataloader())
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert kept._augment_generator.device.type == "cpu"  # the host's augmentation stream


def test_setup_by_a_trainer_on_cuda_moves_the_splits_there(monkeypatch):
    moved = []
    datamodule = make_datamodule("digits", batch_size=50)
    monkeypatch.setattr(datamodule, "to_device", moved.append)
    datamodule.trainer = on("cpu")
    datamodule.setup("fit")
    assert moved == []
    datamodule.trainer = on("cuda")
    datamodule.setup("fit")
    assert moved == [torch.device("cuda")]
