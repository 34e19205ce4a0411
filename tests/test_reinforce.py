from pathlib import Path

import pytest
import torch

from nasrl.spaces.presets import preset_space
from nasrl.spaces import build_space
from nasrl.search.registry import load_strategy, make_strategy, save_strategy
from nasrl.settings import read_yaml
from search_helpers import reward  # on the synthetic_space fixture (conftest.py)

CONFIG = Path(__file__).resolve().parents[1] / "config"
# The paper's controller (every option not in the paper off, lr null: the paper's rate for the space)
PAPER = read_yaml(CONFIG / "controller-paper.yaml")["search"]["controller"]
SMALL_BUDGET = read_yaml(CONFIG / "controller-small-budget.yaml")["search"]["controller"]


def run(space, strategy, samples, m=4, seed=0, config=None):
    search = make_strategy(strategy, space, seed=seed, config=config)
    rewards = []
    while len(rewards) < samples:
        archs = search.ask(m)
        r = [reward(space, a) for a in archs]
        search.tell(archs, r)
        rewards += r
    return search, rewards


# The paper's controller converges onto the target; the small-budget setting draws only
# architectures not trained yet, with logits bounded, so its late samples are the target's
# neighbours, not the target.
@pytest.mark.parametrize("config, floor", [({"lr": 0.05}, 0.6), (SMALL_BUDGET, 0.4)])
def test_reinforce_learns_a_synthetic_reward_well_above_random(synthetic_space, config, floor):
    for seed in range(3):
        _, learned = run(synthetic_space, "reinforce", 400, seed=seed, config=config)
        _, rand = run(synthetic_space, "random", 400, seed=seed)
        late = sum(learned[-100:]) / 100
        assert abs(sum(rand) / 400 - 0.2) < 0.05  # random: 1 match in 5 per position
        assert late > floor, f"seed {seed}: mean reward of the last 100 samples {late:.2f}"


def test_baseline_is_an_ema_of_rewards_started_at_the_first_batch_mean(synthetic_space):
    search = make_strategy("reinforce", synthetic_space, seed=0, config={"baseline_decay": 0.5})
    archs = search.ask(2)
    stats = search.tell(archs, [1.0, 3.0])
    # b0 = mean = 2; then 0.5*2 + 0.5*1 = 1.5; then 0.5*1.5 + 0.5*3 = 2.25
    assert stats["baseline"] == pytest.approx(2.25)
    stats = search.tell(search.ask(1), [0.25])
    assert stats["baseline"] == pytest.approx(0.5 * 2.25 + 0.5 * 0.25)


def test_a_positive_advantage_raises_the_log_prob_of_the_rewarded_architecture(synthetic_space):
    search = make_strategy("reinforce", synthetic_space, seed=0, config={"lr": 0.01})
    archs = search.ask(2)
    before, _ = search.score(archs)
    search.tell(archs, [1.0, 0.0])
    after, _ = search.score(archs)
    assert after[0] > before[0] and after[1] < before[1]


def test_ask_is_a_function_of_the_state(synthetic_space):
    search = make_strategy("reinforce", synthetic_space, seed=7)
    assert search.ask(5) == search.ask(5)
    other = make_strategy("reinforce", synthetic_space, seed=8)
    assert other.ask(5) != search.ask(5)


@pytest.mark.parametrize("strategy", ["reinforce", "random"])
def test_resume_from_any_saved_round_is_exact(tmp_path, strategy):
    space = build_space({"type": "cnn", "depth": {"start": 2, "step": 1, "every": 8, "max": 5}})

    def rewards_for(archs):  # any deterministic function of the architecture
        return [sum(l["num_filters"] * l["filter_height"] for l in a["layers"]) / 1000 for a in archs]

    whole = make_strategy(strategy, space, seed=11)
    uninterrupted = []
    for _ in range(6):
        archs = whole.ask(4)
        whole.tell(archs, rewards_for(archs))
        uninterrupted.append(archs)
    assert len(uninterrupted[-1][0]["layers"]) == 4  # the depth schedule advanced

    resumed_rounds = []
    search = make_strategy(strategy, space, seed=11)
    for r in range(6):
        path = tmp_path / f"round_{r}.pt"
        save_strategy(search, path)
        search = load_strategy(path, space)  # a fresh object each round, as in a pipeline
        archs = search.ask(4)
        search.tell(archs, rewards_for(archs))
        resumed_rounds.append(archs)
    assert resumed_rounds == uninterrupted
    if strategy == "reinforce":
        for (name, a), b in zip(whole.controller.state_dict().items(), search.controller.state_dict().values()):
            assert torch.equal(a, b), name
        assert whole.baseline == search.baseline


def test_state_file_is_tied_to_its_space(tmp_path):
    path = tmp_path / "c.pt"
    save_strategy(make_strategy("reinforce", preset_space("cnn_v1"), seed=0), path)
    with pytest.raises(ValueError, match="was made for another search space"):
        load_strategy(path, preset_space("cnn_v2"))
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt is unreadable"):
        load_strategy(tmp_path / "junk.pt")


def test_bad_settings_and_rewards_are_rejected(synthetic_space):
    with pytest.raises(ValueError, match=r"search\.controller: unknown key 'learning_rate'"):
        make_strategy("reinforce", synthetic_space, config={"learning_rate": 0.1})
    with pytest.raises(ValueError, match=r"'annealing' is not one of \['evolution', 'random', 'reinforce'\]"):
        make_strategy("annealing", synthetic_space)
    search = make_strategy("reinforce", synthetic_space)
    archs = search.ask(2)
    with pytest.raises(ValueError, match="rewards must be finite"):
        search.tell(archs, [1.0, float("nan")])
    with pytest.raises(ValueError, match="one reward per architecture"):
        search.tell(archs, [1.0])


def test_stabilisers_change_the_policy_only_when_switched_on(synthetic_space):
    plain = make_strategy("reinforce", synthetic_space, seed=0)
    shaped = make_strategy("reinforce", synthetic_space, seed=0, config={"temperature": 5.0, "tanh_constant": 2.5})
    archs = plain.ask(4)
    assert not torch.allclose(plain.score(archs)[0], shaped.score(archs)[0])
    assert plain.config.entropy_weight == 0 and plain.config.temperature is None and plain.config.tanh_constant is None


def test_default_learning_rates_are_the_papers():
    assert make_strategy("reinforce", preset_space("cnn_v1")).config.lr == 6e-4
    assert make_strategy("reinforce", preset_space("rnn_base8")).config.lr == 5e-4
    assert make_strategy("reinforce", preset_space("rnn_base8"), config=PAPER).config.lr == 5e-4  # lr null
    assert make_strategy("reinforce", preset_space("rnn_base8"), config={"lr": 0.01}).config.lr == 0.01
