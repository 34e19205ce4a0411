"""Datasets by config: child.dataset as an image folder, an .npz file, a text folder or a module.

Bad data is one error line naming the file, at plan time (unit tests below, through the settings'
plan check); a tiny search runs on each kind through the real `snakemake` (e2e), and a changed
image trains new children while unchanged data trains nothing.
"""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nasrl.own_data import DataError, inspect, memory
from nasrl.settings import ChildConfig, SearchSettings, child_key
from nasrl.settings.plan_checks import check_plan
from workflow_helpers import TINY, history, make_workdir, snakemake

CNN = TINY["search"]["space"]


def write_images(root: Path, classes=("a", "b"), per_class=5, side=8, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (side, side)) + 100 * c  # classes differ in brightness
            Image.fromarray(pixels.astype(np.uint8), mode="L").save(root / name / f"{i}.png")
    return root


def write_text(root: Path, files=("train.txt", "valid.txt", "test.txt")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["the cat sat on the mat", "a dog sat on a cat", "the mat is on the dog"] * 20
    for name in files:
        (root / name).write_text("\n".join(lines) + "\n")
    return root


MODULE = '''
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Squares(pl.LightningDataModule):
    num_classes, in_channels, image_size = 2, 1, 6

    def __init__(self, n=24):
        super().__init__()
        self.n = n

    def setup(self, stage=None):
        y = torch.arange(self.n) % 2
        x = torch.randn(self.n, 1, 6, 6, generator=torch.Generator().manual_seed(0)) + 2.0 * y.view(-1, 1, 1, 1)
        self.data = TensorDataset(x, y)

    def train_dataloader(self):
        return DataLoader(self.data, batch_size=8)

    val_dataloader = test_dataloader = train_dataloader


class NotData:
    pass
'''


def plan(dataset, space=CNN, **child):
    """The workflow's plan check on a child.dataset; returns the checked child settings."""
    settings = ChildConfig.from_dict({"dataset": dataset, **child})
    check_plan(SearchSettings.from_dict({"space": space}), settings)
    return settings


def one_line_error(dataset, space=CNN) -> str:
    with pytest.raises(ValueError) as caught:
        plan(dataset, space)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- what the plan reads -------------------------------------------------------------------------


def test_an_image_folder_is_read_split_and_hashed(tmp_path):
    root = write_images(tmp_path / "imgs", per_class=10)
    facts = inspect(ChildConfig.from_dict({"dataset": {"type": "image_folder", "path": str(root)}}).dataset.model_dump())
    assert facts.kind == "image" and facts.classes == ["a", "b"] and facts.shape == (1, 8, 8)
    assert facts.splits == {"train": 16, "val": 2, "test": 2}
    settings = plan({"type": "image_folder", "path": str(root)})
    assert settings.dataset.digest == facts.digest
    before = child_key({"space": "cnn"}, settings)
    assert child_key({"space": "cnn"}, plan({"type": "image_folder", "path": str(root)})) == before
    write_images(root, per_class=1, seed=9)  # rewrites a/0.png and b/0.png
    assert child_key({"space": "cnn"}, plan({"type": "image_folder", "path": str(root)})) != before


def test_given_split_folders_are_kept(tmp_path):
    for split in ("train", "val", "test"):
        write_images(tmp_path / "imgs" / split, per_class=3)
    facts = inspect({"type": "image_folder", "path": str(tmp_path / "imgs"), "val_fraction": 0.1,
                     "test_fraction": 0.1})
    assert facts.splits == {"train": 6, "val": 6, "test": 6}


def test_arrays_in_either_layout(tmp_path):
    x = np.random.default_rng(0).random((20, 8, 8, 3)).astype(np.float32)
    np.savez(tmp_path / "hwc.npz", x=x, y=np.arange(20) % 4)
    np.savez(tmp_path / "chw.npz", x_train=x.transpose(0, 3, 1, 2), y_train=np.arange(20) % 4)
    for name in ("hwc", "chw"):
        facts = plan({"type": "arrays", "path": str(tmp_path / f"{name}.npz"), "val_fraction": 0.25,
                      "test_fraction": 0.25}).dataset
        facts = inspect(facts.model_dump())
        assert facts.shape == (3, 8, 8) and facts.num_classes == 4 and facts.splits == {"train": 12, "val": 4, "test": 4}


def test_named_datasets_keep_their_keys():
    assert ChildConfig().result_dict()["dataset"] == "digits"
    assert ChildConfig.from_dict({"dataset": "ptb"}).result_dict()["dataset"] == "ptb"


# --- bad input: one line naming the file, at plan time -------------------------------------------


def test_a_folder_with_one_class(tmp_path):
    root = write_images(tmp_path / "imgs", classes=("only",))
    message = one_line_error({"type": "image_folder", "path": str(root)})
    assert str(root) in message and "expected at least 2" in message


def test_images_of_mixed_sizes(tmp_path):
    root = write_images(tmp_path / "imgs")
    Image.new("L", (9, 9)).save(root / "b" / "odd.png")
    message = one_line_error({"type": "image_folder", "path": str(root)})
    assert str(root / "b" / "odd.png") in message and "9x9" in message and "one size" in message


def test_an_unreadable_image(tmp_path):
    root = write_images(tmp_path / "imgs")
    (root / "a" / "broken.png").write_bytes(b"not a png")
    message = one_line_error({"type": "image_folder", "path": str(root)})
    assert str(root / "a" / "broken.png") in message and "expected a PNG or JPEG" in message
    whole = (root / "a" / "0.png").read_bytes()
    (root / "a" / "broken.png").write_bytes(whole[:len(whole) // 2])  # a truncated file: its header reads
    assert str(root / "a" / "broken.png") in one_line_error({"type": "image_folder", "path": str(root)})


@pytest.mark.parametrize("labels, extra, said", [
    ([0, 1, 2, -1] * 5, {}, "holds -1"),
    ([0, 1, 2, 3] * 5, {"num_classes": 3}, "holds 3; expected class labels in 0..2"),
])
def test_labels_out_of_range(tmp_path, labels, extra, said):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 8, 8)), y=np.array(labels))
    message = one_line_error({"type": "arrays", "path": str(tmp_path / "d.npz"), **extra})
    assert str(tmp_path / "d.npz") in message and said in message


