"""The paper's settings, one test each (docs/paper.md has the facts; its "Settings and the tests that
pin them" table maps each setting to its test here).

Each test reads the setting where a search uses it (the strategy that samples, the Lightning system
that trains, the data module that feeds it), so a changed default or a setting dropped on its way
fails here, whatever the accuracy of a tiny run. Settings the paper does not give (batch size,
schedule, baseline decay) are pinned too: they are the documented choices (docs/paper.md Sec. 9).
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nasrl.search.registry import make_strategy
from nasrl.settings import ChildConfig
from nasrl.settings.search import SearchSettings
from nasrl.spaces import Anchor
from nasrl.spaces.presets import preset_space
from nasrl.training.child import build_system, prepare_data
from nasrl.training.rewards import reward_from_curve
from data_helpers import fake_images, write_official_batch
from search_helpers import PAPER_CONTROLLER

TINY_CNN = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 4, "inputs": []}]}


# --- controller (docs/paper.md Sec. 1) -----------------------------------------------------------


REPO = Path(__file__).resolve().parents[1]


def preset_controller(name: str) -> dict:
    """search.controller of a config file merged over config/config.yaml, as Snakemake reads it."""
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    update_config(config, yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8")))
    return SearchSettings.from_dict(config["search"]).controller.to_dict()


def cnn_controller(**config):
    """The paper's controller on the CNN space (config/controller-paper.yaml), with ``config`` on top."""
    paper = {**preset_controller("controller-paper.yaml"), **config}
    return make_strategy("reinforce", preset_space("cnn_v1"), seed=0, config=paper)


def test_controller_is_a_2_layer_lstm_of_35_units():
    cells = cnn_controller().controller.lstm
    assert [(c.input_size, c.hidden_size) for c in cells] == [(35, 35), (35, 35)]


def test_controller_weights_start_uniform_in_plus_minus_0_08():
    weights = torch.cat([p.detach().flatten() for p in cnn_controller().controller.parameters()])
    assert weights.abs().max() <= 0.08 and weights.abs().max() > 0.0799  # the whole range is used
    assert abs(weights.std().item() - 0.08 / 3**0.5) < 0.002  # uniform: std = range / sqrt(3)


@pytest.mark.parametrize("space, lr", [("cnn_v1", 6e-4), ("rnn_base8", 5e-4)])  # CIFAR-10, PTB
def test_controller_is_trained_by_adam_at_the_papers_learning_rate(space, lr):
    search = make_strategy("reinforce", preset_space(space), config=preset_controller("controller-paper.yaml"))
    assert type(search.optimizer) is torch.optim.Adam
    (group,) = search.optimizer.param_groups
    assert group["lr"] == lr and group["weight_decay"] == 0  # no weight decay mentioned


@pytest.mark.parametrize("name, lr", [("cifar10-paper.yaml", 6e-4), ("cifar10-paper-surrogate.yaml", 6e-4),
                                      ("ptb-paper.yaml", 5e-4), ("controller-paper.yaml", None)])
def test_paper_presets_use_the_papers_controller_and_none_of_the_small_budget_options(name, lr):
    assert preset_controller(name) == {**PAPER_CONTROLLER, "lr": lr}  # lr None: 6e-4 or 5e-4 by space


def test_the_controllers_defaults_are_the_papers():
    assert SearchSettings.from_dict({"space": "cnn_v1"}).controller.to_dict() == {**PAPER_CONTROLLER, "lr": None}


def test_the_papers_controller_samples_repeats_as_its_policy_gives_them():
    search = cnn_controller()
    archs = search.ask(8)
    search.tell(archs, [0.5] * 8)
    assert search.told == set() and search.state_dict()["told"] == []  # no memory of trained architectures


def test_reinforce_gradient_is_the_mean_of_advantage_times_log_probability():
    search = cnn_controller()
    search.tell(search.ask(4), [0.2, 0.4, 0.6, 0.8])  # a first minibatch sets a baseline (0.5 at first)
    archs, rewards = search.ask(4), [0.9, 0.1, 0.3, 0.7]
    baseline = search.baseline  # the advantages use the baseline from before this minibatch
    expected = copy.deepcopy(search)
    log_prob, _ = expected.score(archs)
    (-(torch.tensor(rewards) - baseline) * log_prob).mean().backward()  # -(1/m) sum_k (R_k - b) log P(a_k)
    search.tell(archs, rewards)
    for got, want in zip(search.controller.parameters(), expected.controller.parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad)


