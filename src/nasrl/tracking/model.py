"""The best final network as an MLflow PyTorch model, registered in the Model Registry.

A registered version says what it is without opening its run: a description (architecture,
grid point, validation and test metric, the search it came from), tags to filter and compare
versions by (the test metric, the architecture key, the search run) and a signature giving
the tensor the network takes and returns.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from nasrl.space_kinds import higher_is_better, kind_of, load
from nasrl.tracking.params import architecture_depth
from nasrl.tracking.state import SearchRun
from nasrl.tracking.store import fluent_uri


def register_best_model(search: SearchRun, best: dict[str, Any], run_id: str, model,
                        saved: dict[str, Any]) -> str | None:
    """Log ``model`` (the best final run's network; ``saved``: its model.pt without the weights)
    into run ``run_id``, register it under ``search.registered_model`` and describe the
    version; returns the version (None when registering is off)."""
    import mlflow
    import mlflow.pytorch

    name = search.registered_model
    if not name:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        arch_file = Path(tmp) / "architecture.json"
        arch_file.write_text(json.dumps(best["arch"], indent=2, sort_keys=True) + "\n", encoding="utf-8")
        # Requirements given explicitly: inferring them would load the model in a subprocess.
        # Pickled, not torch.export'ed ("pt2"): a language model's forward takes a recurrent
        # state, which an export traced from one example would freeze.
        requirements = [f"torch=={version('torch')}", f"nasrl=={version('nasrl')}"]
        with warnings.catch_warnings(), fluent_uri(search.uri), mlflow.start_run(run_id=run_id):
            warnings.simplefilter("ignore")
            info = mlflow.pytorch.log_model(model, name="model", registered_model_name=name,
                                            pip_requirements=requirements, extra_files=[str(arch_file)],
                                            serialization_format="pickle",
                                            signature=model_signature(saved, search.layout.data_summary),
                                            metadata={"arch_key": best["arch_key"], "grid": best["grid"]})
    model_version = str(info.registered_model_version)
    describe_version(search, best, model_version)
    crown_champion(search.client, name, best["metric"])
    return model_version


CHAMPION = "champion"  # the alias of the version best on validation: models:/NAME@champion


def crown_champion(client, name: str, metric: str) -> str | None:
    """Point the alias ``champion`` at the version with the best validation value (the tag
    ``metric`` each version carries, version_tags) among those judged by that metric."""
    quoted = f'"{name}"' if "'" in name else f"'{name}'"
    sign = 1.0 if higher_is_better(metric) else -1.0
    scored = [(sign * float(v.tags[metric]), -int(v.version)) for v in client.search_model_versions(f"name={quoted}")
              if metric in (v.tags or {})]
    if not scored:
        return None
    _, negated_version = max(scored)  # the best value; of equals, the earliest version
    champion = str(-negated_version)
    client.set_registered_model_alias(name, CHAMPION, champion)
    return champion


def model_signature(saved: dict[str, Any], data_summary: Path):
    """The tensors the network takes and returns, as its space kind's network states them
    (``tensor_specs``: a CNN maps images [B, C, H, W] to logits [B, classes], a language model
    word ids [B, T] to logits [B, T, vocabulary])."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    network = load(kind_of(saved["arch"], trainable=True).network)
    data = json.loads(Path(data_summary).read_text(encoding="utf-8")) if Path(data_summary).is_file() else {}
    inputs, outputs = (TensorSpec(np.dtype(dtype), shape, name)
                       for dtype, shape, name in network.tensor_specs(saved["model_args"], data))
    return ModelSignature(inputs=Schema([inputs]), outputs=Schema([outputs]))


def version_tags(search: SearchRun, best: dict[str, Any]) -> dict[str, str]:
    """What a version is compared by in the registry: its test metric(s), architecture, search."""
    tags = {name: f"{value:.4f}" for name, value in (best.get("test") or {}).items()}
    tags.update(arch_key=best["arch_key"], search_run_id=str(search.run_id), experiment=search.experiment,
                grid=json.dumps(best["grid"], sort_keys=True), **{best["metric"]: f"{best['val']:.4f}"})
    return tags


def version_description(search: SearchRun, best: dict[str, Any]) -> str:
    depth = architecture_depth(best["arch"])
    shape = f", {depth} layers" if depth is not None else ""
    tested = ", ".join(f"{name} {value:.4f}" for name, value in (best.get("test") or {}).items())
    return (f"Best architecture of the nasrl search of experiment '{search.experiment}' (search run "
            f"{search.run_id}): architecture {best['arch_key']}{shape}, retrained with {json.dumps(best['grid'])}; "
            f"{best['metric']} {best['val']:.4f} on validation, chosen among the final runs, then tested once: "
            f"{tested}. architecture.json holds the architecture (nasrl describe / nasrl draw).")


def describe_version(search: SearchRun, best: dict[str, Any], model_version: str) -> None:
    """Description and tags of a registered version (and of the model, when it has none)."""
    client, name = search.client, search.registered_model
    registered = client.get_registered_model(name)
    if not registered.description:
        about = (f"The best network of each nasrl search of experiment '{search.experiment}' (Zoph & Le 2017 NAS): "
                 "one version per search. Compare versions by their tags.")
        client.update_registered_model(name, description=about)
    client.update_model_version(name, model_version, description=version_description(search, best))
    for key, value in version_tags(search, best).items():
        client.set_model_version_tag(name, model_version, key, value)
