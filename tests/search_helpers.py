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
                    "normalize_advantage": False, "ppo_epochs": 1, "ppo_clip": None, "unique_samples": "off",
                    "replay_steps": 0, "replay_clip": 0.2, "replay_until": None}  # no replay: each child used once


def surrogate_rounds(search, child, layout, rounds_done: int) -> None:
    """``rounds_done`` rounds of a search into ``layout`` as the workflow runs them, each child
    looked up in its surrogate table: sample, train the new children, collect, update."""
    from nasrl.pipeline.collect import collect_rewards, read_sampled
    from nasrl.pipeline.search_steps import init_controller, sample_round, update_controller
    from nasrl.training.surrogate import train_surrogate

    init_controller(search, layout.controller(0))
    for r in range(rounds_done):
        sample_round(search, child, layout.controller(r), r, layout.samples(r))
        for row in read_sampled(layout.samples(r)):
            if not layout.child_metrics(row["key"]).exists():
                train_surrogate(row["arch"], child, layout.child_dir(row["key"]))
        collect_rewards(layout.samples(r), layout.children_dir, search.strategy, layout.rewards(r))
        update_controller(search, layout.controller(r), layout.rewards(r), layout.controller(r + 1),
                          layout.controller_stats(r + 1))
