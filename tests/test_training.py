import json
import math

import pytest
import torch

from nasrl.cli import main
from nasrl.models.cnn import CnnChild
from nasrl.spaces.presets import preset_architecture
from nasrl.training.child import train_child
from nasrl.settings import ChildConfig, load_child_config
from nasrl.training.rewards import RewardConfig, reward_from_curve
from training_helpers import SMALL_CNN, WRECKED_LAST_EPOCH, digits_config, read_curve, validation_value


def test_rewards_follow_the_paper():
    assert reward_from_curve([0.1, 0.5, 0.9, 0.7, 0.6, 0.8, 0.75], "accuracy") == pytest.approx(0.9**3)
    # only the last 5 epochs count: an early peak is ignored
    assert reward_from_curve([0.99, 0.5, 0.6, 0.7, 0.6, 0.65], "accuracy") == pytest.approx(0.7**3)
    assert reward_from_curve([120.0, 90.0, 100.0], "perplexity") == pytest.approx(80 / 90.0**2)
    assert reward_from_curve([0.5], "accuracy", RewardConfig(power=1)) == 0.5
    with pytest.raises(ValueError, match="no validation epochs"):
        reward_from_curve([], "accuracy")
    with pytest.raises(ValueError, match="non-finite"):
        reward_from_curve([0.5, math.nan], "accuracy")


def test_a_tiny_cnn_child_trains_on_digits_and_its_reward_comes_from_the_curve(tmp_path):
    metrics = train_child(SMALL_CNN, digits_config(), tmp_path)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert metrics["status"] == "ok" and metrics["error"] is None and metrics["epochs"] == 2
    curve = read_curve(tmp_path / "curve.csv")
    assert [row["epoch"] for row in curve] == [1, 2]
    assert {"lr", "train_loss", "train_acc", "val_loss", "val_acc"} <= set(curve[0])
    assert metrics["reward"] == pytest.approx(max(row["val_acc"] for row in curve[-5:]) ** 3)
    assert metrics["best_val"] == pytest.approx(max(row["val_acc"] for row in curve))
    assert metrics["best_val"] > 0.3  # 10 classes: a child that learned nothing sits near 0.1
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    model = CnnChild(saved["arch"], in_channels=1, num_classes=10)
    model.load_state_dict(saved["state_dict"])
    assert metrics["params"] == sum(p.numel() for p in model.parameters())
    assert metrics["conv_weights"] == 9 * 1 * 8 + 3 * 8 * 8 + 3 * 16 * 8


def test_same_arch_config_and_seed_give_the_same_metrics(tmp_path):
    first = train_child(SMALL_CNN, digits_config(), tmp_path / "a")
    second = train_child(SMALL_CNN, digits_config(), tmp_path / "b")
    assert (tmp_path / "a" / "curve.csv").read_text() == (tmp_path / "b" / "curve.csv").read_text()
    assert first["reward"] == second["reward"] and first["key"] == second["key"]
    other_seed = train_child(SMALL_CNN, digits_config(seed=1), tmp_path / "c")
    assert other_seed["key"] != first["key"]


