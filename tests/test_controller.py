import itertools
import math

import pytest
import torch

from nasrl.search.controller import Controller, rows_to_actions
from nasrl.spaces.presets import preset_architecture, preset_space
from nasrl.search.reinforce import ReinforceSearch
from nasrl.spaces import build_space
from nasrl.spaces.steps import Categorical


def all_archs(space, steps, per_step_options):
    return [space.decode(steps, list(row)) for row in itertools.product(*per_step_options)]


def test_probabilities_of_all_architectures_sum_to_one(tiny_tabular):
    search = ReinforceSearch(tiny_tabular, seed=3, config={"init_range": 1.0})  # far from uniform
    steps = tiny_tabular.steps()
    archs = all_archs(tiny_tabular, steps, [range(3)] * 3)
    log_prob, _ = search.score(archs)
    assert len(archs) == 27
    assert math.isclose(float(log_prob.detach().exp().sum()), 1.0, rel_tol=1e-5)
    assert float(log_prob.detach().exp().min()) < 0.5 / 27  # the test would pass trivially for a uniform policy


def test_skip_probabilities_over_all_patterns_sum_to_one(skip_only_cnn):
    search = ReinforceSearch(skip_only_cnn, seed=4, config={"init_range": 1.0})
    steps = skip_only_cnn.steps()
    archs = all_archs(skip_only_cnn, steps, [[()], [(0,), (1,)], list(itertools.product((0, 1), repeat=2))])
    assert len(archs) == 8
    log_prob, _ = search.score(archs)
    assert math.isclose(float(log_prob.detach().exp().sum()), 1.0, rel_tol=1e-5)


def test_skip_is_the_papers_attention_sigmoid_and_sampling_follows_it():
    space = build_space({"type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [8],
                         "always_connect_previous": False, "depth": {"start": 2, "step": 0, "every": 1, "max": 2}})
    search = ReinforceSearch(space, seed=5, config={"init_range": 1.0})
    c: Controller = search.controller
    steps = space.steps()
    # By hand: h_0, h_1 are the top LSTM outputs at the anchors of layers 0 and 1.
    with torch.no_grad():
        state = [(torch.zeros(1, c.hidden_size), torch.zeros(1, c.hidden_size)) for _ in c.lstm]
        h0 = c._lstm_step(c.start.view(1, -1), state)
        h1 = c._lstm_step(torch.zeros(1, c.hidden_size), state)  # layer 0 had no candidates -> zero input
        p_by_hand = torch.sigmoid(c.attn_v(torch.tanh(c.attn_prev(h0) + c.attn_curr(h1)))).item()
    with_skip = space.decode(steps, [(), (1,)])
    log_prob, _ = search.score([with_skip])
    assert math.isclose(float(log_prob.detach().exp()), p_by_hand, rel_tol=1e-5)
    sampled = search.ask(4000)
    freq = sum(a["layers"][1]["inputs"] == [0] for a in sampled) / len(sampled)
    assert abs(freq - p_by_hand) < 4 * math.sqrt(p_by_hand * (1 - p_by_hand) / 4000)
    assert not 0.4 < p_by_hand < 0.6  # a clearly non-uniform probability, so the check has teeth


def test_zero_weights_give_the_uniform_policy_and_its_entropy():
    space = preset_space("cnn_v1")
    search = ReinforceSearch(space, seed=0)
    for p in search.controller.parameters():
        torch.nn.init.zeros_(p)
    archs = search.ask(3)
    log_prob, entropy = search.score(archs)
    steps = space.steps()
    expected = sum(math.log(len(s.choices)) if hasattr(s, "choices") else len(s.candidates) * math.log(2) for s in steps)
    assert torch.allclose(-log_prob, torch.full((3,), expected), atol=1e-4)
    assert torch.allclose(entropy, torch.full((3,), expected), atol=1e-4)


def test_sampling_is_batched_and_scores_match_sampling_log_probs():
    space = preset_space("rnn_base8")
    search = ReinforceSearch(space, seed=1)
    steps = space.steps()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        taken, lp_sampled, _ = search.controller(steps, 16, generator=gen)
        _, lp_scored, _ = search.controller(steps, 16, actions=rows_to_actions(steps, [[int(a[b]) for a in taken] for b in range(16)]))
    assert lp_sampled.shape == (16,)
    assert torch.allclose(lp_sampled, lp_scored)


def test_weights_start_uniform_in_the_papers_range():
    search = ReinforceSearch(preset_space("cnn_v1"), seed=0)
    flat = torch.cat([p.detach().flatten() for p in search.controller.parameters()])
    assert float(flat.abs().max()) <= 0.08 and float(flat.abs().max()) > 0.07
    assert len(search.controller.lstm) == 2 and search.controller.hidden_size == 35


