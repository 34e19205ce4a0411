"""A tabular search space: named decisions whose joined values are looked up in a table.

Used to measure the search algorithm itself against published results (NAS-Bench-style
tables) without training anything. Spec (YAML or JSON)::

    type: tabular              # optional in a file given to `nasrl bench --space`
    decisions:
      - {name: l0, choices: ["0", "1", "2"]}
      - {name: l1, choices: ["0", "1", "2"], kind: layer_op}   # kind: optional shared head
    key: "{l0}{l1}"

Architecture value: ``{"space": "tabular", "decisions": {"l0": "2", "l1": "0"}}``; its
table key is ``key`` with every ``{name}`` replaced by the chosen value.
"""

from __future__ import annotations

import string
from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.spaces.base import SearchSpace, check_choice_list, check_exact_fields, check_keys, choice_index
from nasrl.spaces.steps import Action, Categorical, Step

DEFAULT_SPEC: dict[str, Any] = {"type": "tabular", "decisions": None, "key": None}
DECISION_DEFAULTS: dict[str, Any] = {"name": None, "choices": None, "kind": None}


class TabularSpace(SearchSpace):
    type = "tabular"

    def __init__(self, spec: dict[str, Any]):
        spec = check_keys(spec, DEFAULT_SPEC, "tabular space")
        decisions = spec["decisions"]
        if not isinstance(decisions, list) or not decisions:
            raise ArchitectureError("tabular space.decisions: expected a non-empty list of {name, choices}")
        parsed = []
        for i, d in enumerate(decisions):
            where = f"tabular space.decisions[{i}]"
            d = check_keys(d, DECISION_DEFAULTS, where)
            if not isinstance(d["name"], str) or not d["name"].isidentifier():
                raise ArchitectureError(f"{where}.name: expected an identifier, got {d['name']!r}")
            choices = check_choice_list(d["choices"], f"{where}.choices", (str, int, float))
            kind = d["kind"] if d["kind"] is not None else d["name"]
            parsed.append({"name": d["name"], "choices": choices, "kind": kind})
        names = [d["name"] for d in parsed]
        if len(set(names)) != len(names):
            raise ArchitectureError(f"tabular space.decisions: names must be distinct, got {names}")
        kinds: dict[str, int] = {}
        for d in parsed:
            if kinds.setdefault(d["kind"], len(d["choices"])) != len(d["choices"]):
                raise ArchitectureError(f"tabular space.decisions: kind {d['kind']!r} is shared by decisions with different numbers of choices")
        key = spec["key"]
        if not isinstance(key, str):
            raise ArchitectureError("tabular space.key: expected a template string such as '{l0}{l1}'")
        fields = [f for _, f, fmt, conv in string.Formatter().parse(key) if f is not None]
        for f in fields:
            if f not in names:
                raise ArchitectureError(f"tabular space.key: field {{{f}}} is not a decision name; expected some of {names}")
        super().__init__({"type": "tabular", "decisions": parsed, "key": key})
        self._kinds = kinds

    def decision_kinds(self) -> dict[str, int]:
        return dict(self._kinds)

    def steps(self, samples_seen: int = 0) -> list[Step]:
        return [Categorical(d["name"], d["kind"], tuple(d["choices"])) for d in self.spec["decisions"]]

    def decode(self, steps: list[Step], actions: list[Action]) -> dict[str, Any]:
        return {"space": "tabular", "decisions": {s.name: s.choices[a] for s, a in zip(steps, actions)}}

    def encode(self, arch: Any) -> tuple[list[Step], list[Action]]:
        check_exact_fields(arch, {"space", "decisions"}, "architecture")
        if arch["space"] != "tabular":
            raise ArchitectureError(f"architecture.space: expected 'tabular', got {arch['space']!r}")
        steps = self.steps()
        check_exact_fields(arch["decisions"], {s.name for s in steps}, "architecture.decisions")
        actions = [choice_index(arch["decisions"][s.name], s.choices, f"architecture.decisions.{s.name}") for s in steps]
        return steps, actions

    def table_key(self, arch: dict[str, Any]) -> str:
        """The row key of ``arch`` in the results table."""
        return self.spec["key"].format(**{k: str(v) for k, v in arch["decisions"].items()})
