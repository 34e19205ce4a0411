"""Values from ``snakemake --config KEY=VALUE``, given the types they would have in config.yaml.

Snakemake reads a ``--config`` value that is not a plain number or boolean with YAML's base
loader, which types nothing: ``search='{"rounds": 8, "controller": {"lr": null}}'`` arrives as
``{"rounds": "8", "controller": {"lr": "null"}}``. Pydantic's lax mode reads ``"8"`` as 8, but
``"null"`` would stay text (an error for a number; a wrong value for a key such as
``child.data_dir``), and the numbers inside a free-form value (a space spec) would stay text.

:func:`type_overrides` walks the command line's values beside the settings model and reads
each text as YAML would have in config.yaml, except where the model expects text: there the
text is kept as given (an experiment named ``007`` stays ``"007"``), and ``null`` or ``~``
means None for a key that may be null. A section given as one text that is a YAML or JSON
mapping is read as that mapping. Values from config files are never touched: they were
typed by YAML already.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

NULL_WORDS = frozenset({"null", "Null", "NULL", "~"})  # YAML's spellings of null


def type_overrides(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a section of the command line's config) typed after ``model``'s fields.

    A key the model lacks keeps its value: the model reports it as unknown.
    """
    fields = model.model_fields
    return {key: _typed(fields[key].annotation, value) if key in fields else value for key, value in values.items()}


def check_sections(model: type[BaseModel], typed: Mapping[str, Any]) -> None:
    """A section that is still text did not read as a mapping: say how to write one (ValueError)."""
    for key, value in typed.items():
        field = model.model_fields.get(key)
        if isinstance(value, str) and field is not None and any(
                isinstance(b, type) and issubclass(b, BaseModel) for b in _branches(field.annotation)):
            text = value if len(value) <= 40 else value[:37] + "..."
            raise ValueError(f"{key}: expected a mapping, got {text!r}; on the command line a section is one "
                             f"YAML or JSON mapping: --config '{key}={{\"name\": value}}' (config/README.md)")


def merge_overrides(config: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Put ``overrides`` into ``config`` in place, mappings key by key, as Snakemake merges ``--config``."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            merge_overrides(config[key], value)
        else:
            config[key] = dict(value) if isinstance(value, Mapping) else value


def _typed(annotation: Any, value: Any) -> Any:
    branches = _branches(annotation)
    if isinstance(value, str):
        if type(None) in branches and value in NULL_WORDS:
            return None
        if any(_is_text(branch) for branch in branches):
            return value
        try:
            return yaml.safe_load(value)  # "8" -> 8, "true" -> True, "[0.1, 0.05]" -> a list, "{a: 1}" -> a mapping
        except yaml.YAMLError:
            return value  # the model names the key and what it expects
    if isinstance(value, Mapping):
        section = next((b for b in branches if isinstance(b, type) and issubclass(b, BaseModel)), None)
        if section is not None:
            return type_overrides(section, value)
        mapping = next((b for b in branches if get_origin(b) in (dict, Mapping)), None)
        item = get_args(mapping)[1] if mapping is not None and get_args(mapping) else Any
        return {key: _typed(item, v) for key, v in value.items()}
    if isinstance(value, list):
        sequence = next((b for b in branches if get_origin(b) is list), None)
        item = get_args(sequence)[0] if sequence is not None and get_args(sequence) else Any
        return [_typed(item, v) for v in value]
    return value


def _branches(annotation: Any) -> list[Any]:
    """The alternatives of a field's type, with ``Annotated`` and ``X | None`` unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _branches(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [branch for arg in get_args(annotation) for branch in _branches(arg)]
    return [annotation]


def _is_text(branch: Any) -> bool:
    """Whether the branch takes text as text: ``str``, or a ``Literal`` of names."""
    if branch is str:
        return True
    return get_origin(branch) is Literal and any(isinstance(arg, str) for arg in get_args(branch))
