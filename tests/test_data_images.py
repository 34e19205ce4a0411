"""Image data modules: a fake CIFAR-10 written in the official format, digits, augmentation."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasrl.data import (DATASET_KINDS, Cifar10DataModule, DataError, DigitsDataModule, augment_batch,
                        crop_and_flip, make_datamodule)
from nasrl.data.cifar10 import read_cifar_batch
from nasrl.data.images import channel_stats
from data_helpers import fake_images, write_official_batch

PER_BATCH, N_TEST = 6, 4  # 5 x 6 = 30 training images


@pytest.fixture
def cifar_dir(tmp_path):
    root = tmp_path / "cifar" / "cifar-10-batches-py"
    root.mkdir(parents=True)
    for b in range(5):
        ids = np.arange(b * PER_BATCH, (b + 1) * PER_BATCH)
        write_official_batch(root / f"data_batch_{b + 1}", fake_images(ids), ids % 10)
    # Test images are brighter, so statistics that included them would show it.
    write_official_batch(root / "test_batch", fake_images(np.arange(N_TEST), offset=50), np.arange(N_TEST))
    return tmp_path / "cifar"


def image_ids(dm, split):
    """Recover pixel (0, 0, 0) of each stored image by undoing the normalisation."""
    x = dm.datasets[split].tensors[0]
    return (x[:, 0, 0, 0] * dm.std[0] + dm.mean[0]).round().long().tolist()


def test_reads_official_pickle_layout(cifar_dir):
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_2"
    with path.open("rb") as f:
        raw = pickle.load(f, encoding="bytes")
    images, labels = read_cifar_batch(path)
    assert images.dtype == torch.uint8 and images.shape == (PER_BATCH, 3, 32, 32)
    assert labels.dtype == torch.int64 and labels.tolist() == raw[b"labels"]
    # 3072 = R plane, G plane, B plane, each 32 rows of 32 pixels.
    assert images[1, 2, 5, 7] == raw[b"data"][1, 2 * 1024 + 5 * 32 + 7]


def test_cifar_shapes_and_split_sizes(cifar_dir):
    dm = Cifar10DataModule(cifar_dir, batch_size=4, val_size=5)
    assert (dm.num_classes, dm.in_channels, dm.image_size) == (10, 3, 32)
    dm.setup()
    assert [dm.split_size(s) for s in ("train", "val", "test")] == [25, 5, 4]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert sorted(image_ids(dm, "train") + image_ids(dm, "val")) == list(range(30))
    assert image_ids(dm, "test") == list(range(N_TEST))  # the test batch stays apart


def test_split_is_seeded_and_reproducible(cifar_dir):
    def val_ids(seed):
        dm = Cifar10DataModule(cifar_dir, val_size=5, seed=seed)
        dm.setup()
        return image_ids(dm, "val")

    assert val_ids(0) == val_ids(0)
    assert len({tuple(val_ids(s)) for s in range(4)}) > 1


def test_normalisation_uses_train_statistics(cifar_dir):
    dm = Cifar10DataModule(cifar_dir, val_size=5)
    dm.setup()
    raw = torch.cat([read_cifar_batch(cifar_dir / "cifar-10-batches-py" / f"data_batch_{i}")[0] for i in range(1, 6)])
    train_raw = raw[[i for i in range(30) if i in set(image_ids(dm, "train"))]]
    mean, std = channel_stats(train_raw)
    assert torch.allclose(dm.mean, mean) and torch.allclose(dm.std, std)
    assert torch.allclose(dm.mean, train_raw.double().mean(dim=(0, 2, 3)).float())
    x_train = dm.datasets["train"].tensors[0]
    assert torch.allclose(x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    # Test images are 50 levels brighter, and are normalised with the train stats, not their own.
    assert (dm.datasets["test"].tensors[0].mean(dim=(0, 2, 3)) > 0.5).all()


def test_crop_and_flip_matches_explicit_slices():
    x = torch.randn(3, 2, 5, 6)
    top, left, flip = torch.tensor([0, 4, 2]), torch.tensor([3, 0, 4]), torch.tensor([False, True, True])
    out = crop_and_flip(x, top, left, flip, pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(3):
        crop = padded[b, :, top[b]:top[b] + 5, left[b]:left[b] + 6]
        assert torch.equal(out[b], torch.flip(crop, dims=[-1]) if flip[b] else crop)
    assert torch.equal(crop_and_flip(x, torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long),
                                     torch.zeros(3, dtype=torch.bool), pad=0), x)


def test_augment_batch_is_a_random_crop_or_flip():
    x = torch.randn(64, 3, 8, 8)
    out = augment_batch(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flips, shifts = 0, 0
    for b in range(64):
        matches = [(t, l, f) for t in range(5) for l in range(5) for f in (False, True)
                   if torch.equal(out[b], (lambda c: c.flip(-1) if f else c)(padded[b, :, t:t + 8, l:l + 8]))]
        assert matches, f"sample {b} is not a crop of the padded image"
        t, l, f = matches[0]
        flips += f
        shifts += (t, l) != (2, 2)
    assert 10 < flips < 54 and shifts > 32  # both kinds of change happen, per sample
    assert torch.equal(out, augment_batch(x, torch.Generator().manual_seed(0), pad=2))
    same = augment_batch(x, torch.Generator().manual_seed(0), pad=0)
    assert all(torch.equal(same[b], x[b]) or torch.equal(same[b], x[b].flip(-1)) for b in range(64))


def test_augmentation_only_while_training(cifar_dir):
    dm = Cifar10DataModule(cifar_dir, batch_size=8, val_size=5)
    batch = next(iter(dm.train_dataloader()))
    assert dm.on_after_batch_transfer(batch, 0)[0] is batch[0]  # no trainer attached
    dm.trainer = SimpleNamespace(training=False)
    assert dm.on_after_batch_transfer(batch, 0)[0] is batch[0]
    dm.trainer = SimpleNamespace(training=True)
    x, y = dm.on_after_batch_transfer(batch, 0)
    assert x.shape == batch[0].shape and not torch.equal(x, batch[0]) and y is batch[1]
    dm.augment = False
    assert dm.on_after_batch_transfer(batch, 0)[0] is batch[0]


def test_train_shuffle_is_seeded_and_eval_is_ordered(cifar_dir):
    def first_labels(seed, split):
        dm = Cifar10DataModule(cifar_dir, batch_size=25, val_size=5, seed=seed)
        loader = dm.train_dataloader() if split == "train" else dm.val_dataloader()
        return next(iter(loader))[1].tolist(), dm

    assert first_labels(3, "train")[0] == first_labels(3, "train")[0]
    labels, dm = first_labels(3, "val")
    assert labels == dm.datasets["val"].tensors[1].tolist()


def test_missing_directory_says_how_to_get_the_data(tmp_path):
    with pytest.raises(DataError) as err:
        Cifar10DataModule(tmp_path / "nowhere").setup()
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and "cifar-10-python.tar.gz" in msg and "data_batch_1" in msg


def test_missing_batch_file_is_named(cifar_dir):
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_3"
    path.unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        Cifar10DataModule(cifar_dir, val_size=5).setup()


@pytest.mark.parametrize("content", [b"not a pickle at all", pickle.dumps({b"labels": [1]}),
                                     pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})])
def test_corrupt_batch_is_named(cifar_dir, content):
    path = cifar_dir / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        Cifar10DataModule(cifar_dir, val_size=5).setup()
    assert str(path) in str(err.value)


def test_pickle_with_foreign_globals_is_refused(cifar_dir, tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = cifar_dir / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match="data_batch_1"):
        read_cifar_batch(path)
    assert not (tmp_path / "pwned").exists()


def test_digits_load_offline_with_stratified_seeded_split():
    dm = DigitsDataModule(batch_size=16)
    assert (dm.num_classes, dm.in_channels, dm.image_size) == (10, 1, 8)
    dm.setup()
    sizes = [dm.split_size(s) for s in ("train", "val", "test")]
    assert sum(sizes) == 1797 and abs(sizes[1] - 0.15 * 1797) < 2 and abs(sizes[2] - 0.15 * 1797) < 2
    for split in ("train", "val", "test"):
        assert set(dm.datasets[split].tensors[1].tolist()) == set(range(10))
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    other = DigitsDataModule(seed=1)
    other.setup()
    again = DigitsDataModule()
    again.setup()
    assert torch.equal(again.datasets["val"].tensors[0], dm.datasets["val"].tensors[0])
    assert not torch.equal(other.datasets["val"].tensors[0], dm.datasets["val"].tensors[0])


def test_registry(cifar_dir):
    assert isinstance(make_datamodule("cifar10", cifar_dir, val_size=5), Cifar10DataModule)
    assert isinstance(make_datamodule("digits", batch_size=8), DigitsDataModule)
    assert DATASET_KINDS["cifar10"] == DATASET_KINDS["digits"] == "image"
    with pytest.raises(DataError, match="cifar10.*digits"):
        make_datamodule("imagenet")
    with pytest.raises(DataError, match="data_dir"):
        make_datamodule("cifar10")


def test_lightning_trainer_augments_training_batches_only():
    import pytorch_lightning as pl

    seen = {}

    class Probe(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(64, 10)

        def training_step(self, batch, batch_idx):
            seen["train"] = batch[0].clone()
            return torch.nn.functional.cross_entropy(self.layer(batch[0].flatten(1)), batch[1])

        def validation_step(self, batch, batch_idx):
            seen["val"] = batch[0].clone()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = DigitsDataModule(batch_size=1257, augment=True)  # one batch holds the whole train split
    trainer = pl.Trainer(fast_dev_run=True, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(Probe(), datamodule=dm)
    stored = dm.datasets["train"].tensors[0]
    assert seen["train"].shape == stored.shape and not torch.equal(seen["train"].sort(0).values,
                                                                   stored.sort(0).values)
    assert torch.equal(seen["val"], dm.datasets["val"].tensors[0][:len(seen["val"])])
