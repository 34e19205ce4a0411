"""The paper's settings, one test each (docs/paper.md has the facts; its "Settings and the tests that
pin them" table maps each setting to its test here).

Each test reads the setting where a search uses it (the strategy that samples, the Lightning system
that trains, the data module that feeds it), so a changed default or a setting dropped on its way
fails here, whatever the accuracy of a tiny run. Settings the paper does not give (batch size,
schedule, baseline decay) are pinned too: they are the documented choices (docs/paper.md Sec. 9).

Each setting is tested on the defaults and on every paper preset that uses it, read as a run reads
it: config/config.yaml with the preset merged over it, as Snakemake merges a --configfile, then
checked and filled in by the settings model.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nasrl.data.images import crop_and_flip
from nasrl.search.registry import make_strategy
from nasrl.settings import ChildConfig, RewardConfig, validate_workflow_config
from nasrl.settings.workflow import WorkflowConfig
from nasrl.spaces import Anchor, build_space
from nasrl.spaces.presets import preset_space
from nasrl.training.child import build_system, child_datamodule
from nasrl.training.rewards import reward_from_curve
from data_helpers import fake_images, write_official_batch

TINY_CNN = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 4, "inputs": []}]}
REPO = Path(__file__).resolve().parents[1]


def preset(name: str) -> WorkflowConfig:
    """config/{name} merged over config/config.yaml, as Snakemake merges a --configfile, then
    checked and filled in as the workflow does (workflow/rules/common.smk)."""
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    update_config(config, yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8")))
    return validate_workflow_config(config)


# --- controller (docs/paper.md Sec. 1) -----------------------------------------------------------

# The paper's controller: config/controller-paper.yaml added to the default search, and the presets
# whose searches run it (CIFAR-10, Sec. 4.1; its surrogate twin; Penn Treebank, Sec. 4.2).
CONTROLLER_SOURCES = ["controller-paper.yaml", "cifar10-paper.yaml", "cifar10-paper-surrogate.yaml", "ptb-paper.yaml"]


def controller_search(source: str = "controller-paper.yaml", **config):
    """The strategy that a run of config/{source} samples from, built as its rounds build it
    (nasrl.pipeline.search_steps), with ``config`` on top of its controller settings."""
    search = preset(source).search
    return make_strategy(search.strategy, search.build_space(), seed=search.seed,
                         config={**search.strategy_config(), **config})


@pytest.mark.parametrize("source", CONTROLLER_SOURCES)
def test_controller_is_a_2_layer_lstm_of_35_units(source):
    cells = controller_search(source).controller.lstm
    assert [(c.input_size, c.hidden_size) for c in cells] == [(35, 35), (35, 35)]


@pytest.mark.parametrize("source", CONTROLLER_SOURCES)
def test_controller_weights_start_uniform_in_plus_minus_0_08(source):
    weights = torch.cat([p.detach().flatten() for p in controller_search(source).controller.parameters()])
    assert weights.abs().max() <= 0.08 and weights.abs().max() > 0.0799  # the whole range is used
    assert abs(weights.std().item() - 0.08 / 3**0.5) < 0.002  # uniform: std = range / sqrt(3)


@pytest.mark.parametrize("source, space, lr", [
    ("controller-paper.yaml", "cnn_v1", 6e-4), ("controller-paper.yaml", "rnn_base8", 5e-4),  # lr null: by space
    ("cifar10-paper.yaml", None, 6e-4), ("cifar10-paper-surrogate.yaml", None, 6e-4),  # Sec. 4.1
    ("ptb-paper.yaml", None, 5e-4),  # Sec. 4.2
])
def test_controller_is_trained_by_adam_at_the_papers_learning_rate(source, space, lr):
    search = preset(source).search
    built = search.build_space() if space is None else preset_space(space)
    strategy = make_strategy(search.strategy, built, seed=search.seed, config=search.strategy_config())
    assert type(strategy.optimizer) is torch.optim.Adam
    (group,) = strategy.optimizer.param_groups
    assert group["lr"] == lr and group["weight_decay"] == 0  # no weight decay mentioned


# Every option of search.controller that the paper does not use, off (docs/paper.md Sec. 1.1, 1.3).
NONE_OF_THE_SMALL_BUDGET_OPTIONS = {"normalize_advantage": False, "unique_samples": "off", "temperature": None,
                                    "tanh_constant": None, "entropy_weight": 0.0, "ppo_epochs": 1, "ppo_clip": None,
                                    "grad_clip": None, "replay_steps": 0, "replay_clip": 0.2, "replay_until": None}
# Sec. 4.1: 2 x 35 LSTM, uniform in [-0.08, 0.08]; the baseline's decay is ours (docs/paper.md Sec. 9).
PAPERS_CONTROLLER = {"hidden_size": 35, "num_layers": 2, "init_range": 0.08, "baseline_decay": 0.95,
                     **NONE_OF_THE_SMALL_BUDGET_OPTIONS}


@pytest.mark.parametrize("name, lr", [("cifar10-paper.yaml", 6e-4), ("cifar10-paper-surrogate.yaml", 6e-4),
                                      ("ptb-paper.yaml", 5e-4), ("controller-paper.yaml", None)])
def test_paper_presets_use_the_papers_controller_and_none_of_the_small_budget_options(name, lr):
    assert preset(name).search.controller.to_dict() == {**PAPERS_CONTROLLER, "lr": lr}  # None: 6e-4 or 5e-4 by space


def test_the_controllers_defaults_are_the_papers():
    assert WorkflowConfig.from_dict({"experiment": "e", "search": {"space": "cnn_v1"}}).search.controller.to_dict() \
        == {**PAPERS_CONTROLLER, "lr": None}


@pytest.mark.parametrize("source", CONTROLLER_SOURCES)
def test_the_papers_controller_samples_repeats_as_its_policy_gives_them(source):
    search = controller_search(source)
    archs = search.ask(8)
    search.tell(archs, [0.5] * 8)
    assert search.told == set() and search.state_dict()["told"] == []  # no memory of trained architectures


@pytest.mark.parametrize("source", CONTROLLER_SOURCES)
def test_reinforce_gradient_is_the_mean_of_advantage_times_log_probability(source):
    search = controller_search(source)
    search.tell(search.ask(4), [0.2, 0.4, 0.6, 0.8])  # a first minibatch sets a baseline (0.5 at first)
    archs, rewards = search.ask(4), [0.9, 0.1, 0.3, 0.7]
    baseline = search.baseline  # the advantages use the baseline from before this minibatch
    expected = copy.deepcopy(search)
    log_prob, _ = expected.score(archs)
    (-(torch.tensor(rewards) - baseline) * log_prob).mean().backward()  # -(1/m) sum_k (R_k - b) log P(a_k)
    search.tell(archs, rewards)
    for got, want in zip(search.controller.parameters(), expected.controller.parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad)


@pytest.mark.parametrize("source", CONTROLLER_SOURCES)
def test_baseline_keeps_decay_times_the_old_baseline_plus_the_rest_of_each_reward(source):
    assert controller_search(source).config.baseline_decay == 0.95  # not in the paper: docs/paper.md Sec. 1.3
    search = controller_search(source, baseline_decay=0.9)  # non-symmetric, so swapped weights would show
    search.tell(search.ask(2), [0.2, 0.6])
    b = 0.4  # started at the first minibatch's mean
    for r in (0.2, 0.6):
        b = 0.9 * b + 0.1 * r
    assert search.baseline == pytest.approx(b)
    search.tell(search.ask(1), [1.0])
    assert search.baseline == pytest.approx(0.9 * b + 0.1 * 1.0)


@pytest.mark.parametrize("source", ["defaults", "cifar10-paper.yaml"])
def test_cifar10_reward_is_the_best_of_the_last_5_validation_accuracies_cubed(source):
    reward = RewardConfig() if source == "defaults" else preset(source).child.reward
    # the 5th-last epoch is the best of the last 5: a window of 4 or 6 epochs would give 0.1 or 0.99
    assert reward_from_curve([0.99, 0.9, 0.1, 0.1, 0.1, 0.1], "accuracy", reward) == pytest.approx(0.9**3)


def test_the_surrogate_search_rewards_the_table_accuracy_cubed():
    surrogate = preset("cifar10-paper-surrogate.yaml").child.surrogate
    assert (surrogate.reward_scale, surrogate.reward_power) == (0.01, 3)  # a percentage, as a fraction, cubed


@pytest.mark.parametrize("source", ["defaults", "ptb-paper.yaml"])
def test_ptb_reward_is_80_over_the_validation_perplexity_squared(source):
    reward = RewardConfig() if source == "defaults" else preset(source).child.reward
    assert reward_from_curve([130.0, 90.0, 100.0], "perplexity", reward) == pytest.approx(80 / 90.0**2)


# --- search spaces (docs/paper.md Sec. 2) --------------------------------------------------------


def cnn_space(source: str):
    """A space preset, the CNN space of a config that names no values (its defaults), or a preset's space."""
    if source == "cnn defaults":
        return build_space({"type": "cnn"})
    if source.endswith(".yaml"):
        return preset(source).search.build_space()
    return preset_space(source)


