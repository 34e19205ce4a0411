"""GPU leases on one machine (nasrl.training.gpu_lease): each child a slot of its own, no GPU needed.

The devices are fake ids (``NASRL_GPU_IDS``); the leases are the real function in real
processes, so the locks are the kernel's. Nothing here starts Snakemake or trains a network.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nasrl.settings.workflow import validate_workflow_config
from nasrl.training import gpu_lease

# A child's start as far as the lease goes: lease, report, hold until the test lets go.
HOLDER = r"""
import json, os, sys, time
from pathlib import Path
from nasrl.training import gpu_lease

lease = gpu_lease.lease_gpu("gpu", int(sys.argv[1]), poll=0.05)
print(json.dumps({"pid": os.getpid(), "visible": os.environ["CUDA_VISIBLE_DEVICES"], "device": lease.device,
                  "slot": lease.slot, "path": str(lease.path)}), flush=True)
go, deadline = Path(sys.argv[2]), time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.fixture
def lease_env(tmp_path, monkeypatch):
    """This process and its children see fake GPUs, no SLURM, and lease in a folder of the test's."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    # Set, then removed: monkeypatch then restores the variable as it was, even after a lease
    # taken in this process has set it; the lease itself is dropped below.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(gpu_lease.__file__).parents[2]),
                                                                     os.environ.get("PYTHONPATH")])))
    yield tmp
    gpu_lease.release()


def start_holder(per_gpu: int, go: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(per_gpu), str(go)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_line(stream, seconds: float) -> str | None:
    """The next line of a child's pipe, or None when none comes within ``seconds``."""
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else None


def test_eight_children_on_four_gpus_of_two_slots_share_no_slot(lease_env, monkeypatch):
    monkeypatch.setenv("NASRL_GPU_IDS", "0,1,2,3")
    go = lease_env / "go"
    holders = [start_holder(2, go) for _ in range(8)]
    try:
        # Every child reports its lease while all eight still hold theirs: they held them at once.
        leases = [json.loads(read_line(h.stdout, 20) or "null") for h in holders]
    finally:
        go.touch()
        for h in holders:
            h.wait(timeout=20)
    assert all(leases), [h.stderr.read() for h in holders]
    assert all(lease["visible"] == lease["device"] for lease in leases)
    slots = [(lease["device"], lease["slot"]) for lease in leases]
    assert len(set(slots)) == 8
    assert Counter(device for device, _ in slots) == {"0": 2, "1": 2, "2": 2, "3": 2}
    assert {Path(lease["path"]).name for lease in leases} == {f"slot-{d}-{k}" for d in "0123" for k in (0, 1)}
    assert all(h.returncode == 0 for h in holders)


def test_a_killed_child_frees_its_slot_for_the_next_which_waited_and_said_so_once(lease_env, monkeypatch):
    monkeypatch.setenv("NASRL_GPU_IDS", "3")
    go = lease_env / "go"
    first = start_holder(1, go)
    try:
        assert json.loads(read_line(first.stdout, 20))["device"] == "3"
        second = start_holder(1, go)
        waiting = read_line(second.stderr, 20)
        assert waiting and waiting.startswith("waiting for a GPU slot: all 1 are taken (1 GPUs x child.per_gpu 1)")
        assert read_line(second.stdout, 0.5) is None  # still waiting: the slot is held
        first.send_signal(signal.SIGKILL)  # no cleanup: the kernel drops the lock with the process
        taken = read_line(second.stdout, 10)
        assert taken and json.loads(taken)["device"] == "3" and json.loads(taken)["visible"] == "3"
        go.touch()
        _, rest = second.communicate(timeout=20)
        assert "waiting for a GPU slot" not in rest  # said once, not once per poll
        assert second.returncode == 0 and first.wait(timeout=10) == -signal.SIGKILL
    finally:
        go.touch()
        first.kill()


def test_a_childs_device_is_its_lease_and_its_trainer_uses_that_one_device(lease_env, monkeypatch, tmp_path):
    """``nasrl train-child`` with accelerator gpu: the lease is taken before training starts, and
    the Trainer gets devices=1, the one device CUDA_VISIBLE_DEVICES leaves visible."""
    import nasrl.training.child as child_module
    from nasrl.cli import main

    monkeypatch.setenv("NASRL_GPU_IDS", "5,7")
    seen = {}

    def fake_trainer(**kwargs):
        seen["trainer"] = kwargs

    def fake_train_child(arch, config, out_dir, **kwargs):
        seen["visible"] = os.environ.get("CUDA_VISIBLE_DEVICES")
        child_module.make_trainer(config, Path(out_dir), [])
        return {"status": "ok", "reward": 1.0, "best_val": 1.0, "epochs": 1, "seconds": 0.0, "error": None}

    monkeypatch.setattr(child_module.pl, "Trainer", fake_trainer)
    monkeypatch.setattr(child_module, "train_child", fake_train_child)
    config = tmp_path / "child.yaml"
    config.write_text(yaml.safe_dump({"child": {"dataset": "digits", "epochs": 1, "accelerator": "gpu"}}))
    assert main(["train-child", "--arch", "cnn_figure7", "--config", str(config), "--out", str(tmp_path / "c")]) in (0, None)
    assert seen["visible"] == "5"  # the first free slot: device 5's slot 0
    assert (seen["trainer"]["accelerator"], seen["trainer"]["devices"]) == ("gpu", 1)
    assert (lease_env / f"nasrl-gpu-{os.getuid()}" / "slot-5-0").is_file()


