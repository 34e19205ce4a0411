"""The recurrent cell compiled from an ``rnn_cell`` architecture (Zoph & Le 2017, Sec. 3.4, Fig. 5).

The cell is a full binary tree (``nasrl.spaces.rnn_cell``): leaf k computes
act_k(comb_k(W_x_k x_t, W_h_k h_{t-1})), internal node ``base + j`` computes
act(comb(left, right)) of its two children with no parameters, and the root (largest
index) is h_t. The memory state follows the "cell indices" (docs/paper.md Sec. 5.2): c_t is the
pre-activation of node ``new_memory``; the output of node ``inject`` is replaced by
inject_act(inject_comb(output, c_{t-1})) before its parent reads it.

Parameters use the TensorFlow ``NASCell`` layout (docs/paper.md Sec. 6.1): one input matrix
[D_in -> base*H] and one recurrent matrix [H -> base*H], split into ``base`` chunks in leaf
order; the optional bias sits on the recurrent product only. With the ``rnn_nas_cell``
preset the cell computes exactly the equations of docs/paper.md Sec. 6.2.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from nasrl.spaces.rnn_cell import tree_children

Tensor = torch.Tensor
State = tuple[Tensor, Tensor]

# Sec. 3.4 plus control experiment 1 (max, sin). Looked up by name, never eval'd.
COMBINATIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": torch.add,
    "elem_mult": torch.mul,
    "max": torch.maximum,
}
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda x: x,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "sin": torch.sin,
}


def _groups(pairs: list[tuple[str, str]]) -> list[tuple[str, str, list[int]]]:
    """Leaf indices sharing one (combination, activation), in first-seen order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for k, pair in enumerate(pairs):
        groups.setdefault(pair, []).append(k)
    return [(comb, act, idx) for (comb, act), idx in groups.items()]


class TreeCell(nn.Module):
    """One recurrent cell of a searched tree architecture.

    Args:
        arch: ``rnn_cell`` architecture value (base, nodes, cell_inject, cell_indices).
        input_size: width D of x_t.
        hidden_size: width H of h_t and c_t.
        bias: add a bias to the recurrent product (TF ``NASCell(use_biases=...)``; off by default).

    Raises:
        ValueError: an unknown combination/activation, a wrong node count or a cell index
            outside the tree.
    """

    def __init__(self, arch: dict[str, Any], input_size: int, hidden_size: int, bias: bool = False):
        super().__init__()
        self.base, self.hidden_size = int(arch["base"]), hidden_size
        self.children_of = tree_children(self.base)  # internal node -> (left, right), ascending
        num_nodes = 2 * self.base - 1
        pairs = [(n["combination"], n["activation"]) for n in arch["nodes"]]
        pairs.append((arch["cell_inject"]["combination"], arch["cell_inject"]["activation"]))
        if len(pairs) != num_nodes + 1:
            raise ValueError(f"nodes: base {self.base} needs {num_nodes} nodes, got {len(pairs) - 1}")
        for comb, act in pairs:
            if comb not in COMBINATIONS or act not in ACTIVATIONS:
                raise ValueError(f"unknown combination/activation {comb!r}/{act!r}; "
                                 f"expected {sorted(COMBINATIONS)} / {sorted(ACTIVATIONS)}")
        self.node_ops, self.inject_op = pairs[:-1], pairs[-1]
        self.new_memory = int(arch["cell_indices"]["new_memory"])
        self.inject = int(arch["cell_indices"]["inject"])
        if not (0 <= self.new_memory < num_nodes and 0 <= self.inject < num_nodes):
            raise ValueError(f"cell_indices: expected nodes 0..{num_nodes - 1}, got {arch['cell_indices']}")
        # Leaves with the same ops are evaluated together: one combination and one activation
        # per group instead of one per leaf (the NAS cell's 8 leaves form 4 groups).
        self.leaf_groups = _groups(self.node_ops[: self.base])
        self.input_proj = nn.Linear(input_size, self.base * hidden_size, bias=False)  # TF "kernel"
        self.recurrent_proj = nn.Linear(hidden_size, self.base * hidden_size, bias=bias)  # "recurrent_kernel"

    def init_state(self, batch_size: int) -> State:
        """Zero (h, c), each [batch_size, H], on the cell's device and dtype."""
        weight = self.recurrent_proj.weight
        zeros = weight.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step.

        Args:
            x: x_t [B, D].
            state: (h_{t-1}, c_{t-1}), each [B, H].

        Returns:
            (h_t, (h_t, c_t)).
        """
        return self.step(self.input_proj(x), state)

    def forward_sequence(self, xs: Tensor, state: State, h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Run a whole sequence, projecting all inputs in one matrix product.

        Args:
            xs: [B, T, D].
            state: (h, c) before the first step, each [B, H].
            h_mask: [B, H] multiplier of h_{t-1} inside the recurrence, the same at every step
                (Gal & Ghahramani's variational dropout on the recurrent connection); None: none.

        Returns:
            (outputs [B, T, H], final (h, c)); the outputs and state are never masked.
        """
        projected = self.input_proj(xs)  # [B, T, base*H]: one GEMM instead of T small ones
        outputs = []
        for t in range(xs.shape[1]):
            h, state = self.step(projected[:, t], state, h_mask)
            outputs.append(h)
        return torch.stack(outputs, dim=1), state

    def step(self, x_proj: Tensor, state: State, h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """One time step given the already projected input W_x x_t [B, base*H]; ``h_mask`` as in
        ``forward_sequence`` (it scales what the recurrent matrix reads, not the state kept)."""
        h_prev, c_prev = state
        batch, width = h_prev.shape
        xs = x_proj.reshape(batch, self.base, width)  # [B, base, H]; chunk k feeds leaf k
        h_read = h_prev if h_mask is None else h_prev * h_mask
        hs = self.recurrent_proj(h_read).reshape(batch, self.base, width)
        pre: list[Tensor | None] = [None] * (2 * self.base - 1)
        out: list[Tensor | None] = [None] * (2 * self.base - 1)
        for comb, act, idx in self.leaf_groups:
            if len(idx) == self.base:  # every leaf alike: no gather needed
                x_k, h_k = xs, hs
            else:
                x_k, h_k = xs[:, idx], hs[:, idx]
            p = COMBINATIONS[comb](x_k, h_k)
            a = ACTIVATIONS[act](p)
            for pos, k in enumerate(idx):
                pre[k], out[k] = p[:, pos], a[:, pos]
        if self.inject < self.base:
            self._inject(out, c_prev)
        for node, (left, right) in self.children_of.items():  # ascending: children come first
            comb, act = self.node_ops[node]
            pre[node] = COMBINATIONS[comb](out[left], out[right])
            out[node] = ACTIVATIONS[act](pre[node])
            if node == self.inject:
                self._inject(out, c_prev)
        # c_t is the PRE-activation of its node, read before that node's own injection
        # (Fig. 5: c_t = W3x * W4h, node 1 before its ReLU).
        c_t = pre[self.new_memory].contiguous()  # a leaf's is a strided slice of [B, base, H]
        h_t = out[-1]  # the root; if it is the inject node, its injected output (nothing reads it later)
        return h_t, (h_t, c_t)

    def _inject(self, out: list[Tensor | None], c_prev: Tensor) -> None:
        """Replace the inject node's output by inject_act(inject_comb(output, c_{t-1}))."""
        comb, act = self.inject_op
        out[self.inject] = ACTIVATIONS[act](COMBINATIONS[comb](out[self.inject], c_prev))
