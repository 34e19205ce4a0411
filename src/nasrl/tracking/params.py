"""What a run records as params and tags: flat name -> string mappings MLflow accepts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from nasrl.spaces import space_class_of
from nasrl.spaces.steps import Anchor

PARAM_VALUE_LIMIT = 6000  # MLflow's limit on one param value


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """``{"layers": [{"filter_height": 3, "inputs": [0]}]}`` -> ``{"layers.0.filter_height": "3",
    "layers.0.inputs": "[0]"}``: nested objects become dotted names, lists of plain values stay
    one JSON value (a layer's skip inputs are one decision)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return {prefix: text[:PARAM_VALUE_LIMIT]}
    flat: dict[str, str] = {}
    for name, item in items:
        flat.update(flatten(item, f"{prefix}.{name}" if prefix else str(name)))
    return flat


def git_commit(directory: str | Path = ".") -> str:
    """The commit checked out in ``directory`` ("+dirty" when tracked files differ), or "unknown"."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def dvc_data_hash(dvc_file: str | Path = "data.dvc") -> str:
    """The md5 that ``data.dvc`` records for the raw-data folder, "none" when nothing is tracked."""
    try:
        outs = (yaml.safe_load(Path(dvc_file).read_text(encoding="utf-8")) or {}).get("outs") or []
    except (OSError, yaml.YAMLError):
        return "none"
    return ",".join(str(out.get("md5")) for out in outs if isinstance(out, dict) and out.get("md5")) or "none"


def architecture_depth(arch: dict[str, Any]) -> int | None:
    """The depth a space's schedule grows (a CNN child's layers, Sec. 4.1); None for a kind
    without one (a recurrent cell's size is fixed by its space)."""
    space = space_class_of(arch)
    return space.grown_depth(arch) if space is not None else None


def decision_params(arch: dict[str, Any], space) -> dict[str, str]:
    """A child's params: its depth and each decision the controller made for it, named as the
    space names its steps (``layer_3.filter_height``, ``layer_3.anchor`` = the skip inputs
    chosen, ``node_2.activation``).

    A decision with a single possible value is left out: the space name, a stride fixed to 1,
    the anchor of a layer with no earlier layer to choose from. It is the same in every run of
    the search, and as a column it would only push the ones that differ out of the runs table.
    The whole architecture is each run's ``architecture.json`` artifact."""
    steps, _ = space.encode(arch)
    fixed = {step.name for step in steps if is_fixed(step)}
    params = {name: value for name, value in space.describe_decisions(arch).items() if name not in fixed}
    depth = architecture_depth(arch)
    if depth is not None:
        params["depth"] = depth
    return flatten(params)


def is_fixed(step) -> bool:
    """A step with one possible value: a categorical with one choice, an anchor with no candidates."""
    if isinstance(step, Anchor):
        return not step.candidates
    return len(step.choices) < 2
