"""What one run holds (tags, params, metrics, artifacts), and writing it in four store calls.

A record is built from the result files alone, so a run logged late (by a round's update or
by ``nasrl track sync``) is the same as one logged at once. Writing it:

1. ``create_run`` with every tag (parent, stage, key, round, status, ...);
2. the artifacts, one folder uploaded at once (architecture.json and .svg, metrics.json);
3. ``set_terminated`` (FINISHED, or FAILED for a failed, diverged or too large child), before the mark:
   a run marked complete is never left RUNNING;
4. ``log_batch`` of params and metrics with the ``nasrl.complete`` tag: the mark comes last,
   after everything else of the run is stored (MLflow writes a batch's tags after its params
   and metrics), so a run found without it was cut short and is redone from scratch.

A run with more than 100 params or about 1,000 metrics (MLflow's limits per batch) takes
more batches before the last one.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasrl.io import read_metrics
from nasrl.layout import RunFolder
from nasrl.spaces import space_class_of
from nasrl.tracking.diagram import diagram_svg
from nasrl.tracking.params import decision_params, flatten

COMPLETE = "nasrl.complete"
FAILED_STATUSES = {"failed", "diverged", "too_large"}  # too_large: over child.max_params or max_memory_gb
MAX_PARAMS, MAX_ENTRIES = 100, 1000  # MLflow's limits per log_batch call


@dataclass
class RunRecord:
    tags: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int]] = field(default_factory=list)  # (name, value, step)
    failed: bool = False
    seconds: float = 0.0  # how long the job ran: the run's start is its end minus this
    files: dict[str, str] = field(default_factory=dict)  # artifact name -> text

    def write(self, client, experiment_id: str) -> str:
        """Log the record as a new run; returns its id."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        run = client.create_run(experiment_id, start_time=now - int(1000 * self.seconds), tags=self.tags,
                                run_name=self.tags.get("mlflow.runName"))
        run_id = run.info.run_id
        if self.files:
            write_artifacts(client, run.info.artifact_uri, self.files)
        batches = log_batches([Metric(k, v, now, step) for k, v, step in self.metrics],
                              [Param(k, v) for k, v in self.params.items()])
        for metrics, params in batches[:-1]:
            client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id, "FAILED" if self.failed else "FINISHED", end_time=now)
        metrics, params = batches[-1]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag(COMPLETE, "true")])
        return run_id