@pytest.mark.parametrize("source", ["cnn_v1", "cnn defaults", "cifar10-paper.yaml"])
def test_cnn_v1_filters_and_no_strides(source):
    spec = cnn_space(source).spec
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


@pytest.mark.parametrize("source", ["cnn_v1", "cnn_v2", "cnn defaults", "cifar10-paper.yaml"])
def test_depth_starts_at_6_and_grows_by_2_every_1600_samples(source):
    search = make_strategy("random", cnn_space(source), seed=0)
    depths = {n: len(search.ask(1, offset=n)[0]["layers"]) for n in (0, 1599, 1600, 3200, 11200, 12799)}
    assert depths == {0: 6, 1599: 6, 1600: 8, 3200: 10, 11200: 20, 12799: 20}


@pytest.mark.parametrize("source", ["rnn_base8", "ptb-paper.yaml"])
def test_rnn_cell_is_a_base_8_tree_of_add_or_multiply_and_four_activations(source):
    spec = (preset(source).search.build_space() if source.endswith(".yaml") else preset_space(source)).spec
    assert spec["base"] == 8 and spec["combinations"] == ["add", "elem_mult"]
    assert spec["activations"] == ["identity", "tanh", "sigmoid", "relu"]


# --- child training (docs/paper.md Sec. 3.1) -----------------------------------------------------