def test_figure7_can_be_scored():
    arch, space = preset_architecture("cnn_figure7")
    log_prob, entropy = ReinforceSearch(space, seed=0).score([arch])
    log_prob, entropy = log_prob.detach(), entropy.detach()
    assert torch.isfinite(log_prob).all() and float(log_prob) < 0 and float(entropy) > 0


def test_sampling_returns_architectures_with_their_log_probability_and_entropy(tiny_tabular):
    search = ReinforceSearch(tiny_tabular, seed=2, config={"init_range": 1.0})
    archs, log_prob, entropy = search.sample(6)
    assert archs == search.ask(6) and log_prob.shape == entropy.shape == (6,)
    steps = tiny_tabular.steps()
    with torch.no_grad():
        _, direct, _ = search.controller(steps, 6, actions=rows_to_actions(steps, [tiny_tabular.encode(a)[1] for a in archs]))
    assert torch.allclose(log_prob, direct)
    assert (entropy > 0).all() and (entropy <= 3 * math.log(3) + 1e-5).all()


# The temperature T and the tanh constant C (ENAS; not in the paper, docs/paper.md Sec. 1.1) shape
# every logit once: C * tanh(logits / T). Values below worked out by hand for logits (2, -1, 0.5):
# T = 2 gives (1, -0.5, 0.25); 2.5 * tanh of those is (1.903985, -1.155293, 0.612297).
SHAPED = [
    (2.0, 2.5, [1.903985, -1.155293, 0.612297], [0.756585, 0.035500, 0.207914]),
    (None, 2.5, [2.410069, -1.903985, 1.155293], [0.770108, 0.010303, 0.219588]),  # the small-budget setting
    (2.0, None, [1.0, -0.5, 0.25], [0.589798, 0.131602, 0.278601]),
]


@pytest.mark.parametrize("temperature, tanh_constant, logits, _", SHAPED)
def test_shaped_logits_are_c_tanh_of_the_logits_over_t_each_applied_once(temperature, tanh_constant, logits, _):
    c = Controller({"x": 3}, temperature=temperature, tanh_constant=tanh_constant)
    shaped = c._shape_logits(torch.tensor([2.0, -1.0, 0.5]))
    assert shaped.tolist() == pytest.approx(logits, abs=1e-6)


@pytest.mark.parametrize("temperature, tanh_constant, _, probabilities", SHAPED)
def test_the_policy_samples_from_the_softmax_of_the_shaped_logits(temperature, tanh_constant, _, probabilities):
    """Through forward, as the search samples and scores: a head with zero weights outputs its
    bias (2, -1, 0.5) whatever the LSTM state, so each choice's probability is known by hand."""
    c = Controller({"x": 3}, temperature=temperature, tanh_constant=tanh_constant)
    with torch.no_grad():
        c.heads["x"].weight.zero_()
        c.heads["x"].bias.copy_(torch.tensor([2.0, -1.0, 0.5]))
    steps = [Categorical("only", "x", (0, 1, 2))]
    with torch.no_grad():
        _, log_prob, entropy = c(steps, 3, actions=[torch.tensor([0, 1, 2])])
    assert log_prob.exp().tolist() == pytest.approx(probabilities, abs=1e-6)
    p = torch.tensor(probabilities, dtype=torch.float64)
    assert entropy.tolist() == pytest.approx([float(-(p * p.log()).sum())] * 3, abs=1e-5)


def test_skip_sigmoids_take_the_shaped_logit_once():
    """sigmoid(C * tanh(u / T)) at an anchor point, u = v^T tanh(W_prev h_0 + W_curr h_1) (Sec. 3.3)."""
    space = build_space({"type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [8],
                         "always_connect_previous": False, "depth": {"start": 2, "step": 0, "every": 1, "max": 2}})
    search = ReinforceSearch(space, seed=5, config={"init_range": 1.0, "temperature": 0.5, "tanh_constant": 1.5})
    c: Controller = search.controller
    with torch.no_grad():
        state = [(torch.zeros(1, c.hidden_size), torch.zeros(1, c.hidden_size)) for _ in c.lstm]
        h0 = c._lstm_step(c.start.view(1, -1), state)
        h1 = c._lstm_step(torch.zeros(1, c.hidden_size), state)
        u = c.attn_v(torch.tanh(c.attn_prev(h0) + c.attn_curr(h1))).item()
    log_prob, _ = search.score([space.decode(space.steps(), [(), (1,)])])
    assert float(log_prob.detach().exp()) == pytest.approx(1 / (1 + math.exp(-1.5 * math.tanh(u / 0.5))), rel=1e-5)
    assert abs(u) > 0.1  # a logit far enough from 0 that applying T or C twice changes the probability