def write_artifacts(client, artifact_uri: str, files: dict[str, str]) -> None:
    """The files into the run's artifact folder in one upload. The repository comes from the
    artifact URI that create_run returned: ``client.log_artifacts`` would first read the run
    back from the store to learn it."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repository = get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        repository.log_artifacts(folder)


def log_batches(metrics: list, params: list) -> list[tuple[list, list]]:
    """(metrics, params) per log_batch call within MLflow's limits, keeping room in each for
    the completeness tag; at least one (possibly empty) batch."""
    batches = []
    while metrics or params or not batches:
        chunk, params = params[:MAX_PARAMS], params[MAX_PARAMS:]
        room = MAX_ENTRIES - len(chunk) - 1
        batches.append((metrics[:room], chunk))
        metrics = metrics[room:]
    return batches


def read_curve(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def summary_metrics(metrics: dict[str, Any], stage: str = "child") -> dict[str, float]:
    """The scalar results of a run: reward, best and last validation metric, times, size, the
    epochs trained and, for a child stopped early (status ``stopped``, a tag), its stopped epoch,
    the projected value its reward was computed from (``projected_val_acc``, ...) and how many
    earlier children its reference held (``reference_children``); with a cost-aware reward, the
    cost (``cost_params``, ``cost_flops``, ``cost_latency_ms``) and the paper's reward without
    the cost factor (``plain_reward``).

    ``reward`` is the search's signal and only a search child has one; a final retraining
    computes the same function of its curve under another name (``final_reward``), so that
    sorting the runs table by reward ranks the children alone."""
    names = {"reward": "reward" if stage == "child" else f"{stage}_reward", "best_val": f"best_{metrics.get('metric', 'val')}",
             "last_val": f"last_{metrics.get('metric', 'val')}", "seconds": "seconds",
             "setup_seconds": "setup_seconds", "params": "num_params", "conv_weights": "conv_weights",
             "epochs": "epochs", "stopped_epoch": "stopped_epoch",
             "projected_val": f"projected_{metrics.get('metric', 'val')}",
             # child.reward.cost (MnasNet's reward): the cost in its measure, and the paper's reward beside it
             "cost": f"cost_{metrics.get('cost_measure')}", "plain_reward": "plain_reward"}
    out = {name: float(metrics[k]) for k, name in names.items()
           if isinstance(metrics.get(k), (int, float)) and not isinstance(metrics.get(k), bool)}
    for name, value in (metrics.get("test") or {}).items():
        out[name] = float(value)
    if isinstance((metrics.get("reference") or {}).get("children"), int):
        out["reference_children"] = float(metrics["reference"]["children"])
    return {k: v for k, v in out.items() if math.isfinite(v)}


DESCRIPTION = "mlflow.note.content"  # the run's description in MLflow's UI


def run_description(metrics: dict[str, Any], arch: dict[str, Any], stage: str) -> str:
    """One line about a run: its architecture in a few words, how it ended, and its value."""
    space = space_class_of(arch)
    network = space.brief(arch) if space is not None else "architecture"
    what = f"final run {metrics.get('rank')}_{metrics.get('point')} ({json.dumps(metrics.get('grid'))})" \
        if stage == "final" else "child"
    value = metrics.get("best_val")
    shown = f", {metrics.get('metric')} {value:.4f}" if isinstance(value, (int, float)) else ""
    if metrics.get("status") == "stopped":
        shown += f", stopped at epoch {metrics.get('stopped_epoch')} (reward projected)"
    reward = metrics.get("reward")
    shown += f", reward {reward:.4f}" if stage == "child" and isinstance(reward, (int, float)) else ""
    return f"{what}: {network}; {metrics.get('status')}{shown}"


def result_record(run_dir: str | Path, arch: dict[str, Any], stage: str, parent_run_id: str,
                  tags: dict[str, str], space, params: dict[str, Any] | None = None,
                  diagram: bool = True) -> RunRecord:
    """The run of a result folder (metrics.json, curve.csv): params = the depth and decisions
    in ``space`` (params.decision_params) and ``params``, metrics = the per-epoch curves and the
    summary, artifacts = both JSON files."""
    run_dir = Path(run_dir)
    metrics_text = RunFolder(run_dir).metrics.read_text(encoding="utf-8")
    metrics = read_metrics(RunFolder(run_dir).metrics).raw
    run_tags = {"mlflow.parentRunId": parent_run_id, "nasrl.stage": stage, "nasrl.key": metrics["key"],
                "nasrl.arch_key": metrics.get("arch_key", ""), "nasrl.status": metrics["status"],
                DESCRIPTION: run_description(metrics, arch, stage), **tags}
    if metrics.get("error"):
        run_tags["nasrl.error"] = str(metrics["error"])[:5000]
    if metrics.get("surrogate") is True:  # its reward was looked up in a table, not trained for
        run_tags["nasrl.surrogate"] = "true"
    if metrics.get("reference"):  # child.early_stopping: the history it was stopped against
        run_tags["nasrl.reference_fingerprint"] = str(metrics["reference"].get("fingerprint"))
        run_tags["nasrl.reference_children"] = str(metrics["reference"].get("children"))
    values = [(name, value, int(row.get("epoch", i)))
              for i, row in enumerate(read_curve(RunFolder(run_dir).curve))
              for name, value in row.items() if name != "epoch" and math.isfinite(value)]
    values += [(name, value, 0) for name, value in summary_metrics(metrics, stage).items()]
    files = {"architecture.json": json.dumps(arch, indent=2, sort_keys=True) + "\n", RunFolder.METRICS: metrics_text}
    svg = diagram_svg(arch) if diagram else None  # tracking.child_diagrams
    if svg is not None:
        files["architecture.svg"] = svg
    return RunRecord(tags=run_tags, params={**decision_params(arch, space), **flatten(params or {})}, metrics=values,
                     failed=metrics["status"] in FAILED_STATUSES, seconds=float(metrics.get("seconds") or 0),
                     files=files)


def link_record(run_dir: str | Path, arch: dict[str, Any], parent_run_id: str, source_run_id: str,
                tags: dict[str, str], space) -> RunRecord:
    """The small run of a child reused from an earlier search's results: its decisions and
    reward, and a tag pointing to the run that trained it (which keeps the curves)."""
    metrics = read_metrics(RunFolder(run_dir).metrics)
    run_tags = {"mlflow.parentRunId": parent_run_id, "nasrl.stage": "child", "nasrl.key": metrics.key,
                "nasrl.arch_key": metrics.get("arch_key", ""), "nasrl.status": metrics.status,
                "nasrl.cache_hit": "true", "nasrl.source_run_id": source_run_id,
                DESCRIPTION: run_description(metrics.raw, arch, "child") + " (trained by an earlier search)", **tags}
    reward = [("reward", float(metrics.reward), 0)] if isinstance(metrics.reward, (int, float)) else []
    return RunRecord(tags=run_tags, params=decision_params(arch, space), metrics=reward)
