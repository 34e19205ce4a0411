"""Tree cell and language model: the NAS cell against its equations (docs/paper.md Sec. 5.3, 6.2)."""

import random

import pytest
import torch

from nasrl.models import CellLanguageModel, TreeCell
from nasrl.models.language_model import sequence_dropout
from nasrl.spaces.presets import preset_architecture
from nasrl.spaces.rnn_cell import tree_children



@pytest.fixture(autouse=True)
def float64():
    """Exact-equation checks at a tight tolerance; the default dtype is restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def projections(cell, x, h):
    """X = x W_x and Hm = h W_h (+ b), split into ``base`` chunks (TF NASCell layout)."""
    X = x @ cell.input_proj.weight.T
    Hm = h @ cell.recurrent_proj.weight.T
    if cell.recurrent_proj.bias is not None:
        Hm = Hm + cell.recurrent_proj.bias
    return X.chunk(cell.base, dim=1), Hm.chunk(cell.base, dim=1)


def nas_cell_equations(cell, x, state):
    """docs/paper.md Sec. 6.2 written out, as in TensorFlow's NASCell.call."""
    m_prev, c_prev = state
    (x0, x1, x2, x3, x4, x5, x6, x7), (h0, h1, h2, h3, h4, h5, h6, h7) = projections(cell, x, m_prev)
    l0, l1 = torch.sigmoid(x0 + h0), torch.relu(x1 + h1)
    l2, l3 = torch.sigmoid(x2 + h2), torch.relu(x3 * h3)
    l4, l5 = torch.tanh(x4 + h4), torch.sigmoid(x5 + h5)
    l6, l7 = torch.tanh(x6 + h6), torch.sigmoid(x7 + h7)
    q0, q1 = torch.tanh(l0 * l1), torch.tanh(l2 + l3)
    q2, q3 = torch.tanh(l4 * l5), torch.sigmoid(l6 + l7)
    q0 = torch.tanh(q0 + c_prev)  # cell inject
    c_t = q0 * q1
    r1 = torch.tanh(q2 + q3)
    m_t = torch.tanh(c_t * r1)
    return m_t, c_t


def figure5_equations(cell, x, state):
    """docs/paper.md Sec. 5.3: the base-2 walk-through."""
    h_prev, c_prev = state
    (w1x, w3x), (w2h, w4h) = projections(cell, x, h_prev)
    a0 = torch.tanh(w1x + w2h)
    a1 = torch.relu(w3x * w4h)
    a0 = torch.relu(a0 + c_prev)  # cell inject (add, relu) into node 0
    return torch.sigmoid(a0 * a1), w3x * w4h  # h_t; c_t = node 1 before its ReLU


def run_against(reference, arch, bias, steps=5, batch=3, d_in=5, hidden=4):
    torch.manual_seed(0)
    cell = TreeCell(arch, d_in, hidden, bias=bias)
    if bias:
        torch.nn.init.normal_(cell.recurrent_proj.bias)  # nonzero, so the check can see it
    state = ref_state = (torch.randn(batch, hidden), torch.randn(batch, hidden))
    for _ in range(steps):
        x = torch.randn(batch, d_in)
        h, state = cell(x, state)
        ref_h, ref_c = reference(cell, x, ref_state)
        ref_state = (ref_h, ref_c)
        torch.testing.assert_close(h, ref_h)
        torch.testing.assert_close(state[0], ref_h)
        torch.testing.assert_close(state[1], ref_c)


@pytest.mark.parametrize("bias", [False, True])
def test_nas_cell_preset_computes_the_tensorflow_equations(bias):
    arch, _ = preset_architecture("rnn_nas_cell")
    run_against(nas_cell_equations, arch, bias)


@pytest.mark.parametrize("bias", [False, True])
def test_figure5_cell_computes_its_walk_through(bias):
    arch, _ = preset_architecture("rnn_figure5")
    run_against(figure5_equations, arch, bias)


