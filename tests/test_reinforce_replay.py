"""Off-policy replay of every trained child (search.controller.replay_steps; nasrl.search.replay):
the update against an explicit computation, importance weights against the policy that sampled
each child, the archive in the state file, and a killed pipeline search that resumes exactly."""

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from nasrl.search.registry import load_strategy, save_strategy
from nasrl.search.reinforce import ReinforceSearch
from nasrl.search.replay import clipped_surrogate
from nasrl.settings import ReinforceConfig, read_yaml
from nasrl.spaces import build_space
from workflow_helpers import (COMPARED, killed_in_round_1_and_resumed, make_workdir, step_by_step, surrogate_config,
                              workflow_history)

REPO = Path(__file__).resolve().parents[1]
SPACE = build_space({"type": "tabular", "key": "{a}{b}{c}",
                     "decisions": [{"name": n, "choices": ["0", "1", "2"]} for n in "abc"]})
SMALL_BUDGET = read_yaml(REPO / "config" / "controller-small-budget.yaml")["search"]["controller"]
REPLAY = {"lr": 0.05, "normalize_advantage": True, "replay_steps": 1, "replay_clip": 0.2}


def reward(arch):
    return float(sum(int(v) for v in arch["decisions"].values()))


def weights(search):
    return torch.cat([p.detach().flatten().clone() for p in search.controller.parameters()])


def grads(search):
    return torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.flatten().clone()  # unused: attention
                      for p in search.controller.parameters()])


def test_importance_weights_are_one_at_the_sampling_policy_so_the_gradient_is_reinforces():
    search = ReinforceSearch(SPACE, seed=1, config=REPLAY)
    archs = search.ask(6)
    advantage = torch.tensor([1.0, -0.5, 0.3, -2.0, 0.7, 0.5])
    with torch.no_grad():
        behaviour = search.score(archs)[0]
    search.controller.zero_grad()
    log_prob, _ = search.score(archs)
    clipped_surrogate(log_prob, behaviour, advantage, 0.2).backward()
    replayed = grads(search)
    search.controller.zero_grad()
    log_prob, _ = search.score(archs)
    (advantage * log_prob).mean().backward()  # REINFORCE: 1/N sum_i A_i grad log P(a_i)
    assert replayed.abs().sum() > 0
    assert torch.allclose(replayed, grads(search), atol=1e-7)


def test_a_stale_childs_replay_step_is_the_explicit_clipped_importance_weighted_step():
    """The archive holds each child's log-probability under the controller that sampled it (here one
    three updates older), and the replay step equals the clipped surrogate written out by cases."""
    config = {**REPLAY, "lr": 0.3}
    sampler = ReinforceSearch(SPACE, seed=2, config=config)
    current = copy.deepcopy(sampler)
    for _ in range(3):  # the current controller moves on; the sampler stays where it sampled
        archs = current.ask(4)
        current.tell(archs, [reward(a) for a in archs])
    stale = sampler.ask(5, offset=current.samples_seen)
    rewards = [reward(a) for a in stale]
    on_policy_only = copy.deepcopy(current)
    on_policy_only.config.replay_steps = 0
    on_policy_only.tell(stale, rewards, sampler=sampler)
    current.tell(stale, rewards, sampler=sampler)

    with torch.no_grad():
        assert current.archive.log_probs[-5:] == sampler.score(stale)[0].tolist()  # the sampler's, not current's
        assert current.archive.log_probs[-5:] != on_policy_only.score(stale)[0].tolist()
    # The explicit step from the on-policy update's result: ratio against each child's sampler,
    # advantage = reward standardized over all 17 children, clipped to [1 - c, 1 + c] on the side
    # the advantage favours.
    archive_archs, archive_rewards = current.archive.archs, torch.tensor(current.archive.rewards, dtype=torch.float64)
    assert len(archive_archs) == 17
    advantage = ((archive_rewards - archive_rewards.mean()) / archive_rewards.std()).float()
    behaviour = torch.tensor(current.archive.log_probs)
    log_prob, entropy = on_policy_only.score(archive_archs)
    ratio = torch.exp(log_prob - behaviour)
    assert (ratio - 1).abs().max() > 0.2  # some children lie beyond the clip
    terms = [torch.clamp(r, max=1.2) * a if a >= 0 else torch.clamp(r, min=0.8) * a for r, a in zip(ratio, advantage)]
    loss = -torch.stack(terms).mean() - config.get("entropy_weight", 0.0) * entropy.mean()
    on_policy_only.optimizer.zero_grad()
    loss.backward()
    on_policy_only.optimizer.step()
    assert torch.allclose(weights(on_policy_only), weights(current), atol=1e-6)
    assert not torch.allclose(weights(on_policy_only), weights(sampler), atol=1e-3)


