"""What every search space provides, and the checks shared by their spec parsers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from nasrl.architecture import ArchitectureError, canonical_json, content_key
from nasrl.spaces.steps import Action, Step


class SearchSpace(ABC):
    """A sequence of categorical decisions plus a decoder from decisions to architectures.

    Subclasses define ``type`` (the value of an architecture's ``"space"`` field), parse
    their spec in ``__init__`` and implement :meth:`steps`, :meth:`decode` and
    :meth:`encode`. ``encode`` is the validator: it names the offending field of an
    architecture that is malformed or outside the space.
    """

    type: str

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec  # the full spec, defaults filled in: part of the controller state

    @property
    def key(self) -> str:
        """Content key of the spec; saved controller states are tied to it."""
        return content_key(self.spec)

    @abstractmethod
    def decision_kinds(self) -> dict[str, int]:
        """Every categorical decision kind the space can emit, with its number of choices."""

    @abstractmethod
    def steps(self, samples_seen: int = 0) -> list[Step]:
        """The step sequence for the next architecture after ``samples_seen`` samples."""

    @abstractmethod
    def decode(self, steps: list[Step], actions: list[Action]) -> dict[str, Any]:
        """Turn one action per step into an architecture value."""

    @abstractmethod
    def encode(self, arch: Any) -> tuple[list[Step], list[Action]]:
        """Turn an architecture back into its steps and actions, or raise ArchitectureError."""

    def validate(self, arch: Any) -> dict[str, Any]:
        """Check ``arch`` belongs to this space; return its canonical form."""
        steps, actions = self.encode(arch)
        canonical = self.decode(steps, actions)
        if canonical_json(canonical) != canonical_json(arch):
            raise ArchitectureError(
                f"{self.type} architecture is not in canonical form; expected {canonical_json(canonical)}"
            )
        return canonical

    @classmethod
    def brief(cls, arch: dict[str, Any]) -> str:
        """A few words about an architecture of this kind, read from the value alone (``nasrl show``)."""
        decisions = arch.get("decisions")
        return " ".join(f"{k}={v}" for k, v in decisions.items()) if isinstance(decisions, dict) else str(arch)[:60]

    @classmethod
    def grown_depth(cls, arch: dict[str, Any]) -> int | None:
        """The depth a depth schedule grows (Sec. 4.1), None for a kind without one."""
        return None

    @classmethod
    def smallest_containing(cls, arch: dict[str, Any]) -> SearchSpace:
        """The default space of this kind widened just enough to contain ``arch``, for an
        architecture that comes without its space (``nasrl describe``, ``nasrl draw``)."""
        raise ArchitectureError(f"architecture.space: a {cls.type} architecture cannot be checked without its space")

    def describe_decisions(self, arch: dict[str, Any]) -> dict[str, Any]:
        """The decisions of ``arch`` as a flat name -> value mapping (for tables and params)."""
        steps, actions = self.encode(arch)
        flat: dict[str, Any] = {}
        for step, action in zip(steps, actions):
            if hasattr(step, "choices"):
                flat[step.name] = step.choices[action]
            else:
                flat[step.name] = [c for c, bit in zip(step.candidates, action) if bit]
        return flat


# --- spec parsing helpers -----------------------------------------------------------------


def check_keys(spec: dict[str, Any], allowed: dict[str, Any], where: str) -> dict[str, Any]:
    """Fill defaults into ``spec`` and reject unknown keys, naming them."""
    if not isinstance(spec, dict):
        raise ArchitectureError(f"{where}: expected a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ArchitectureError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    return {**allowed, **spec}


def check_choice_list(values: Any, where: str, item_type: type | tuple = int) -> list:
    """A non-empty list of distinct values of ``item_type``."""
    if not isinstance(values, list) or not values:
        raise ArchitectureError(f"{where}: expected a non-empty list, got {values!r}")
    for v in values:
        if not isinstance(v, item_type) or isinstance(v, bool):
            raise ArchitectureError(f"{where}: {v!r} has the wrong type; expected {item_type}")
    if len(set(map(canonical_json, values))) != len(values):
        raise ArchitectureError(f"{where}: choices must be distinct, got {values!r}")
    return list(values)


def check_field(obj: Any, name: str, where: str) -> Any:
    """``obj[name]``, with an error naming ``where.name`` when it is missing."""
    if not isinstance(obj, dict):
        raise ArchitectureError(f"{where}: expected an object, got {type(obj).__name__}")
    if name not in obj:
        raise ArchitectureError(f"{where}.{name}: missing")
    return obj[name]


def check_exact_fields(obj: Any, names: set[str], where: str) -> None:
    """``obj`` is an object with exactly the fields ``names``."""
    if not isinstance(obj, dict):
        raise ArchitectureError(f"{where}: expected an object, got {type(obj).__name__}")
    missing = sorted(names - set(obj))
    if missing:
        raise ArchitectureError(f"{where}.{missing[0]}: missing")
    extra = sorted(set(obj) - names)
    if extra:
        raise ArchitectureError(f"{where}.{extra[0]}: unknown field; expected only {sorted(names)}")


def choice_index(value: Any, choices: tuple | list, where: str) -> int:
    """Index of ``value`` in ``choices`` (type-exact: 3 is not "3", True is not 1)."""
    for i, c in enumerate(choices):
        if type(c) is type(value) and c == value:
            return i
    raise ArchitectureError(f"{where}: {value!r} is not one of {list(choices)}")
