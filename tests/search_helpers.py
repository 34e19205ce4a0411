"""Helpers of the search tests: a synthetic reward on the `synthetic_space` fixture (conftest.py)
and the paper's controller settings."""

TARGET = "310204"


def reward(space, arch):
    """The fraction of positions where the architecture's table key matches TARGET."""
    return sum(a == b for a, b in zip(space.table_key(arch), TARGET)) / len(TARGET)


# Sec. 3.2 and 4.1: REINFORCE with an EMA baseline, the 2 x 35 LSTM, none of the options the paper
# does not use: search.controller's defaults, spelled out by config/controller-paper.yaml and by
# each paper preset (with its learning rate), so that no change of a default reaches them.
PAPER_CONTROLLER = {"baseline_decay": 0.95, "hidden_size": 35, "num_layers": 2, "init_range": 0.08,
                    "entropy_weight": 0.0, "temperature": None, "tanh_constant": None, "grad_clip": None,
                    "normalize_advantage": False, "ppo_epochs": 1, "ppo_clip": None, "unique_samples": "off"}
