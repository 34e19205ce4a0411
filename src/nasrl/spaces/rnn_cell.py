"""The recurrent-cell search space of Zoph & Le (2017), Sec. 3.4 and Fig. 5.

The cell is a full binary tree over ``base`` leaves. Nodes are numbered leaves first
(0..base-1), then each internal level left to right, so the root has the largest index
(2*base - 2) and its output is h_t. Internal node ``base + j`` combines nodes ``2j`` and
``2j + 1``. For every node the controller emits a combination and an activation; then the
"cell inject" pair (how c_{t-1} merges into a node), then the two "cell indices": which
node's pre-activation becomes c_t, and which node's output receives c_{t-1}.

Architecture value (the Fig. 5 example, base 2)::

    {"space": "rnn_cell", "base": 2,
     "nodes": [{"combination": "add", "activation": "tanh"},
               {"combination": "elem_mult", "activation": "relu"},
               {"combination": "elem_mult", "activation": "sigmoid"}],
     "cell_inject": {"combination": "add", "activation": "relu"},
     "cell_indices": {"new_memory": 1, "inject": 0}}

Both cell indices range over every node (15 x 15 pairs at base 8); the paper's estimate
of ~6x10^16 cells counts ~210 pairs, which suggests distinct nodes, but nothing breaks
when they coincide (c_t reads a pre-activation, the injection rewrites an output).
"""

from __future__ import annotations

from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.spaces.base import SearchSpace, check_choice_list, check_exact_fields, check_keys, choice_index
from nasrl.spaces.steps import Action, Categorical, Step

# Sec. 3.4: combinations {add, elem_mult}, activations {identity, tanh, sigmoid, relu}, base 8.
# Control experiment 1 (Sec. 4.2) adds "max" and "sin".
COMBINATIONS = ("add", "elem_mult", "max")
ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "sin")
DEFAULT_SPEC: dict[str, Any] = {
    "type": "rnn_cell",
    "base": 8,
    "combinations": ["add", "elem_mult"],
    "activations": ["identity", "tanh", "sigmoid", "relu"],
}
PAIR_FIELDS = {"combination", "activation"}


def tree_children(base: int) -> dict[int, tuple[int, int]]:
    """Children of every internal node of the base-``base`` tree (see module docstring)."""
    children: dict[int, tuple[int, int]] = {}
    level, next_index = list(range(base)), base
    while len(level) > 1:
        parents = []
        for j in range(0, len(level), 2):
            children[next_index] = (level[j], level[j + 1])
            parents.append(next_index)
            next_index += 1
        level = parents
    return children


class RnnCellSpace(SearchSpace):
    type = "rnn_cell"

    @classmethod
    def brief(cls, arch: dict[str, Any]) -> str:
        ops = "/".join(sorted({n["combination"] for n in arch["nodes"]}))
        return (f"base {arch['base']} cell ({ops}), inject {arch['cell_indices']['inject']}, "
                f"memory {arch['cell_indices']['new_memory']}")

    @classmethod
    def smallest_containing(cls, arch: dict[str, Any]) -> RnnCellSpace:
        """The space of the architecture's base with every combination and activation."""
        return cls({"type": "rnn_cell", "base": arch.get("base"), "combinations": list(COMBINATIONS),
                    "activations": list(ACTIVATIONS)})

    def __init__(self, spec: dict[str, Any]):
        spec = check_keys(spec, DEFAULT_SPEC, "rnn_cell space")
        base = spec["base"]
        if not isinstance(base, int) or isinstance(base, bool) or base < 2 or base & (base - 1):
            raise ArchitectureError(f"rnn_cell space.base: expected a power of two >= 2, got {base!r}")
        for key, known in (("combinations", COMBINATIONS), ("activations", ACTIVATIONS)):
            values = check_choice_list(spec[key], f"rnn_cell space.{key}", str)
            unknown = [v for v in values if v not in known]
            if unknown:
                raise ArchitectureError(f"rnn_cell space.{key}: unknown {unknown}; expected some of {list(known)}")
        super().__init__(spec)
        self.num_nodes = 2 * base - 1

    def decision_kinds(self) -> dict[str, int]:
        return {
            "combination": len(self.spec["combinations"]),
            "activation": len(self.spec["activations"]),
            "cell_index": self.num_nodes,
        }

    def steps(self, samples_seen: int = 0) -> list[Step]:
        comb, act = tuple(self.spec["combinations"]), tuple(self.spec["activations"])
        nodes = tuple(range(self.num_nodes))
        steps: list[Step] = []
        for k in range(self.num_nodes):
            steps += [Categorical(f"node_{k}.combination", "combination", comb),
                      Categorical(f"node_{k}.activation", "activation", act)]
        steps += [Categorical("cell_inject.combination", "combination", comb),
                  Categorical("cell_inject.activation", "activation", act),
                  Categorical("cell_indices.new_memory", "cell_index", nodes),
                  Categorical("cell_indices.inject", "cell_index", nodes)]
        return steps

    def decode(self, steps: list[Step], actions: list[Action]) -> dict[str, Any]:
        value = {step.name: step.choices[action] for step, action in zip(steps, actions)}
        pair = lambda prefix: {"combination": value[f"{prefix}.combination"], "activation": value[f"{prefix}.activation"]}  # noqa: E731
        return {
            "space": "rnn_cell",
            "base": self.spec["base"],
            "nodes": [pair(f"node_{k}") for k in range(self.num_nodes)],
            "cell_inject": pair("cell_inject"),
            "cell_indices": {"new_memory": value["cell_indices.new_memory"], "inject": value["cell_indices.inject"]},
        }

    def encode(self, arch: Any) -> tuple[list[Step], list[Action]]:
        check_exact_fields(arch, {"space", "base", "nodes", "cell_inject", "cell_indices"}, "architecture")
        if arch["space"] != "rnn_cell":
            raise ArchitectureError(f"architecture.space: expected 'rnn_cell', got {arch['space']!r}")
        if arch["base"] != self.spec["base"]:
            raise ArchitectureError(f"architecture.base: {arch['base']!r}, the space has base {self.spec['base']}")
        nodes = arch["nodes"]
        if not isinstance(nodes, list) or len(nodes) != self.num_nodes:
            raise ArchitectureError(f"architecture.nodes: expected a list of {self.num_nodes} nodes for base {self.spec['base']}")
        by_name: dict[str, int] = {}
        pairs = [(f"node_{k}", node, f"architecture.nodes[{k}]") for k, node in enumerate(nodes)]
        pairs.append(("cell_inject", arch["cell_inject"], "architecture.cell_inject"))
        for prefix, pair, where in pairs:
            check_exact_fields(pair, PAIR_FIELDS, where)
            by_name[f"{prefix}.combination"] = choice_index(pair["combination"], self.spec["combinations"], f"{where}.combination")
            by_name[f"{prefix}.activation"] = choice_index(pair["activation"], self.spec["activations"], f"{where}.activation")
        indices = arch["cell_indices"]
        check_exact_fields(indices, {"new_memory", "inject"}, "architecture.cell_indices")
        for field in ("new_memory", "inject"):
            by_name[f"cell_indices.{field}"] = choice_index(
                indices[field], list(range(self.num_nodes)), f"architecture.cell_indices.{field}"
            )
        steps = self.steps()
        return steps, [by_name[step.name] for step in steps]