def test_nas_cell_parameter_count_is_8h_times_inputs_plus_hidden():
    arch, _ = preset_architecture("rnn_nas_cell")
    cell = TreeCell(arch, input_size=6, hidden_size=5)
    assert sum(p.numel() for p in cell.parameters()) == 8 * 5 * (6 + 5)  # docs/paper.md Sec. 6.3


OPS = {"add": torch.add, "elem_mult": torch.mul, "max": torch.maximum}
ACTS = {"identity": lambda v: v, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "sin": torch.sin}


def node_by_node(cell, x, state, arch):
    """A slow reference: one node at a time, straight from the space's definition."""
    h_prev, c_prev = state
    xs, hs = projections(cell, x, h_prev)
    base, idx = arch["base"], arch["cell_indices"]
    inject = lambda v: ACTS[arch["cell_inject"]["activation"]](OPS[arch["cell_inject"]["combination"]](v, c_prev))  # noqa: E731
    pre, out = {}, {}
    for k in range(2 * base - 1):
        node = arch["nodes"][k]
        a, b = (xs[k], hs[k]) if k < base else (out[tree_children(base)[k][0]], out[tree_children(base)[k][1]])
        pre[k] = OPS[node["combination"]](a, b)
        out[k] = ACTS[node["activation"]](pre[k])
        if k == idx["inject"]:
            out[k] = inject(out[k])
    return out[2 * base - 2], pre[idx["new_memory"]]


@pytest.mark.parametrize("seed", range(6))
def test_random_extended_cells_match_a_node_by_node_reference(seed):
    rng = random.Random(seed)
    base = rng.choice([2, 4, 8])
    pair = lambda: {"combination": rng.choice(list(OPS)), "activation": rng.choice(list(ACTS))}  # noqa: E731
    n = 2 * base - 1
    arch = {"space": "rnn_cell", "base": base, "nodes": [pair() for _ in range(n)], "cell_inject": pair(),
            # seed 0 injects into the root, seed 1 reads c_t from the injected node itself
            "cell_indices": {"new_memory": 1 if seed == 1 else rng.randrange(n),
                             "inject": n - 1 if seed == 0 else (1 if seed == 1 else rng.randrange(n))}}
    run_against(lambda cell, x, state: node_by_node(cell, x, state, arch), arch, bias=seed % 2 == 1)


def test_forward_sequence_equals_step_by_step():
    arch, _ = preset_architecture("rnn_nas_cell")
    cell = TreeCell(arch, 5, 4)
    xs, state = torch.randn(2, 6, 5), cell.init_state(2)
    outputs, final = cell.forward_sequence(xs, state)
    for t in range(6):
        h, state = cell(xs[:, t], state)
        torch.testing.assert_close(outputs[:, t], h)
    torch.testing.assert_close(final[1], state[1])


def test_unknown_operation_is_rejected():
    arch, _ = preset_architecture("rnn_figure5")
    arch["nodes"][2]["activation"] = "softplus"
    with pytest.raises(ValueError, match="unknown combination/activation"):
        TreeCell(arch, 3, 3)


def make_lm(**kwargs):
    arch, _ = preset_architecture("rnn_nas_cell")
    torch.manual_seed(0)
    return CellLanguageModel(arch, **{"vocab_size": 11, "embedding_size": 6, "hidden_size": 5, **kwargs})


def test_language_model_shapes_and_state():
    model = make_lm(num_layers=3)
    logits, state = model(torch.randint(0, 11, (2, 7)))
    assert logits.shape == (2, 7, 11)
    assert len(state) == 3 and all(h.shape == c.shape == (2, 5) for h, c in state)
    assert model.cells[0].input_proj.in_features == 6 and model.cells[1].input_proj.in_features == 5
    logits.sum().backward()  # training mode: both dropouts active
    assert all(p.grad is not None for p in model.parameters())


