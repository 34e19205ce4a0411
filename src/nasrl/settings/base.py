"""The base of every settings section, and the one line a bad value is reported in.

Every section is a pydantic model that forbids unknown keys. Values are checked in
pydantic's lax mode, so the numeric strings ``snakemake --config`` can pass (``"8"`` for an
integer) become numbers, while ``"fast"`` for a learning rate is an error. A
``ValidationError`` is never shown as pydantic prints it: :func:`one_line` turns its first
error into one line, ``key: message, got value``, from pydantic's own ``loc`` (dotted, after the
section's key) and ``msg``, and ``from_dict`` raises that line as a ``ValueError``, which the
command line prints as is. An unknown key is checked before the section's fields, so a
misspelt key is reported as such, with the keys the section has, and not as its intended key
missing. A check across a section's keys is a model validator of that section.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nasrl.architecture import MAX_JSON_DEPTH, read_input
from nasrl.errors import SettingsError

# Constrained numbers shared by the sections.
Count = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0, lt=1)]  # dropout rates, the baseline decay
UnitFloat = Annotated[float, Field(ge=0, le=1)]  # fractions of the training epochs


class Section(BaseModel):
    """A config section: unknown keys and NaN or infinite numbers are errors."""

    # extra="forbid" keeps the JSON schema closed; _known_keys reports an unknown key first.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    SECTION: ClassVar[str] = ""  # the section's dotted key in a workflow config, its messages' prefix

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, values: Any) -> Any:
        """An unknown key, with the keys allowed: checked first, as a misspelt key would also make
        its intended key look missing."""
        if isinstance(values, Mapping):
            unknown = [key for key in values if key not in cls.model_fields]
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}; expected one of {sorted(cls.model_fields)}")
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, where: str | None = None) -> Self:
        """Build the section from a mapping (None: every default); SettingsError in one line."""
        values = {} if values is None else values
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise SettingsError(one_line(err, values, cls.SECTION if where is None else where)) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A settings file's mapping; a missing, invalid or non-mapping file is one error line."""
    path = Path(path)
    text = read_input(path, "settings")  # capped: a wrong path such as /dev/zero is one error line
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SettingsError(f"settings file {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:  # the YAML composer recurses per level of nesting
        raise SettingsError(f"settings file {path} nests lists or mappings too deeply to read; "
                         f"expected at most {MAX_JSON_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping")
    return data


# --- one line per ValidationError -----------------------------------------------------------


def one_line(err: ValidationError, values: Any, where: str = "") -> str:
    """The first failing key of ``err`` as ``key: message, got value`` (+ how many more keys failed).

    ``values``: what was validated, to tell the keys in an error's ``loc`` from the names pydantic
    gives a union's branches there. The branches of a union fail together, under one key: their
    messages are joined (``a valid dictionary or a valid string``).
    """
    failed: dict[str, list[dict[str, Any]]] = {}
    for error in err.errors(include_url=False):
        failed.setdefault(_key(error, values, where), []).append(error)
    (key, errors), *rest = failed.items()
    return _line(key, errors) + (f" (and {len(rest)} more)" if rest else "")


def _key(error: dict[str, Any], values: Any, where: str) -> str:
    """The dotted key of an error's ``loc`` in ``values``: names as ``a.b``, list items as ``[i]``."""
    key, value, loc = where, values, error["loc"]
    for place, part in enumerate(loc):
        held = isinstance(value, Mapping) and part in value or \
            isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if not held and not (error["type"] == "missing" and place == len(loc) - 1):
            continue  # the name of a union's branch (str, literal[...], a tag), not a key of the input
        key = (f"{key}.{part}" if key else part) if isinstance(part, str) else f"{key}[{part}]"
        value = value[part] if held else None
    return key or "config"


def _line(key: str, errors: list[dict[str, Any]]) -> str:
    messages = [error["msg"].removeprefix("Value error, ") for error in errors]
    message = " or ".join([messages[0], *(text.removeprefix("Input should be ") for text in messages[1:])])
    if errors[0]["type"] == "value_error":  # a check's own words, which say what they got
        # a section's check across its keys names the key it is about (child.early_stopping.min_epochs)
        return message if message.startswith((f"{key}.", f"{key}:")) else f"{key}: {message}"
    if errors[0]["type"] == "missing":
        return f"{key}: {message}"
    return f"{key}: {message}, got {_short(errors[0]['input'], errors[0]['type'])}"


def _short(value: Any, kind: str) -> str:
    """The value as given (cut short), or a text's length where its length is what is wrong."""
    if kind == "string_too_long" and isinstance(value, str):
        return f"{len(value)} characters"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
