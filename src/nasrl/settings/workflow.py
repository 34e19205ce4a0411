"""The whole workflow config, and the settings files its steps read.

``workflow/rules/common.smk`` calls :func:`validate_workflow_config` once, before any rule is
defined: a bad config stops ``snakemake`` with one line, and every default is filled in, so
the rules read resolved values. Each step then reads only its own file,
``results/{experiment}/settings/{section}.yaml`` (:func:`settings_files`), so that editing,
say, the final grid does not touch the inputs of already trained children.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, field_validator

from nasrl.errors import SettingsError
from nasrl.layout import COMPARED

from nasrl.settings.base import Section
from nasrl.settings.child import ChildConfig
from nasrl.settings.final import FinalSettings
from nasrl.settings.overrides import check_sections, merge_overrides, type_overrides
from nasrl.settings.plan_checks import check_plan
from nasrl.settings.search import SearchSettings


class TrackingSettings(Section):
    """MLflow tracking of the search: a view of the result files (docs/tracking.md)."""

    SECTION = "tracking"

    enabled: bool = True  # log the search, its children and final runs to MLflow
    uri: str | None = None  # None: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory
    registered_model: str | None = None  # Model Registry name of the best final model; None: nasrl-{experiment}
    # Each child run's architecture.svg: about 0.1-0.2 s per child in its round's update (3 minutes
    # for a round of 800 children); off keeps architecture.json alone.
    child_diagrams: bool = True


EXPERIMENT_MAX_LENGTH = 200  # characters, ASCII by the pattern: bytes of a file name


class WorkflowConfig(Section):
    # Names results/{experiment}/ and logs/{experiment}/: one folder name, so no "/", and no
    # leading dot ("." and ".." would write beside or above the results folder). A file name
    # holds at most 255 bytes, and the longest one made from the experiment, the random
    # control's run lock {experiment}-random.lock, adds 12 (MLflow's experiment and model
    # names hold 256 characters, nasrl-{experiment}-random adds 13): 200 leaves room.
    experiment: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$", max_length=EXPERIMENT_MAX_LENGTH)]
    search: SearchSettings
    child: ChildConfig = Field(default_factory=ChildConfig)
    final: FinalSettings = Field(default_factory=FinalSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)

    @field_validator("experiment")
    @classmethod
    def _not_the_compare_folder(cls, name: str) -> str:
        # results/compare/ holds every search's DVC files (nasrl.layout), so no search writes there.
        if name == COMPARED:
            raise ValueError(f"'{COMPARED}' names results/{COMPARED}/, the folder of every search's DVC files; "
                             "expected another experiment name")
        return name


def validate_workflow_config(config: dict[str, Any], overrides: Mapping[str, Any] | None = None) -> WorkflowConfig:
    """Check a workflow config (ValueError in one line) and fill in its defaults, in place.

    ``overrides``: the command line's ``--config`` values, already merged into ``config`` as
    untyped text; they are typed as config.yaml would type them first (``overrides.py``). The
    checks that need the space or the data follow (``plan_checks.py``).
    """
    if overrides:
        typed = type_overrides(WorkflowConfig, overrides)
        check_sections(WorkflowConfig, typed)
        merge_overrides(config, typed)
    settings = WorkflowConfig.from_dict(config)
    check_plan(settings.search, settings.child)
    if settings.final.within_budget and settings.child.reward.cost is None:
        raise SettingsError("final.within_budget: there is no budget without a cost-aware reward; expected "
                            "child.reward.cost (measure and target) with it, or final.within_budget false")
    if settings.search.updates == "async" and settings.child.early_stopping.enabled:
        raise SettingsError("child.early_stopping: its reference curves are those of the rounds before a round, and "
                            "asynchronous updates have no rounds; expected child.early_stopping.enabled false with "
                            "search.updates async, or updates rounds")
    config.clear()
    config.update(settings.model_dump())
    return settings


def settings_files(settings: WorkflowConfig) -> dict[str, dict[str, Any]]:
    """The content of each ``settings/{name}.yaml``.

    ``child`` holds what changes a child's result and ``runtime`` where it runs (accelerator,
    threads): the training rules read ``runtime`` as an ``ancient()`` input, so a change to it
    rewrites that file alone and retrains nothing.
    """
    return {
        "search": settings.search.to_dict(),
        "child": settings.child.result_dict(),
        "runtime": settings.child.runtime_dict(),
        "final": settings.final.to_dict(),
    }
