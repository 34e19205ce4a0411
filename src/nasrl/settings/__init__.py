"""Every config section as one pydantic model: the single description of the settings.

- :mod:`~nasrl.settings.search`: ``search`` (``SearchSettings``) and its ``controller``
  (``ReinforceConfig``);
- :mod:`~nasrl.settings.child`: ``child`` (``ChildConfig``: ``optimizer``, ``language_model``,
  ``reward``, ``surrogate``), the child key and ``load_child_config``;
- :mod:`~nasrl.settings.final`: ``final`` (``FinalSettings``, its ``grid``);
- :mod:`~nasrl.settings.workflow`: ``tracking``, the whole config (``WorkflowConfig``) and the
  settings files of the workflow's steps;
- :mod:`~nasrl.settings.base`: the section base and the one-line error of a bad value (pydantic's
  own location and message);
- :mod:`~nasrl.settings.choices`: the closed sets (datasets, accelerators, precisions);
- :mod:`~nasrl.settings.overrides`: ``snakemake --config`` text typed as config.yaml would be,
  by the fields' types (a pydantic ``TypeAdapter`` per type);
- :mod:`~nasrl.settings.plan_checks`: the space built and matched with the dataset, at plan time.

A check across a section's keys (early stopping's ``min_epochs`` below ``epochs``, evolution's
tournament within its population) is a model validator of that section.

The models define the keys, their types, ranges and defaults (with the paper section each
default comes from); the workflow checks its config through them, and the strategies and
training code build their settings with them. There is no JSON schema file beside them: the
workflow no longer needs one, and a generated copy would be a second artefact to keep in
step. Tools that want one (an editor's YAML completion) can have it from
``WorkflowConfig.model_json_schema()``. ``config/README.md`` documents every key in words;
``tests/test_settings.py`` checks that it names each key with its default.

This package sits low in the layering: it imports ``nasrl.architecture`` (the child key) and,
lazily, ``nasrl.spaces`` (``SearchSettings.build_space``), nothing else of nasrl.
"""

from nasrl.settings.base import Section, one_line, read_yaml
from nasrl.settings.child import (
    ChildConfig,
    LanguageModelConfig,
    OptimizerConfig,
    RewardConfig,
    SurrogateConfig,
    child_key,
    load_child_config,
)
from nasrl.settings.final import FinalGrid, FinalSettings
from nasrl.settings.search import ReinforceConfig, SearchSettings
from nasrl.settings.workflow import TrackingSettings, WorkflowConfig, settings_files, validate_workflow_config

__all__ = [
    "ChildConfig",
    "FinalGrid",
    "FinalSettings",
    "LanguageModelConfig",
    "OptimizerConfig",
    "ReinforceConfig",
    "RewardConfig",
    "SearchSettings",
    "Section",
    "SurrogateConfig",
    "TrackingSettings",
    "WorkflowConfig",
    "child_key",
    "load_child_config",
    "one_line",
    "read_yaml",
    "settings_files",
    "validate_workflow_config",
]
