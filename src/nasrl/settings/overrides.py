"""Values from ``snakemake --config KEY=VALUE``, given the types they would have in config.yaml.

Snakemake reads a ``--config`` value that is not a plain number or boolean with YAML's base
loader, which types nothing: ``search='{"rounds": 8, "controller": {"lr": null}}'`` arrives as
``{"rounds": "8", "controller": {"lr": "null"}}``. Pydantic's lax mode reads ``"8"`` as 8, but
``"null"`` would stay text (an error for a number; a wrong value for a key such as
``child.data_dir``), and the numbers inside a free-form value (a space spec) would stay text.

:func:`type_overrides` follows the command line's values through the sections' fields and asks
each field's type (a pydantic ``TypeAdapter``, strict mode) what it takes: text the type takes
as text is kept as given (an experiment named ``007`` stays ``"007"``), ``null`` or ``~`` means
None for a key that may be null, and any other value is read as YAML reads it in config.yaml
(``"8"`` -> 8, a space spec's numbers) where the type takes the result. A section given as one
text that is a YAML or JSON mapping is read as that mapping. Values from config files are never
touched: they were typed by YAML already.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any, get_args

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from nasrl.errors import SettingsError

NULL_WORDS = frozenset({"null", "Null", "NULL", "~"})  # YAML's spellings of null


def type_overrides(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a section of the command line's config) typed after ``model``'s fields.

    A key the model lacks keeps its value: the model reports it as unknown.
    """
    fields = model.model_fields
    return {key: _typed(fields[key], value) if key in fields else value for key, value in values.items()}


def check_sections(model: type[BaseModel], typed: Mapping[str, Any]) -> None:
    """A section that is still text did not read as a mapping: say how to write one (ValueError)."""
    for key, value in typed.items():
        field = model.model_fields.get(key)
        if isinstance(value, str) and field is not None and _section(field.annotation) is not None:
            text = value if len(value) <= 40 else value[:37] + "..."
            raise SettingsError(f"{key}: expected a mapping, got {text!r}; on the command line a section is one "
                             f"YAML or JSON mapping: --config '{key}={{\"name\": value}}' (config/README.md)")


def merge_overrides(config: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Put ``overrides`` into ``config`` in place, mappings key by key, as Snakemake merges ``--config``."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            merge_overrides(config[key], value)
        else:
            config[key] = dict(value) if isinstance(value, Mapping) else value


def _typed(field: FieldInfo, value: Any) -> Any:
    section = _section(field.annotation)
    if section is not None and isinstance(value, Mapping):
        return type_overrides(section, value)  # key by key: each after its own field's type
    # pydantic keeps a field's constraints and validators (a BeforeValidator) beside its annotation
    field_type = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    if isinstance(value, str):
        if value in NULL_WORDS and _takes(field_type, None):
            return None
        if _takes(field_type, value):
            return value  # text the setting takes as text: a name, an experiment "007"
    read = _read_yaml(value)  # "8" -> 8, "[0.1, 0.05]" -> a list, "{a: 1}" -> a mapping
    # A section written as one text is read as its mapping, and the model checks its keys.
    return read if _takes(field_type, read) or section is not None and isinstance(read, Mapping) else value


def _section(annotation: Any) -> type[BaseModel] | None:
    """The section a field holds (``X`` or ``X | None``), or None."""
    return next((t for t in (annotation, *get_args(annotation)) if isinstance(t, type) and issubclass(t, BaseModel)),
                None)


def _read_yaml(value: Any) -> Any:
    """Text as YAML reads it in config.yaml, within lists and mappings too; text YAML cannot read stays text."""
    if isinstance(value, Mapping):
        return {key: _read_yaml(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_read_yaml(item) for item in value]
    try:
        return yaml.safe_load(value) if isinstance(value, str) else value
    except (yaml.YAMLError, ValueError):  # not YAML, or a date that is none (2024-13-01)
        return value  # the model names the key and what it expects


def _takes(field_type: Any, value: Any) -> bool:
    """Whether ``field_type`` takes ``value`` as it is (strict mode: no text read as a number)."""
    try:
        _adapter(field_type).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


_adapter = functools.cache(TypeAdapter)  # one adapter per field type: building one takes milliseconds