def test_baseline_keeps_decay_times_the_old_baseline_plus_the_rest_of_each_reward():
    assert cnn_controller().config.baseline_decay == 0.95  # not in the paper: docs/paper.md Sec. 1.3
    search = cnn_controller(baseline_decay=0.9)  # non-symmetric, so swapped weights would show
    search.tell(search.ask(2), [0.2, 0.6])
    b = 0.4  # started at the first minibatch's mean
    for r in (0.2, 0.6):
        b = 0.9 * b + 0.1 * r
    assert search.baseline == pytest.approx(b)
    search.tell(search.ask(1), [1.0])
    assert search.baseline == pytest.approx(0.9 * b + 0.1 * 1.0)


def test_cifar10_reward_is_the_best_of_the_last_5_validation_accuracies_cubed():
    # the 5th-last epoch is the best of the last 5: a window of 4 or 6 epochs would give 0.1 or 0.99
    assert reward_from_curve([0.99, 0.9, 0.1, 0.1, 0.1, 0.1], "accuracy") == pytest.approx(0.9**3)


def test_ptb_reward_is_80_over_the_validation_perplexity_squared():
    assert reward_from_curve([130.0, 90.0, 100.0], "perplexity") == pytest.approx(80 / 90.0**2)


# --- search spaces (docs/paper.md Sec. 2) --------------------------------------------------------


def test_cnn_v1_filters_and_no_strides():
    spec = preset_space("cnn_v1").spec
    assert spec["filter_heights"] == spec["filter_widths"] == [1, 3, 5, 7]
    assert spec["num_filters"] == [24, 36, 48, 64] and spec["strides"] == [1] and spec["skip_connections"]


def test_cnn_v2_predicts_strides_1_2_3():
    space = preset_space("cnn_v2")
    assert space.spec["strides"] == [1, 2, 3] and space.spec["num_filters"] == [24, 36, 48, 64]
    assert [s.kind for s in space.steps()[2:4]] == ["stride_height", "stride_width"]


def test_cnn_v3_is_13_blocks_of_3_convs_with_filters_6_to_36_and_pooling_after_convs_13_and_24():
    space = preset_space("cnn_v3")
    steps = space.steps()
    assert sum(isinstance(s, Anchor) for s in steps) == 13 and space.spec["block_convs"] == 3
    assert space.spec["num_filters"] == [6, 12, 24, 36] and space.spec["max_pool_after"] == [12, 23]
    assert preset_space("cnn_v3_plus40").spec["extra_filters"] == 40  # Table 1: "+40 filters per layer"


def test_depth_starts_at_6_and_grows_by_2_every_1600_samples():
    search = make_strategy("random", preset_space("cnn_v1"), seed=0)
    depths = {n: len(search.ask(1, offset=n)[0]["layers"]) for n in (0, 1599, 1600, 3200, 11200, 12799)}
    assert depths == {0: 6, 1599: 6, 1600: 8, 3200: 10, 11200: 20, 12799: 20}
    assert preset_space("cnn_v2").spec["depth"] == preset_space("cnn_v1").spec["depth"]


def test_rnn_cell_is_a_base_8_tree_of_add_or_multiply_and_four_activations():
    spec = preset_space("rnn_base8").spec
    assert spec["base"] == 8 and spec["combinations"] == ["add", "elem_mult"]
    assert spec["activations"] == ["identity", "tanh", "sigmoid", "relu"]


# --- child training (docs/paper.md Sec. 3.1) -----------------------------------------------------


def sgd(config=None):
    system = build_system(TINY_CNN, config or ChildConfig(), DIGITS)
    return system.configure_optimizers()


class DIGITS:  # what build_system reads of a data module
    in_channels, num_classes = 1, 10


def test_child_trains_for_50_epochs():
    assert ChildConfig().epochs == 50


def test_child_optimizer_is_sgd():
    assert type(sgd()["optimizer"]) is torch.optim.SGD


def test_child_sgd_uses_nesterov_momentum():
    (group,) = sgd()["optimizer"].param_groups
    assert group["nesterov"] is True


def test_child_momentum_is_0_9():
    (group,) = sgd()["optimizer"].param_groups
    assert group["momentum"] == 0.9


def test_child_learning_rate_is_0_1():
    (group,) = sgd()["optimizer"].param_groups
    assert group["initial_lr"] == 0.1


def test_child_weight_decay_is_1e_4():
    (group,) = sgd()["optimizer"].param_groups
    assert group["weight_decay"] == 1e-4


def test_child_learning_rate_is_divided_by_10_at_50_and_75_percent_of_the_epochs():
    built = sgd()
    optimizer, scheduler = built["optimizer"], built["lr_scheduler"]["scheduler"]
    assert built["lr_scheduler"]["interval"] == "epoch"
    lrs = []
    for _ in range(50):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # 50% and 75% of 50 epochs: after epoch 25 and after epoch 38 (37.5 rounded)
    assert lrs == pytest.approx([0.1] * 25 + [0.01] * 13 + [0.001] * 12)


