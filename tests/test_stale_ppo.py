"""PPO-style steps under staleness (search.controller.ppo_epochs / ppo_clip with replicas or
staleness): the ratio is taken against the policy that sampled each child, the gradient at the
current parameters, as PPO's surrogate needs (Schulman et al. 2017, eq. 7)."""

import copy

import torch

from nasrl.search.reinforce import ReinforceSearch


def first_step_gradient(current: ReinforceSearch, sampler: ReinforceSearch, archs, advantage):
    """The gradient of PPO's unclipped surrogate -mean(P_now / P_sampler * A), at the current
    parameters, computed here from the two controllers' log-probabilities."""
    with torch.no_grad():
        behaviour, _ = sampler.score(archs)
    current.controller.zero_grad()
    log_prob, _ = current.score(archs)
    (-(torch.exp(log_prob - behaviour) * advantage).mean()).backward()
    return grads(current)


def grads(search: ReinforceSearch) -> list[torch.Tensor]:
    """Each parameter's gradient (zero for a head the batch never used)."""
    return [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in search.controller.parameters()]


def test_a_stale_batchs_ppo_step_weighs_each_child_by_the_policy_that_sampled_it(synthetic_space):
    config = {"lr": 0.05, "ppo_epochs": 1, "ppo_clip": 10.0}  # a clip too wide to bind
    sampler = ReinforceSearch(synthetic_space, seed=3, config=config)
    archs = sampler.ask(8)
    current = copy.deepcopy(sampler)
    current.tell(sampler.ask(8), [0.1 * i for i in range(8)])  # one update later: the batch is stale
    assert not all(torch.equal(a, b) for a, b in zip(current.controller.parameters(), sampler.controller.parameters()))
    rewards = torch.tensor([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4])
    advantage = rewards - (float(rewards.mean()) if current.baseline is None else current.baseline)
    expected = first_step_gradient(copy.deepcopy(current), sampler, archs, advantage)

    seen = {}
    step = current._step

    def record(loss, scorer):
        current.optimizer.zero_grad()
        loss.backward(retain_graph=True)
        seen["grads"] = grads(current)
        current.optimizer.zero_grad()
        step(loss, scorer)

    current._step = record
    current.tell(archs, rewards.tolist(), sampler=sampler)
    for got, want in zip(seen["grads"], expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    # and it is not the gradient with the ratio against the current policy (which starts at 1)
    with torch.no_grad():
        now, _ = copy.deepcopy(current).score(archs)
    assert not torch.allclose(now, sampler.score(archs)[0])