def test_state_carries_over_between_segments():
    model = make_lm().eval()
    tokens = torch.randint(0, 11, (2, 8))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :5])
    second, _ = model(tokens[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    restarted, _ = model(tokens[:, 5:])
    assert not torch.allclose(restarted, second)


def test_tied_weights_share_one_parameter():
    model = make_lm(embedding_size=5, tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    untied = make_lm(embedding_size=5)
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in model.parameters()) == 11 * 5


def test_tying_mismatched_sizes_raises():
    with pytest.raises(ValueError, match="embedding_size == hidden_size"):
        make_lm(embedding_size=6, hidden_size=5, tie_weights=True)


def test_dropout_masks_are_shared_over_time_and_off_in_eval():
    x = torch.ones(4, 9, 16)
    dropped = sequence_dropout(x, 0.5, training=True)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # one mask per (sequence, unit)
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(sequence_dropout(x, 0.5, training=False), x)
    model = make_lm(dropout=0.3, embedding_dropout=0.2).eval()
    tokens = torch.randint(0, 11, (2, 4))
    torch.testing.assert_close(model(tokens)[0], model(tokens)[0])


def test_recurrent_mask_scales_what_the_recurrence_reads_at_every_step_but_not_the_state():
    arch, _ = preset_architecture("rnn_nas_cell")
    torch.manual_seed(1)
    cell = TreeCell(arch, 5, 4)
    xs, h0, c0 = torch.randn(3, 6, 5), torch.randn(3, 4), torch.randn(3, 4)
    mask = torch.bernoulli(torch.full((3, 4), 0.5)) * 2
    outputs, (h, c) = cell.forward_sequence(xs, (h0, c0), mask)
    state, expected = (h0, c0), []
    for t in range(6):  # the same mask on h_{t-1} at every step; the state handed on is unmasked
        out, state = cell(xs[:, t], (state[0] * mask, state[1]))
        expected.append(out)
    torch.testing.assert_close(outputs, torch.stack(expected, dim=1))
    torch.testing.assert_close(h, outputs[:, -1])
    unmasked, _ = cell.forward_sequence(xs, (h0, c0))
    assert not torch.allclose(unmasked, outputs)


def test_language_model_draws_one_recurrent_mask_per_layer_and_sequence_shared_over_time(monkeypatch):
    model = make_lm(dropout=0.0, embedding_dropout=0.0, recurrent_dropout=0.5)
    drawn = []
    original = CellLanguageModel._recurrent_mask

    def record(self, h):
        mask = original(self, h)
        drawn.append(mask)
        return mask

    monkeypatch.setattr(CellLanguageModel, "_recurrent_mask", record)
    tokens = torch.randint(0, 11, (4, 9))
    logits, _ = model(tokens)
    assert len(drawn) == 2 and all(m.shape == (4, 5) for m in drawn)  # one [B, H] mask per layer
    assert all(set(m.unique().tolist()) <= {0.0, 2.0} for m in drawn)
    x = model.embedding(tokens)  # the same forward pass, the recorded masks applied by hand
    for cell, mask in zip(model.cells, drawn):
        x, _ = cell.forward_sequence(x, cell.init_state(4), mask)
    torch.testing.assert_close(logits, model.decoder(x))
    drawn.clear()
    model.eval()
    torch.testing.assert_close(model(tokens)[0], model(tokens)[0])
    assert drawn == [None] * 4  # two passes, two layers: no recurrent dropout when evaluating


def test_init_range_draws_every_weight_from_the_given_interval():
    model = make_lm(vocab_size=50, embedding_size=20, hidden_size=20, init_range=0.05)
    for name, parameter in model.named_parameters():
        assert parameter.abs().max() <= 0.05, name
        assert parameter.abs().max() > 0.04, name  # drawn over the interval, not left at zero
    default = make_lm(vocab_size=50, embedding_size=20, hidden_size=20)
    assert default.cells[0].input_proj.weight.abs().max() > 0.1  # PyTorch's default: up to 1/sqrt(20)
    assert torch.count_nonzero(default.decoder.bias) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"recurrent_dropout": 1.0}, "recurrent_dropout: expected a probability in"),
    ({"init_range": 0.0}, "init_range: expected a number > 0"),
])
def test_bad_regularisation_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_lm(**kwargs)