def test_a_child_that_raises_is_recorded_as_failed_and_the_command_exits_zero(tmp_path, monkeypatch, capsys):
    def broken_forward(self, images):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(CnnChild, "forward", broken_forward)
    arch_path, config_path = tmp_path / "arch.json", tmp_path / "config.yaml"
    arch_path.write_text(json.dumps(SMALL_CNN))
    config_path.write_text("child:\n  dataset: digits\n  epochs: 1\n  failure_reward: -1.0\n  threads: 1\n")
    assert main(["train-child", "--arch", str(arch_path), "--config", str(config_path), "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["reward"] == -1.0
    assert metrics["error"] == "RuntimeError: kernel exploded"
    assert json.loads(capsys.readouterr().out)["status"] == "failed"


def test_a_diverging_child_is_recorded_as_diverged(tmp_path):
    config = digits_config(optimizer={"lr": 1e30}, failure_reward=0.0)
    metrics = train_child(SMALL_CNN, config, tmp_path)
    assert metrics["status"] == "diverged" and metrics["reward"] == 0.0
    assert "training loss is nan" in metrics["error"] or "training loss is inf" in metrics["error"]
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"


def test_a_language_model_child_trains_on_the_builtin_corpus(tmp_path):
    arch, _ = preset_architecture("rnn_nas_cell")
    config = ChildConfig.from_dict({
        "dataset": "pydoc_topics", "epochs": 1, "batch_size": 8, "limit_train_batches": 3, "threads": 1,
        "optimizer": {"lr": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}, "grad_clip": 5.0,
        "language_model": {"embedding_size": 16, "hidden_size": 16, "bptt": 10},
    })
    metrics = train_child(arch, config, tmp_path)
    assert metrics["status"] == "ok" and metrics["metric"] == "val_ppl"
    curve = read_curve(tmp_path / "curve.csv")
    assert metrics["reward"] == pytest.approx(80 / curve[-1]["val_ppl"] ** 2)
    assert 1 < curve[-1]["val_ppl"] < 5000


def test_missing_data_is_one_clear_error_and_a_nonzero_exit(tmp_path, capsys):
    arch_path, config_path = tmp_path / "arch.json", tmp_path / "config.yaml"
    arch_path.write_text(json.dumps(SMALL_CNN))
    config_path.write_text(f"child:\n  dataset: cifar10\n  data_dir: {tmp_path / 'nowhere'}\n")
    assert main(["train-child", "--arch", str(arch_path), "--config", str(config_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nasrl train-child: error: ") and str(tmp_path / "nowhere") in err and err.count("\n") == 1


def test_image_architecture_on_text_data_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'pydoc_topics' is text data, but a cnn architecture needs image data"):
        train_child(SMALL_CNN, ChildConfig.from_dict({"dataset": "pydoc_topics"}), tmp_path)


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("child:\n  epochs: 2\n  optimizer: {lr: fast}\n")
    with pytest.raises(ValueError, match=r"child\.optimizer\.lr: Input should be a valid number, .*, got 'fast'"):
        load_child_config(path)
    path.write_text("child:\n  epoch: 2\n")
    with pytest.raises(ValueError, match=r"child: unknown key 'epoch'"):
        load_child_config(path)


def test_a_child_keeps_the_weights_of_its_best_validation_epoch(tmp_path):
    metrics = train_child(SMALL_CNN, digits_config(**WRECKED_LAST_EPOCH), tmp_path)
    curve = [row["val_acc"] for row in read_curve(tmp_path / "curve.csv")]
    assert metrics["status"] == "ok" and metrics["epochs"] == 3
    best_epoch = max(range(3), key=lambda e: curve[e]) + 1
    assert best_epoch < 3 and metrics["best_epoch"] == best_epoch  # the case this rule is for
    assert metrics["best_val"] == curve[best_epoch - 1] > metrics["last_val"] == curve[-1]
    # model.pt holds the weights that scored best_val, not the last epoch's.
    assert validation_value(tmp_path) == pytest.approx(metrics["best_val"], abs=1e-12)


def test_the_best_epoch_callback_restores_exactly_that_epochs_weights(tmp_path):
    import pytorch_lightning as pl

    from nasrl.training.checkpoint import BestEpochWeights
    from nasrl.training.child import build_system, child_datamodule, make_trainer

    class EveryEpoch(pl.callbacks.Checkpoint):  # a checkpoint callback: it runs after the history row is written
        weights = []

        def on_train_epoch_end(self, trainer, module):
            self.weights.append({k: v.clone() for k, v in module.model.state_dict().items()})

    config = digits_config(**WRECKED_LAST_EPOCH)
    pl.seed_everything(0)
    datamodule = child_datamodule(SMALL_CNN, config)
    system = build_system(SMALL_CNN, config, datamodule)
    best = BestEpochWeights("val_acc", higher_is_better=True)
    make_trainer(config, tmp_path, [EveryEpoch(), best]).fit(system, datamodule=datamodule)
    assert best.best_epoch == 2 and best.best_value == system.history[1]["val_acc"]
    kept = system.model.state_dict()
    for name, value in EveryEpoch.weights[1].items():
        assert torch.equal(kept[name], value), name
    assert not all(torch.equal(kept[k], v) for k, v in EveryEpoch.weights[2].items())


def test_lower_perplexity_is_the_better_epoch():
    from nasrl.training.checkpoint import BestEpochWeights

    best = BestEpochWeights("val_ppl", higher_is_better=False)
    assert best.is_better(50.0)
    best.best_value = 50.0
    assert best.is_better(49.0) and not best.is_better(51.0) and not best.is_better(50.0)
    assert not best.is_better(math.inf) and not best.is_better(math.nan)


def test_a_char_level_child_trains_with_adam_and_reports_bits_per_character(tmp_path):
    arch, _ = preset_architecture("rnn_nas_cell")
    config = ChildConfig.from_dict({
        "dataset": "pydoc_topics_char", "epochs": 2, "batch_size": 8, "limit_train_batches": 3, "threads": 1,
        "optimizer": {"lr": 0.003, "momentum": 0.0, "nesterov": False, "weight_decay": 1e-4}, "lr_decay_at": [],
        "language_model": {"embedding_size": 6, "hidden_size": 8, "bptt": 20, "optimizer": "adam",
                           "recurrent_dropout": 0.2, "embedding_dropout": 0.0, "init_range": 0.1},
    })
    metrics = train_child(arch, config, tmp_path, test=True)
    assert metrics["status"] == "ok"
    for row in read_curve(tmp_path / "curve.csv"):
        assert row["val_bpc"] == pytest.approx(row["val_loss"] / math.log(2))
        assert row["val_ppl"] == pytest.approx(math.exp(row["val_loss"]))
        assert row["lr"] == 0.003  # no schedule
    assert metrics["test"]["test_bpc"] == pytest.approx(metrics["test"]["test_loss"] / math.log(2))


def test_the_language_model_optimizer_follows_the_setting():
    from nasrl.training.lm_system import LanguageModelSystem

    arch, _ = preset_architecture("rnn_nas_cell")
    from nasrl.models import CellLanguageModel

    model = CellLanguageModel(arch, vocab_size=7, embedding_size=4, hidden_size=4)
    adam = LanguageModelSystem(model, 10, lr=1e-3, weight_decay=1e-4, optimizer="adam").configure_optimizers()
    assert type(adam["optimizer"]) is torch.optim.Adam
    assert adam["optimizer"].defaults["lr"] == 1e-3 and adam["optimizer"].defaults["weight_decay"] == 1e-4
    assert adam["lr_scheduler"]["scheduler"].milestones == {5: 1, 8: 1}  # 0.5 and 0.75 of 10 epochs
    sgd = LanguageModelSystem(model, 10, lr=1.0).configure_optimizers()
    assert type(sgd["optimizer"]) is torch.optim.SGD
    with pytest.raises(ValueError, match="optimizer: expected 'sgd' or 'adam', got 'rmsprop'"):
        LanguageModelSystem(model, 10, optimizer="rmsprop")


def test_bits_per_character_on_files_in_the_official_ptb_char_format(tmp_path):
    from data_helpers import TEST, TRAIN, VALID

    for split, lines in (("train", TRAIN), ("valid", VALID), ("test", TEST)):  # " t h e _ c a t " lines
        chars = [" " + " ".join("_".join(line.split())) + " " for line in lines]
        (tmp_path / f"ptb.char.{split}.txt").write_text("\n".join(chars) + "\n")
    arch, _ = preset_architecture("rnn_nas_cell")
    config = ChildConfig.from_dict({
        "dataset": "ptb_char", "data_dir": str(tmp_path), "epochs": 2, "batch_size": 2, "threads": 1,
        "optimizer": {"lr": 0.01, "weight_decay": 1e-4}, "lr_decay_at": [],
        "language_model": {"embedding_size": 4, "hidden_size": 6, "bptt": 5, "optimizer": "adam"},
    })
    metrics = train_child(arch, config, tmp_path / "child", test=True)
    assert metrics["status"] == "ok"
    assert metrics["test"]["test_bpc"] == pytest.approx(math.log2(metrics["test"]["test_ppl"]))
    assert [row["epoch"] for row in read_curve(tmp_path / "child" / "curve.csv")] == [1, 2]