CHILD_SOURCES = ["defaults", "cifar10-paper.yaml"]  # the child settings' defaults, and the CIFAR-10 preset's


def child_config(source: str) -> ChildConfig:
    return ChildConfig() if source == "defaults" else preset(source).child


def sgd(source):
    system = build_system(TINY_CNN, child_config(source), DIGITS)
    return system.configure_optimizers()


class DIGITS:  # what build_system reads of a data module
    in_channels, num_classes = 1, 10


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_trains_for_50_epochs(source):
    assert child_config(source).epochs == 50


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_optimizer_is_sgd(source):
    assert type(sgd(source)["optimizer"]) is torch.optim.SGD


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_sgd_uses_nesterov_momentum(source):
    (group,) = sgd(source)["optimizer"].param_groups
    assert group["nesterov"] is True


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_momentum_is_0_9(source):
    (group,) = sgd(source)["optimizer"].param_groups
    assert group["momentum"] == 0.9


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_learning_rate_is_0_1(source):
    (group,) = sgd(source)["optimizer"].param_groups
    assert group["initial_lr"] == 0.1


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_weight_decay_is_1e_4(source):
    (group,) = sgd(source)["optimizer"].param_groups
    assert group["weight_decay"] == 1e-4


@pytest.mark.parametrize("source", CHILD_SOURCES)
def test_child_learning_rate_is_divided_by_10_at_50_and_75_percent_of_the_epochs(source):
    built = sgd(source)
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


@pytest.fixture(scope="module", params=CHILD_SOURCES)
def cifar_config(request, tmp_path_factory):
    """The child settings of ``request.param`` reading a fake CIFAR-10 in the official format,
    5 x 1,002 training images."""
    root = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    root.mkdir()
    for b in range(5):
        ids = np.arange(b * PER_BATCH, (b + 1) * PER_BATCH)
        write_official_batch(root / f"data_batch_{b + 1}", fake_images(ids), ids % 10)
    write_official_batch(root / "test_batch", fake_images(np.arange(10), offset=50), np.arange(10))
    if request.param == "defaults":
        return ChildConfig(dataset="cifar10", data_dir=str(root.parent))
    config = child_config(request.param)
    assert config.dataset == "cifar10"
    return ChildConfig.from_dict({**config.to_dict(), "data_dir": str(root.parent)})


@pytest.fixture(scope="module")
def cifar_child(cifar_config):
    """The child's data module, as the child's data path builds it."""
    return child_datamodule(TINY_CNN, cifar_config)


def test_child_batch_size_is_64(cifar_child):
    assert cifar_child.batch_size == 64
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


BATCHES, BATCH = 8, 512  # 4,096 augmented images