VAL, PER_BATCH = 5000, 1002  # the paper's 5,000 validation images out of a smaller fake training set


@pytest.fixture(scope="module")
def cifar_child(tmp_path_factory):
    """A fake CIFAR-10 in the official format, 5 x 1,002 training images, through the child's data path."""
    root = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    root.mkdir()
    for b in range(5):
        ids = np.arange(b * PER_BATCH, (b + 1) * PER_BATCH)
        write_official_batch(root / f"data_batch_{b + 1}", fake_images(ids), ids % 10)
    write_official_batch(root / "test_batch", fake_images(np.arange(10), offset=50), np.arange(10))
    config = ChildConfig(dataset="cifar10", data_dir=str(root.parent))
    return prepare_data(TINY_CNN, config)


def test_child_batch_size_is_64(cifar_child):
    assert ChildConfig().batch_size == 64
    assert next(iter(cifar_child.val_dataloader()))[0].shape[0] == 64  # the training split here is tiny


def test_5000_validation_images_are_drawn_at_random_from_the_training_images(cifar_child):
    train, val = (cifar_child.datasets[s].tensors[1] for s in ("train", "val"))
    assert (len(train), len(val)) == (5 * PER_BATCH - VAL, VAL)  # 45,000 / 5,000 of CIFAR-10's 50,000
    assert len(cifar_child.datasets["test"]) == 10  # the test batch stays apart
    labels = torch.cat([torch.arange(b * PER_BATCH, (b + 1) * PER_BATCH) % 10 for b in range(5)])
    assert not torch.equal(val, labels[:VAL])  # not the first 5,000 in file order


def test_images_are_whitened_per_channel_with_training_statistics(cifar_child):
    x = cifar_child.datasets["train"].tensors[0]
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)


def augmented(datamodule, training=True):
    """A batch of 256 images whose pixels count the columns 1..32, as the training loop sees it."""
    columns = torch.arange(1.0, 33.0).expand(256, 3, 32, 32).clone()
    batch = (columns, torch.zeros(256, dtype=torch.long))
    datamodule.trainer = type("Loop", (), {"training": training})()
    return batch[0], datamodule.on_after_batch_transfer(batch, 0)[0]


def test_training_images_are_padded_by_4_and_randomly_cropped(cifar_child):
    assert cifar_child.augment is True and cifar_child.pad == 4
    _, crops = augmented(cifar_child)
    zero_cols = (crops[:, 0, 16, :] == 0).sum(dim=1)  # padding a crop shifted in, on a middle row
    assert zero_cols.max() == 4 and (zero_cols > 0).float().mean() > 0.5
    images, same = augmented(cifar_child, training=False)
    assert same is images  # validation images stay as they are


def test_training_images_are_flipped_left_right_half_the_time(cifar_child):
    _, crops = augmented(cifar_child)
    row = crops[:, 0, 16, :]
    flipped = torch.tensor([bool((r[r > 0].diff() < 0).all()) for r in row])
    assert 0.35 < flipped.float().mean() < 0.65


# --- the paper-scale CIFAR-10 config (docs/paper.md Sec. 1.4, 3.1) -------------------------------


def test_cifar10_paper_config_samples_12800_children_in_minibatches_of_8_from_100_replicas():
    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "cifar10-paper.yaml").read_text(encoding="utf-8"))
    search, child = SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"])
    assert (search.children_per_round, search.replicas) == (8, 100)
    assert search.rounds * search.replicas * search.children_per_round == 12_800
    assert search.build_space().spec["depth"] == {"start": 6, "step": 2, "every": 1600, "max": 20}
    assert search.controller.lr == 6e-4 and child.dataset == "cifar10" and child.epochs == 50
    assert child.optimizer.model_dump() == {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}


@pytest.mark.parametrize("name", ["cifar10-paper.yaml", "cifar10-paper-surrogate.yaml", "ptb-paper.yaml",
                                  "ptb-char-transfer.yaml", "macro-surrogate.yaml"])
def test_paper_presets_train_every_child_fully_over_the_defaults_early_stopping(name):
    """config/config.yaml stops hopeless children early; the paper trains every child all its epochs
    (Sec. 4.1, 4.2), so the presets merged over it, as Snakemake merges them, switch that off."""
    from snakemake.utils import update_config

    from nasrl.settings import validate_workflow_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["child"]["early_stopping"]["enabled"] is True
    update_config(config, yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8")))
    assert validate_workflow_config(config).child.early_stopping.enabled is False
