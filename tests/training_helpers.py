"""Helpers of the child-training tests: a small CNN, a digits child config, a child's curve, and
a setting whose last epoch is worse than an earlier one."""

import csv

from nasrl.settings import ChildConfig

SMALL_CNN = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": []},
    {"filter_height": 3, "filter_width": 1, "stride_height": 2, "stride_width": 2, "num_filters": 8, "inputs": [0]},
    {"filter_height": 1, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": [0, 1]},
]}


def digits_config(**overrides):
    values = {"dataset": "digits", "epochs": 2, "batch_size": 64, "threads": 1, **overrides}
    return ChildConfig.from_dict(values)


def read_curve(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


# Epochs 1-2 at lr 0.1, then the learning rate x30 ruins epoch 3 (clipped, so it stays finite):
# validation accuracy 0.24, 0.26, 0.09, so the best epoch is not the last.
WRECKED_LAST_EPOCH = {"epochs": 3, "lr_decay_at": [0.67], "lr_decay_factor": 30.0, "grad_clip": 1.0}


def validation_value(model_dir):
    """The validation metric of a saved model.pt, evaluated again."""
    import pytorch_lightning as pl

    from nasrl.training.child import load_trained, quiet_lightning

    system, datamodule, _ = load_trained(model_dir)
    quiet_lightning()
    pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        system, datamodule=datamodule, verbose=False)
    return system.meters["val"].compute()[1]
