"""The controller's small-budget settings (search.controller: normalize_advantage, ppo_epochs,
ppo_clip, unique_samples) and the shipped setting blocks; the paper's values stay the defaults."""

import re
from pathlib import Path

import pytest
import torch

from nasrl.architecture import content_key
from nasrl.search.registry import load_strategy, save_strategy
from nasrl.search.reinforce import ReinforceSearch
from nasrl.settings import ReinforceConfig, WorkflowConfig, read_yaml
from nasrl.spaces import build_space

REPO = Path(__file__).resolve().parents[1]
PAPER = read_yaml(REPO / "config" / "controller-paper.yaml")["search"]["controller"]  # every option off
SPACE = build_space({"type": "tabular", "key": "{a}{b}",
                     "decisions": [{"name": "a", "choices": ["0", "1", "2"]}, {"name": "b", "choices": ["0", "1"]}]})


def weights(search):
    return torch.cat([p.detach().flatten().clone() for p in search.controller.parameters()])


def test_unique_samples_draws_no_architecture_twice_in_a_minibatch_while_it_can():
    plain = ReinforceSearch(SPACE, seed=4, config={**PAPER, "lr": 0.01})
    unique = ReinforceSearch(SPACE, seed=4, config={**PAPER, "lr": 0.01, "unique_samples": True})
    drawn = plain.ask(5)
    assert len({str(a) for a in drawn}) < 5  # 6 architectures: repeats are likely at 5 draws
    distinct = unique.ask(5)
    assert len({str(a) for a in distinct}) == 5 and distinct == unique.ask(5)  # deterministic
    assert len({str(a) for a in unique.ask(8)}) == 6  # only 6 exist: the rest are repeats, still 8 samples
    assert len(unique.ask(8)) == 8


def test_unique_samples_search_draws_no_told_architecture_while_untold_ones_are_likely():
    search = ReinforceSearch(SPACE, seed=4, config={**PAPER, "lr": 0.01, "unique_samples": "search"})
    first = search.ask(3)
    search.tell(first, [1.0, 2.0, 3.0])
    rest = search.ask(3)
    keys = lambda archs: {content_key(a) for a in archs}  # noqa: E731
    assert keys(first) | keys(rest) == keys(SPACE.decode(SPACE.steps(), [a, b]) for a in range(3) for b in range(2))
    assert search.told == keys(first) and rest == search.ask(3)  # the 3 untold ones, deterministically
    minibatch = ReinforceSearch(SPACE, seed=4, config={**PAPER, "lr": 0.01, "unique_samples": "minibatch"})
    minibatch.tell(first, [1.0, 2.0, 3.0])
    assert keys(minibatch.ask(6)) & keys(first)  # only the minibatch is without repeats there
    search.tell(rest, [1.0, 2.0, 3.0])
    assert len(search.ask(4)) == 4  # every architecture trained: repeats, still 4 samples


def test_unique_samples_search_changes_the_draws_not_the_update():
    archs = ReinforceSearch(SPACE, seed=3).ask(4)
    plain = ReinforceSearch(SPACE, seed=3, config={"lr": 0.05, "unique_samples": "off"})
    search = ReinforceSearch(SPACE, seed=3, config={"lr": 0.05, "unique_samples": "search"})
    for strategy in (plain, search):
        strategy.tell(archs, [1.0, 2.0, 3.0, 4.0])
    assert torch.equal(weights(plain), weights(search)) and plain.told == set()


def test_the_told_architectures_resume_exactly_from_a_state_file(tmp_path):
    space = build_space({"type": "tabular", "key": "{a}{b}{c}",
                         "decisions": [{"name": n, "choices": list("0123")} for n in "abc"]})

    def rewards_for(archs):
        return [float(space.table_key(a).count("2")) for a in archs]

    config = {"lr": 0.01, "normalize_advantage": True, "unique_samples": "search"}
    whole, rounds = ReinforceSearch(space, seed=5, config=config), []
    for _ in range(8):
        archs = whole.ask(6)
        whole.tell(archs, rewards_for(archs))
        rounds.append(archs)
    search, resumed = ReinforceSearch(space, seed=5, config=config), []
    for r in range(8):
        save_strategy(search, tmp_path / f"round_{r}.pt")
        search = load_strategy(tmp_path / f"round_{r}.pt", space)
        archs = search.ask(6)
        search.tell(archs, rewards_for(archs))
        resumed.append(archs)
    assert resumed == rounds and search.told == whole.told
    every = [content_key(a) for archs in rounds for a in archs]
    assert len(set(every)) == len(every) == 48  # 48 of the 64 architectures, none twice
    told = search.state_dict()["told"]
    assert told == sorted(set(every)) and all(len(k) == 16 for k in told)


@pytest.mark.parametrize("value, mode", [(True, "minibatch"), (False, "off"), ("search", "search")])
def test_unique_samples_keeps_its_true_false_spelling(value, mode):
    assert ReinforceConfig.from_dict({"unique_samples": value}).unique_samples == mode


