"""Controller replicas and bounded staleness (nasrl.search.rounds), without training."""

import copy

import pytest
import torch

from nasrl.search.registry import make_strategy
from nasrl.search.rounds import RoundPlan, ask_round, tell_round
from search_helpers import reward  # on the synthetic_space fixture (conftest.py): 6 decisions x 5 choices


@pytest.fixture
def space(synthetic_space):
    return synthetic_space


def run_rounds(space, plan, rounds, strategy="reinforce", seed=0, config=None):
    """A whole search in memory, rounds sampled from controller r - s as the pipeline does."""
    config = {"lr": 0.05} if config is None else config
    controllers = [make_strategy(strategy, space, seed=seed, config=config or None)]
    history = []
    for r in range(rounds):
        sampler = controllers[plan.sampling_controller(r)]
        rows = ask_round(sampler, plan, r)
        current = copy.deepcopy(controllers[r])
        batches = [([x["arch"] for x in rows if x["replica"] == k],
                    [reward(space, x["arch"]) for x in rows if x["replica"] == k]) for k in range(plan.replicas)]
        same = plan.replicas == 1 and plan.sampling_controller(r) == r
        tell_round(current, batches, None if same else copy.deepcopy(sampler))
        controllers.append(current)
        history += [(r, x["replica"], x["arch"]) for x in rows]
    return controllers, history


def params(strategy):
    return [p.detach().clone() for p in strategy.controller.parameters()]


def test_one_replica_without_staleness_is_the_synchronous_search_bit_for_bit(space):
    controllers, history = run_rounds(space, RoundPlan(4), rounds=5)
    plain = make_strategy("reinforce", space, seed=0, config={"lr": 0.05})
    archs = []
    for _ in range(5):
        batch = plain.ask(4)
        plain.tell(batch, [reward(space, a) for a in batch])
        archs += batch
    assert [a for _, _, a in history] == archs
    for mine, theirs in zip(params(controllers[-1]), params(plain)):
        assert torch.equal(mine, theirs)
    assert controllers[-1].baseline == plain.baseline


def test_replica_gradients_are_taken_at_the_sampling_parameters_and_applied_in_turn(space):
    plan = RoundPlan(3, replicas=2)
    sampler = make_strategy("reinforce", space, seed=1, config={"lr": 0.05})
    rows = ask_round(sampler, plan, 0)
    batches = [([x["arch"] for x in rows if x["replica"] == k], [float(i % 3) for i, x in enumerate(rows)
                                                                  if x["replica"] == k]) for k in range(2)]
    current = copy.deepcopy(sampler)
    tell_round(current, batches, copy.deepcopy(sampler))

    # By hand: both gradients at the sampler's parameters, two Adam steps on one copy.
    manual = copy.deepcopy(sampler)
    baseline = None
    for archs, rewards in batches:
        frozen = copy.deepcopy(sampler)
        log_prob, _ = frozen.score(archs)
        r = torch.tensor(rewards, dtype=torch.float64)
        b = float(r.mean()) if baseline is None else baseline
        (-((r - b).float() * log_prob).mean()).backward()
        manual.optimizer.zero_grad()
        for own, taken in zip(manual.controller.parameters(), frozen.controller.parameters()):
            own.grad = None if taken.grad is None else taken.grad.clone()
        manual.optimizer.step()
        for value in rewards:
            b = 0.95 * b + 0.05 * value
        baseline = b
    for mine, theirs in zip(params(current), params(manual)):
        assert torch.allclose(mine, theirs, atol=1e-7)
    assert current.baseline == pytest.approx(baseline)
    assert current.samples_seen == 6 and current.updates == 2
    # the second step is not the one a fresh gradient at the moved parameters would give
    fresh = copy.deepcopy(sampler)
    tell_round(fresh, batches[:1])
    tell_round(fresh, batches[1:])
    assert not all(torch.equal(a, b) for a, b in zip(params(current), params(fresh)))


def test_a_stale_round_is_sampled_from_an_older_controller(space):
    plan = RoundPlan(4, staleness=2)
    assert [plan.sampling_controller(r) for r in range(5)] == [0, 0, 0, 1, 2]
    controllers, history = run_rounds(space, plan, rounds=5)
    # rounds 0-2 come from controller 0, with the random streams of their own places in the search
    first = make_strategy("reinforce", space, seed=0, config={"lr": 0.05})
    for r in range(3):
        assert [a for rr, _, a in history if rr == r] == first.ask(4, offset=4 * r)
    assert [a for rr, _, a in history if rr == 3] == controllers[1].ask(4, offset=12)


def test_replicas_and_staleness_are_deterministic(space):
    plan = RoundPlan(3, replicas=3, staleness=1)
    one, history_one = run_rounds(space, plan, rounds=4)
    two, history_two = run_rounds(space, plan, rounds=4)
    assert history_one == history_two
    assert all(torch.equal(a, b) for a, b in zip(params(one[-1]), params(two[-1])))
    assert [k for r, k, _ in history_one if r == 0] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_stale_replicas_still_learn(space):
    controllers, history = run_rounds(space, RoundPlan(4, replicas=4, staleness=1), rounds=25)
    late = [reward(space, a) for r, _, a in history if r >= 20]
    assert sum(late) / len(late) > 0.5  # random search averages 0.2


def test_random_search_follows_the_same_rounds(space):
    controllers, history = run_rounds(space, RoundPlan(2, replicas=3, staleness=1), rounds=3, strategy="random",
                                      config={})
    assert controllers[-1].samples_seen == 18
    assert len({str(a) for _, _, a in history}) > 10


@pytest.mark.parametrize("field, value", [("replicas", 0), ("staleness", -1), ("replicas", 1.5),
                                          ("children_per_replica", 0), ("staleness", True)])
def test_bad_round_settings_name_the_setting(field, value):
    kwargs = {"children_per_replica": 4, field: value}
    with pytest.raises(ValueError, match=f"^{field}: expected an integer >= "):
        RoundPlan(**kwargs)


def test_several_replicas_need_the_sampling_state(space):
    strategy = make_strategy("reinforce", space, seed=0)
    rows = ask_round(strategy, RoundPlan(2, replicas=2), 0)
    batches = [([x["arch"] for x in rows if x["replica"] == k], [1.0, 0.0]) for k in range(2)]
    with pytest.raises(ValueError, match="sampling state"):
        tell_round(strategy, batches)
