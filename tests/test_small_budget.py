"""The controller's small-budget settings (search.controller: normalize_advantage, ppo_epochs,
ppo_clip, unique_samples) and the shipped setting block; the paper's values stay the defaults."""

from pathlib import Path

import pytest
import torch

from nasrl.search.reinforce import ReinforceSearch
from nasrl.settings import ReinforceConfig, WorkflowConfig, read_yaml
from nasrl.spaces import build_space

REPO = Path(__file__).resolve().parents[1]
SPACE = build_space({"type": "tabular", "key": "{a}{b}",
                     "decisions": [{"name": "a", "choices": ["0", "1", "2"]}, {"name": "b", "choices": ["0", "1"]}]})


def weights(search):
    return torch.cat([p.detach().flatten().clone() for p in search.controller.parameters()])


def test_unique_samples_draws_no_architecture_twice_in_a_minibatch_while_it_can():
    plain = ReinforceSearch(SPACE, seed=4, config={"lr": 0.01})
    unique = ReinforceSearch(SPACE, seed=4, config={"lr": 0.01, "unique_samples": True})
    drawn = plain.ask(5)
    assert len({str(a) for a in drawn}) < 5  # 6 architectures: repeats are likely at 5 draws
    distinct = unique.ask(5)
    assert len({str(a) for a in distinct}) == 5 and distinct == unique.ask(5)  # deterministic
    assert len({str(a) for a in unique.ask(8)}) == 6  # only 6 exist: the rest are repeats, still 8 samples
    assert len(unique.ask(8)) == 8


def test_normalized_advantages_ignore_the_reward_scale_and_tied_rewards_move_nothing():
    archs = ReinforceSearch(SPACE, seed=1).ask(4)
    losses = {}
    for normalize in (False, True):
        for scale in (1.0, 1000.0):
            search = ReinforceSearch(SPACE, seed=1, config={"lr": 0.1, "normalize_advantage": normalize})
            search.tell(archs, [2.0, 2.0, 2.0, 2.0])  # the baseline starts at 2
            losses[normalize, scale] = search.tell(archs, [scale * r for r in (1.0, 2.0, 3.0, 5.0)])["loss"]
    assert losses[True, 1.0] == pytest.approx(losses[True, 1000.0], rel=1e-4)
    assert abs(losses[False, 1000.0]) > 100 * abs(losses[False, 1.0])
    search = ReinforceSearch(SPACE, seed=1, config={"lr": 0.1, "normalize_advantage": True})
    before = weights(search)
    search.tell(archs, [2.0] * 4)
    assert torch.equal(weights(search), before)


def test_one_clipped_step_is_reinforce_and_more_steps_move_further_up_to_the_clip():
    archs = ReinforceSearch(SPACE, seed=2).ask(6)
    rewards = [float(int(a["decisions"]["a"])) for a in archs]
    plain = ReinforceSearch(SPACE, seed=2, config={"lr": 0.05})
    ppo1 = ReinforceSearch(SPACE, seed=2, config={"lr": 0.05, "ppo_clip": 0.2})
    plain.tell(archs, rewards)
    ppo1.tell(archs, rewards)
    assert torch.allclose(weights(plain), weights(ppo1), atol=1e-6)  # ratio 1: the same gradient
    ppo8 = ReinforceSearch(SPACE, seed=2, config={"lr": 0.05, "ppo_epochs": 8, "ppo_clip": 0.2})
    before = ppo8.score(archs)[0].detach()
    ppo8.tell(archs, rewards)
    after = ppo8.score(archs)[0].detach()
    best = [i for i, r in enumerate(rewards) if r == max(rewards)]
    assert (after[best] > before[best]).all()  # the best architectures became likelier
    one_step = plain.score(archs)[0].detach()
    assert (after[best] - before[best]).sum() > (one_step[best] - before[best]).sum()


def test_the_paper_presets_keep_the_papers_controller_and_the_block_is_valid():
    papers = sorted((REPO / "config").glob("*-paper*.yaml"))
    assert len(papers) >= 2
    defaults = ReinforceConfig()
    for path in papers:
        controller = WorkflowConfig.from_dict(read_yaml(path)).search.controller
        assert (controller.normalize_advantage, controller.ppo_epochs, controller.ppo_clip, controller.unique_samples,
                controller.temperature, controller.tanh_constant, controller.entropy_weight) == \
               (False, 1, None, False, None, None, 0.0), path.name
    assert (defaults.normalize_advantage, defaults.ppo_epochs, defaults.unique_samples) == (False, 1, False)
    block = read_yaml(REPO / "config" / "controller-small-budget.yaml")
    small = ReinforceConfig.from_dict(block["search"]["controller"])
    assert small.normalize_advantage and small.unique_samples and small.lr == 0.01


@pytest.mark.parametrize("values, message", [
    ({"ppo_epochs": 0}, "search.controller.ppo_epochs: expected an integer >= 1, got 0"),
    ({"ppo_clip": -0.2}, "search.controller.ppo_clip: expected a number > 0 or null, got -0.2"),
])
def test_bad_small_budget_settings_are_one_line(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReinforceConfig.from_dict(values)