def test_an_npz_without_y(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 8, 8)))
    message = one_line_error({"type": "arrays", "path": str(tmp_path / "d.npz")})
    assert str(tmp_path / "d.npz") in message and "no array 'y'" in message and "expected x and y" in message


def test_a_module_that_does_not_import_or_is_no_data_module(tmp_path, monkeypatch):
    (tmp_path / "own_module_a.py").write_text(MODULE)
    (tmp_path / "own_module_b.py").write_text("import no_such_package_here\n")
    monkeypatch.chdir(tmp_path)
    message = one_line_error({"type": "module", "target": "own_module_b:Squares"})
    assert "'own_module_b' does not import" in message and "no_such_package_here" in message
    message = one_line_error({"type": "module", "target": "own_module_a:NotData"})
    assert "own_module_a.NotData" in message and "expected a LightningDataModule" in message
    assert plan({"type": "module", "target": "own_module_a:Squares"}).dataset.digest


def test_a_text_folder_without_valid_txt(tmp_path):
    root = write_text(tmp_path / "txt", files=("train.txt", "test.txt"))
    message = one_line_error({"type": "text", "path": str(root)}, space={"type": "rnn_cell", "base": 2})
    assert str(root / "valid.txt") in message and "expected train.txt, valid.txt and test.txt" in message


def test_text_for_a_cnn_space_is_refused(tmp_path):
    root = write_text(tmp_path / "txt")
    assert "needs image data" in one_line_error({"type": "text", "path": str(root)})


def test_data_too_large_for_memory(tmp_path, monkeypatch):
    root = write_images(tmp_path / "imgs")
    monkeypatch.setattr(memory, "memory_bytes", lambda: 4000)
    message = one_line_error({"type": "image_folder", "path": str(root)})
    assert str(root) in message and "3.2 kB in memory" in message and "expected at most 1 kB" in message