@pytest.mark.parametrize("accelerator, env", [("cpu", {"NASRL_GPU_IDS": "0,1"}), ("mps", {"NASRL_GPU_IDS": "0"}),
                                              ("gpu", {"NASRL_GPU_IDS": "0,1", "SLURM_JOB_ID": "42"}),
                                              ("auto", {"NASRL_GPU_IDS": ""}), ("auto", {"CUDA_VISIBLE_DEVICES": "-1"})])
def test_no_lease_on_the_cpu_without_gpus_or_under_slurm(lease_env, accelerator, env):
    environ = dict(env)
    assert gpu_lease.lease_gpu(accelerator, 1, environ=environ) is None
    assert environ == env  # CUDA_VISIBLE_DEVICES left as it was: SLURM's allocation decides there


def test_which_devices_there_are(monkeypatch):
    assert gpu_lease.gpu_ids({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert gpu_lease.gpu_ids({"CUDA_VISIBLE_DEVICES": "2,3", "NASRL_GPU_IDS": "1"}) == ["1"]
    assert gpu_lease.gpu_ids({"CUDA_VISIBLE_DEVICES": "GPU-8f2a, MIG-1c9e"}) == ["GPU-8f2a", "MIG-1c9e"]
    with pytest.raises(ValueError, match=r"^CUDA_VISIBLE_DEVICES: '\.\./x' is not a device id"):
        gpu_lease.gpu_ids({"CUDA_VISIBLE_DEVICES": "0,../x"})
    listed = ("GPU 0: NVIDIA H100 (UUID: GPU-aaaa)\n  MIG 3g.40gb Device 0: (UUID: MIG-bbbb)\n"
              "GPU 1: NVIDIA H100 (UUID: GPU-cccc)\n")
    monkeypatch.setattr(gpu_lease.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=listed, stderr=""))
    assert gpu_lease.gpu_ids({}) == ["0", "1"]


def test_a_lease_folder_other_users_could_write_is_one_error_line(lease_env):
    shared = lease_env / f"nasrl-gpu-{os.getuid()}"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(ValueError, match=r"^GPU lease: .*nasrl-gpu-\d+ has mode 0755; expected 0700$"):
        gpu_lease.lease_gpu("gpu", 1, environ={"NASRL_GPU_IDS": "0"})


@pytest.mark.parametrize("per_gpu", [0, -2])
def test_per_gpu_below_one_is_one_error_line_when_the_workflow_plans(per_gpu):
    config = {"experiment": "plan", "search": {"space": "cnn_v1"}, "child": {"dataset": "digits", "per_gpu": per_gpu}}
    with pytest.raises(ValueError) as err:
        validate_workflow_config(config)
    assert str(err.value) == f"child.per_gpu: Input should be greater than or equal to 1, got {per_gpu}"


def test_children_sharing_a_gpu_are_each_allowed_their_share_of_its_memory(monkeypatch):
    """child.max_memory_gb: null means the device's memory; with per_gpu children on a device,
    each may use its share, or two children each sized to the whole device would not fit."""
    from types import SimpleNamespace

    import torch

    from nasrl.training.limits import device_memory_bytes

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _: SimpleNamespace(total_memory=80 * 2**30))
    assert device_memory_bytes("gpu") == 80 * 2**30
    assert device_memory_bytes("gpu", per_gpu=4) == 20 * 2**30


def test_auto_takes_no_lease_with_a_torch_built_without_cuda(lease_env, monkeypatch):
    """A CPU-only torch trains on the CPU under accelerator auto, whatever CUDA_VISIBLE_DEVICES
    lists: a lease would only make its children wait for each other."""
    monkeypatch.setattr(gpu_lease, "cuda_build", lambda: False)
    environ = {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert gpu_lease.lease_gpu("auto", 1, environ=environ) is None
    assert environ == {"CUDA_VISIBLE_DEVICES": "0,1"}
    monkeypatch.setattr(gpu_lease, "cuda_build", lambda: True)
    assert gpu_lease.lease_gpu("auto", 1, environ=environ).device == "0"