def augmented(datamodule, training=True):
    """``BATCHES`` batches of images whose pixels number their place (row * 32 + column + 1; the
    padding is 0), before and after the data module's hook, as the training loop calls it."""
    places = torch.arange(1.0, 32 * 32 + 1).view(1, 1, 32, 32).expand(BATCH, 3, 32, 32).contiguous()
    datamodule.trainer = type("Loop", (), {"training": training})()
    out = [datamodule.on_after_batch_transfer((places, torch.zeros(BATCH, dtype=torch.long)), 0)[0]
           for _ in range(BATCHES)]
    return places.repeat(BATCHES, 1, 1, 1), torch.cat(out)


def crop_offsets(crops, pad=4):
    """Row and column offsets into the padded images, and the flips, read back from the centre
    pixels, which every crop of at most ``pad`` pixels' shift takes from the image itself."""
    place = crops[:, 0, 16, 16].long() - 1
    row, col = place // 32, place % 32
    flip = crops[:, 0, 16, 17] < crops[:, 0, 16, 16]  # the columns run right to left
    top = row + pad - 16
    left = torch.where(flip, col + pad - 15, col + pad - 16)
    return top, left, flip


def test_training_images_are_padded_by_4_and_randomly_cropped(cifar_config):
    datamodule = child_datamodule(TINY_CNN, cifar_config)  # its crops seeded by the child seed, as a run's
    assert datamodule.augment is True and datamodule.pad == 4
    images, crops = augmented(datamodule)
    top, left, flip = crop_offsets(crops)
    assert torch.equal(crops, crop_and_flip(images, top, left, flip, pad=4))  # every crop read back exactly
    # Sec. 3.1 (pad 4 -> 40 x 40 -> a random 32 x 32 crop): the offsets are uniform on 0..8 both
    # ways, so images shift up to 4 pixels left, right, up and down. 1/9 each, within 5 sigma.
    for offsets in (top, left):
        counts = torch.bincount(offsets, minlength=9)
        assert len(counts) == 9 and (counts / len(offsets) - 1 / 9).abs().max() < 0.025, counts.tolist()
    assert len(set(zip(top.tolist(), left.tolist()))) == 81  # every pair: the two offsets drawn apart
    images, same = augmented(datamodule, training=False)
    assert torch.equal(same, images)  # validation images stay as they are


def test_training_images_are_flipped_left_right_half_the_time(cifar_config):
    datamodule = child_datamodule(TINY_CNN, cifar_config)  # its flips seeded by the child seed, as a run's
    _, crops = augmented(datamodule)
    _, _, flip = crop_offsets(crops)
    # probability 1/2 (Sec. 3.1): 4,096 draws have a standard deviation of 0.0078; 0.03 is 4 of them
    assert abs(flip.float().mean().item() - 0.5) < 0.03


# --- the paper-scale CIFAR-10 config (docs/paper.md Sec. 1.4, 3.1) -------------------------------


def test_cifar10_paper_config_samples_12800_children_in_minibatches_of_8_from_100_replicas():
    settings = preset("cifar10-paper.yaml")
    search, child = settings.search, settings.child
    assert (search.strategy, search.children_per_round, search.replicas) == ("reinforce", 8, 100)
    # Sec. 3.3: asynchronous replicas, each update applied as its children end
    assert (search.updates, search.staleness, child.early_stopping.enabled) == ("async", 0, False)
    assert search.rounds * search.replicas * search.children_per_round == 12_800
    assert search.build_space().spec["depth"] == {"start": 6, "step": 2, "every": 1600, "max": 20}
    assert search.controller.lr == 6e-4 and child.dataset == "cifar10" and child.epochs == 50
    assert child.optimizer.model_dump() == {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}
    assert (child.batch_size, child.lr_decay_at, child.lr_decay_factor) == (64, [0.5, 0.75], 0.1)
    assert (child.reward.last_epochs, child.reward.power, child.augment) == (5, None, None)  # acc^3; pad-4 crop, flip


@pytest.mark.parametrize("name", ["cifar10-paper.yaml", "cifar10-paper-surrogate.yaml", "ptb-paper.yaml",
                                  "ptb-char-transfer.yaml", "macro-surrogate.yaml"])
def test_paper_presets_train_every_child_fully_over_the_defaults_early_stopping(name):
    """config/config.yaml stops hopeless children early; the paper trains every child all its epochs
    (Sec. 4.1, 4.2), so the presets merged over it, as Snakemake merges them, switch that off."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["child"]["early_stopping"]["enabled"] is True
    assert preset(name).child.early_stopping.enabled is False