def test_nasrl_data_check_prints_the_facts_or_one_line(tmp_path, monkeypatch, capsys):
    from nasrl.cli import main

    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "imgs", per_class=10)
    (tmp_path / "c.yaml").write_text("child:\n  dataset: {type: image_folder, path: imgs}\n")
    assert main(["data", "check", "c.yaml"]) == 0
    out = capsys.readouterr().out
    assert "splits: train 16, val 2, test 2" in out and "classes: 2: a, b" in out and "shape: 1 x 8 x 8" in out
    (tmp_path / "c.yaml").write_text("child:\n  dataset: {type: image_folder, path: nowhere}\n")
    assert main(["data", "check", "c.yaml"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


# --- tiny searches through snakemake --------------------------------------------------------------


def own_config(dataset, **child):
    return {**TINY, "search": {**TINY["search"], "rounds": 1, "children_per_round": 2},
            "child": {**TINY["child"], "dataset": dataset, "limit_train_batches": 1, **child}}


def trained(done) -> int:
    """train_child jobs a snakemake run started."""
    return done.stdout.count("rule train_child:") + done.stderr.count("rule train_child:")


@pytest.mark.e2e
def test_a_search_on_an_image_folder_retrains_only_changed_data(tmp_path):
    workdir = make_workdir(tmp_path / "run", own_config({"type": "image_folder", "path": "imgs"}))
    write_images(workdir / "imgs", per_class=10)
    snakemake(workdir)
    first = history(workdir)
    assert (first["status"] == "ok").all()
    data = json.loads((workdir / "results" / "tiny" / "data.json").read_text())
    assert data["splits"] == {"train": 16, "val": 2, "test": 2} and data["image_size"] == 8
    assert trained(snakemake(workdir)) == 0  # unchanged data: nothing trains
    image = workdir / "imgs" / "a" / "0.png"
    Image.fromarray(np.full((8, 8), 7, dtype=np.uint8), mode="L").save(image)
    done = snakemake(workdir)
    assert trained(done) == first["key"].nunique()
    assert not set(history(workdir)["key"]) & set(first["key"])


@pytest.mark.e2e
def test_a_search_on_an_npz_file(tmp_path):
    workdir = make_workdir(tmp_path / "run", own_config({"type": "arrays", "path": "d.npz"}))
    rng = np.random.default_rng(0)
    np.savez(workdir / "d.npz", x=rng.random((30, 6, 6, 3)).astype(np.float32), y=np.arange(30) % 3)
    snakemake(workdir)
    assert (history(workdir)["status"] == "ok").all()


@pytest.mark.e2e
def test_a_search_on_a_text_folder(tmp_path):
    config = {
        "experiment": "tiny",
        "search": {"space": {"type": "rnn_cell", "base": 2}, "strategy": "random", "seed": 0, "rounds": 1,
                   "children_per_round": 2},
        "child": {"dataset": {"type": "text", "path": "txt"}, "epochs": 1, "batch_size": 4, "threads": 1,
                  "limit_train_batches": 2, "language_model": {"embedding_size": 8, "hidden_size": 8, "bptt": 8}},
        "final": {"top_k": 1, "epochs": 1, "grid": {"lr": [1.0]}},
    }
    workdir = make_workdir(tmp_path / "run", config)
    write_text(workdir / "txt")
    snakemake(workdir)
    table = history(workdir)
    assert (table["status"] == "ok").all() and (table["metric"] == "val_ppl").all()


@pytest.mark.e2e
def test_a_search_on_a_module(tmp_path):
    workdir = make_workdir(tmp_path / "run", own_config({"type": "module", "target": "squares:Squares",
                                                          "args": {"n": 24}}))
    (workdir / "squares.py").write_text(textwrap.dedent(MODULE))
    snakemake(workdir)
    assert (history(workdir)["status"] == "ok").all()
