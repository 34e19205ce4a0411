"""The best final network as an MLflow PyTorch model, registered in the Model Registry."""

from __future__ import annotations

import json
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from nasrl.tracking.state import SearchRun
from nasrl.tracking.store import fluent_uri, retrying


def register_best_model(search: SearchRun, best: dict[str, Any], run_id: str, model) -> str | None:
    """Log ``model`` (the best final run's network) into run ``run_id`` and register it under
    ``search.registered_model``; returns the model version (None when registering is off)."""
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
            info = retrying(mlflow.pytorch.log_model, model, name="model", registered_model_name=name,
                            pip_requirements=requirements, extra_files=[str(arch_file)], serialization_format="pickle",
                            metadata={"arch_key": best["arch_key"], "grid": best["grid"]})
    return str(info.registered_model_version)
