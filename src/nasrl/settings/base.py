"""The base of every settings section, and the one line a bad value is reported in.

Every section is a pydantic model that forbids unknown keys. Values are checked in
pydantic's lax mode, so the numeric strings ``snakemake --config`` can pass (``"8"`` for an
integer) become numbers, while ``"fast"`` for a learning rate is an error. A
``ValidationError`` is never shown as pydantic prints it: :func:`one_line` turns it into one
line naming the dotted key, the value and what is allowed, read from the model's JSON schema
(the ranges the model itself enforces, so the message cannot disagree with the check), and
``from_dict`` raises that line as a ``ValueError``, which the command line prints as is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nasrl.architecture import MAX_JSON_DEPTH, read_input

# Constrained numbers shared by the sections (the JSON schema carries their ranges).
Count = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0, lt=1)]  # dropout rates, the baseline decay
UnitFloat = Annotated[float, Field(ge=0, le=1)]  # fractions of the training epochs


class Section(BaseModel):
    """A config section: unknown keys and NaN or infinite numbers are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    SECTION: ClassVar[str] = ""  # the section's dotted key in a workflow config, its messages' prefix

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, where: str | None = None) -> Self:
        """Build the section from a mapping (None: every default); ValueError in one line."""
        try:
            return cls.model_validate({} if values is None else values)
        except ValidationError as err:
            raise ValueError(one_line(err, cls, cls.SECTION if where is None else where)) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A settings file's mapping; a missing, invalid or non-mapping file is one error line."""
    path = Path(path)
    text = read_input(path, "settings")  # capped: a wrong path such as /dev/zero is one error line
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"settings file {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:  # the YAML composer recurses per level of nesting
        raise ValueError(f"settings file {path} nests lists or mappings too deeply to read; "
                         f"expected at most {MAX_JSON_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


# --- one line per ValidationError -----------------------------------------------------------


def one_line(err: ValidationError, model: type[BaseModel], where: str = "") -> str:
    """The first error of ``err`` as ``key: expected ..., got ...`` (+ how many more keys failed).

    Unknown keys come first: a misspelt key also makes its intended key look missing.
    """
    errors = sorted(err.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    lines = {}  # key -> message; a union reports each of its branches for the same key
    for error in errors:
        key, message = _describe_error(error, _schema(model), where)
        lines.setdefault(key, message)
    first, *rest = lines.values()
    return first + (f" (and {len(rest)} more)" if rest else "")


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _describe_error(error: dict[str, Any], schema: dict[str, Any], where: str) -> tuple[str, str]:
    defs = schema.get("$defs", {})
    names = [where] if where else []
    node, loc = schema, list(error["loc"])
    while loc:  # walk the schema along the error's location, as far as it names keys and items
        resolved = _resolve(node, defs)
        part = loc[0]
        if isinstance(part, str) and part in resolved.get("properties", {}):
            node = resolved["properties"][part]
            names.append(part)
        elif isinstance(part, int) and "items" in resolved:
            node = resolved["items"]
            names[-1:] = [f"{names[-1] if names else ''}[{part}]"]
        else:
            break  # an unknown key, or the tag of a union branch
        loc.pop(0)
    key = ".".join(names) or "config"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = sorted(_resolve(node, defs).get("properties", {}))
        return key, f"{key}: unknown key {loc[0]!r}; expected one of {allowed}"
    if kind == "missing":
        return key, f"{key}: missing; expected {_allowed(node, defs)}"
    if kind in ("value_error", "assertion_error"):
        message = error['msg'].split(', ', 1)[-1]
        # a nested section's own line (child.dataset's type, say) names its key already
        return key, message if message.startswith((f"{key}.", f"{key}:")) else f"{key}: {message}"
    if kind == "string_too_long":  # the value itself would be cut short: its length is what matters
        return key, f"{key}: expected {_allowed(node, defs)}, got {len(error['input'])} characters"
    return key, f"{key}: expected {_allowed(node, defs)}, got {_short(error['input'])}"


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A node's own schema: references followed, an optional value's null branch dropped."""
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
            continue
        branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) != 1:
            return node
        node = branches[0]


def _allowed(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """What a schema node accepts, in words: ``a number > 0``, ``an integer >= 1 or null`` ..."""
    if "$ref" in node:
        return "a mapping"
    if "anyOf" in node:
        words = [_allowed(b, defs) for b in node["anyOf"] if b.get("type") != "null"]
        nullable = len(words) < len(node["anyOf"])
        return " or ".join(words + (["null"] if nullable else []))
    if "oneOf" in node:  # a tagged union of sections: its branches' keys are checked one by one
        tags = sorted(node.get("discriminator", {}).get("mapping", {}))
        return f"a mapping with type {' | '.join(tags)}" if tags else "a mapping"
    if "enum" in node:
        return f"one of {node['enum']}"
    kind = node.get("type")
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        text = f"a string matching {node['pattern']}" if "pattern" in node else "a string"
        return f"{text} (at most {node['maxLength']} characters)" if "maxLength" in node else text
    if kind == "object":
        return "a mapping"
    if kind == "array":
        noun = "a non-empty list" if node.get("minItems") else "a list"
        return f"{noun} (items: {_allowed(node['items'], defs)})" if "items" in node else noun
    if kind in ("integer", "number"):
        return ("an integer" if kind == "integer" else "a number") + _range(node)
    return "a value"


def _range(node: dict[str, Any]) -> str:
    low = ("[", node["minimum"]) if "minimum" in node else ("(", node.get("exclusiveMinimum"))
    high = ("]", node["maximum"]) if "maximum" in node else (")", node.get("exclusiveMaximum"))
    if low[1] is not None and high[1] is not None:
        return f" in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low[1] is not None:
        return f" {'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high[1] is not None:
        return f" {'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