def test_replay_stops_at_replay_until_and_off_it_leaves_the_update_and_the_state_as_they_were():
    plain = ReinforceSearch(SPACE, seed=3, config={"lr": 0.05})
    off = ReinforceSearch(SPACE, seed=3, config={"lr": 0.05, "replay_clip": 0.1, "replay_until": 4})
    early = ReinforceSearch(SPACE, seed=3, config={"lr": 0.05, "replay_steps": 2, "replay_until": 8})
    replayed = []
    for _ in range(4):
        archs = plain.ask(4)
        for search in (plain, off):
            search.tell(archs, [reward(a) for a in archs])
        replayed.append("replay_loss" in early.tell(archs, [reward(a) for a in archs]))
    assert torch.equal(weights(plain), weights(off))
    assert "archive" not in off.state_dict() and "archive" in early.state_dict()
    assert replayed == [True, True, False, False]  # told 0 and 4 before the update: below 8
    assert len(early.archive) == 16


def test_the_archive_round_trips_and_a_resumed_search_draws_and_learns_as_an_uninterrupted_one(tmp_path):
    config = {**REPLAY, "unique_samples": "search", "tanh_constant": 2.5, "entropy_weight": 0.1, "replay_steps": 2}
    whole = ReinforceSearch(SPACE, seed=5, config=config)
    for r in range(6):
        if r == 3:
            save_strategy(whole, tmp_path / "round3.pt")
        archs = whole.ask(3)
        whole.tell(archs, [reward(a) for a in archs])
    resumed = load_strategy(tmp_path / "round3.pt", SPACE)
    for _ in range(3):
        archs = resumed.ask(3)
        resumed.tell(archs, [reward(a) for a in archs])
    assert torch.equal(weights(resumed), weights(whole))
    assert resumed.archive == whole.archive and resumed.ask(3) == whole.ask(3)


@pytest.mark.parametrize("values, message", [
    ({"replay_steps": -1}, "search.controller.replay_steps: Input should be greater than or equal to 0, got -1"),
    ({"replay_clip": 0}, "search.controller.replay_clip: Input should be greater than 0, got 0"),
    ({"replay_until": 0}, "search.controller.replay_until: Input should be greater than or equal to 1, got 0"),
])
def test_bad_replay_settings_are_one_line(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ReinforceConfig.from_dict(values)


@pytest.mark.e2e
def test_a_killed_replaying_search_with_replicas_and_staleness_resumes_to_the_same_history(tmp_path, monkeypatch):
    """The shipped small-budget controller (config/controller-small-budget.yaml, replay on) through
    `snakemake`, 2 replicas and staleness 1: SIGKILLed while round 1 trains and started again, it ends
    with the history of the pipeline's steps run in order (every replayed child and its sampling
    log-probability read back from disk)."""
    config = surrogate_config(rounds=4, m=3, replicas=2, staleness=1, seconds_column="flops",
                              seconds_per_unit=1e-8, seconds_jitter=0.5)
    config["search"]["controller"] = SMALL_BUDGET
    assert SMALL_BUDGET["replay_steps"] > 0
    workdir = killed_in_round_1_and_resumed(make_workdir(tmp_path / "wf", config), cores=2)
    history = workflow_history(workdir)
    assert len(history) == 24
    reference = step_by_step(config, tmp_path / "reference", monkeypatch)
    pd.testing.assert_frame_equal(history[COMPARED], reference[COMPARED])
    final = load_strategy(workdir / "results" / "scale" / "controller" / "round_0004.pt")
    assert len(final.archive) == 24 and final.archive.rewards == pytest.approx(list(history["reward"]))