def test_normalized_advantages_ignore_the_reward_scale_and_tied_rewards_move_nothing():
    archs = ReinforceSearch(SPACE, seed=1, config=PAPER).ask(4)
    losses = {}
    for normalize in (False, True):
        for scale in (1.0, 1000.0):
            search = ReinforceSearch(SPACE, seed=1, config={**PAPER, "lr": 0.1, "normalize_advantage": normalize})
            search.tell(archs, [2.0, 2.0, 2.0, 2.0])  # the baseline starts at 2
            losses[normalize, scale] = search.tell(archs, [scale * r for r in (1.0, 2.0, 3.0, 5.0)])["loss"]
    assert losses[True, 1.0] == pytest.approx(losses[True, 1000.0], rel=1e-4)
    assert abs(losses[False, 1000.0]) > 100 * abs(losses[False, 1.0])
    search = ReinforceSearch(SPACE, seed=1, config={**PAPER, "lr": 0.1, "normalize_advantage": True})
    before = weights(search)
    search.tell(archs, [2.0] * 4)
    assert torch.equal(weights(search), before)


def test_one_clipped_step_is_reinforce_and_more_steps_move_further_up_to_the_clip():
    archs = ReinforceSearch(SPACE, seed=2, config=PAPER).ask(6)
    rewards = [float(int(a["decisions"]["a"])) for a in archs]
    plain = ReinforceSearch(SPACE, seed=2, config={**PAPER, "lr": 0.05})
    ppo1 = ReinforceSearch(SPACE, seed=2, config={**PAPER, "lr": 0.05, "ppo_clip": 0.2})
    plain.tell(archs, rewards)
    ppo1.tell(archs, rewards)
    assert torch.allclose(weights(plain), weights(ppo1), atol=1e-6)  # ratio 1: the same gradient
    ppo8 = ReinforceSearch(SPACE, seed=2, config={**PAPER, "lr": 0.05, "ppo_epochs": 8, "ppo_clip": 0.2})
    before = ppo8.score(archs)[0].detach()
    ppo8.tell(archs, rewards)
    after = ppo8.score(archs)[0].detach()
    best = [i for i, r in enumerate(rewards) if r == max(rewards)]
    assert (after[best] > before[best]).all()  # the best architectures became likelier
    one_step = plain.score(archs)[0].detach()
    assert (after[best] - before[best]).sum() > (one_step[best] - before[best]).sum()


# The paper's controller (Sec. 4.1: a 2 x 35 LSTM, weights uniform in [-0.08, 0.08], Adam at 6e-4;
# Sec. 4.2: 5e-4 on cells) with none of the small-budget options; the baseline's decay is ours.
PAPERS_CONTROLLER = {"hidden_size": 35, "num_layers": 2, "init_range": 0.08, "baseline_decay": 0.95,
                     "normalize_advantage": False, "unique_samples": "off", "temperature": None, "tanh_constant": None,
                     "entropy_weight": 0.0, "ppo_epochs": 1, "ppo_clip": None, "grad_clip": None,
                     "replay_steps": 0, "replay_clip": 0.2, "replay_until": None}  # replay off: its clip unused


def merged_controller(name):
    """search.controller of config/{name} merged over config/config.yaml, as Snakemake merges them."""
    from snakemake.utils import update_config

    config = read_yaml(REPO / "config" / "config.yaml")
    update_config(config, read_yaml(REPO / "config" / name))
    return WorkflowConfig.from_dict(config).search.controller


def test_the_defaults_and_the_paper_presets_are_the_papers_controller_and_the_block_is_valid():
    assert ReinforceConfig().to_dict() == {**PAPERS_CONTROLLER, "lr": None}  # None: 6e-4 or 5e-4 by the space
    for name, lr in (("cifar10-paper.yaml", 6e-4), ("cifar10-paper-surrogate.yaml", 6e-4), ("ptb-paper.yaml", 5e-4),
                     ("controller-paper.yaml", None)):
        assert merged_controller(name).to_dict() == {**PAPERS_CONTROLLER, "lr": lr}, name
    block = read_yaml(REPO / "config" / "controller-small-budget.yaml")["search"]["controller"]
    small = ReinforceConfig.from_dict(block)
    assert (small.lr, small.normalize_advantage, small.unique_samples, small.tanh_constant, small.entropy_weight,
            small.replay_steps, small.replay_clip, small.replay_until) == (0.02, True, "search", 2.5, 0.1, 2, 0.5, None)


@pytest.mark.parametrize("values, message", [
    ({"ppo_epochs": 0}, "search.controller.ppo_epochs: Input should be greater than or equal to 1, got 0"),
    ({"ppo_clip": -0.2}, "search.controller.ppo_clip: Input should be greater than 0, got -0.2"),
    ({"unique_samples": "always"}, "search.controller.unique_samples: expected one of ['off', 'minibatch', 'search'] "
                                   "(true: minibatch, false: off), got 'always'"),
    ({"unique_samples": 1}, "search.controller.unique_samples: expected one of ['off', 'minibatch', 'search'] "
                            "(true: minibatch, false: off), got 1"),
])
def test_bad_small_budget_settings_are_one_line(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ReinforceConfig.from_dict(values)
