"""Surrogate children: the reward from a published table, the training time simulated.

A surrogate child is a real workflow job (``train_child``, same inputs and outputs) that looks
its architecture up in a results table (NAS-Bench-Macro, or any CSV with a key column) instead
of training a network, and sleeps for a duration derived from the architecture. It runs the
real Snakemake pipeline, on a laptop or through SLURM, at paper scale in minutes: it measures
the scheduler, not the networks. Its process imports no torch, Lightning or MLflow.

- reward = (row[reward_column] x reward_scale) ^ reward_power; the defaults turn a percentage
  accuracy into the paper's CIFAR-10 reward, accuracy cubed (Sec. 4.1);
- seconds = seconds_per_unit x row[seconds_column] x exp(seconds_jitter x z), with z a standard
  normal drawn from the child key: deterministic, and log-normal around a cost proportional to
  the architecture's FLOPs, so a round has stragglers as real children do.

The row is found by ``key_template`` filled with a tabular architecture's decisions
(``"{l0}{l1}..."``), or, without a template, by the architecture's content key.

With ``child.reward.cost`` (measure params or flops), the cost is the row's column of that name
and the reward MnasNet's cost-aware one, with the factor raised to ``reward_power``
(``nasrl.training.cost``); a surrogate has no network to time, so latency is refused at plan
time.
"""

from __future__ import annotations

import csv
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasrl.architecture import ArchitectureError, content_key
from nasrl.errors import TableError
from nasrl.io import write_json
from nasrl.layout import RunFolder
from nasrl.settings import ChildConfig, SurrogateConfig, child_key
from nasrl.tables import table_path
from nasrl.training.cost import cost_fields


@dataclass
class SurrogateTable:
    config: SurrogateConfig
    rows: dict[str, dict[str, str]]

    @classmethod
    def load(cls, config: SurrogateConfig) -> "SurrogateTable":
        """Read the table; a missing file or column is one error naming it."""
        if not config.table:
            raise TableError("child.surrogate.table: expected the path of a CSV results table")
        try:
            path = table_path(config.table)  # nasrl:FILE, a table that ships with the package, or a path
        except ValueError as err:
            raise TableError(f"child.surrogate.table: {err}") from None
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                columns = reader.fieldnames or []
                needed = {"key_column": config.key_column, "reward_column": config.reward_column,
                          "seconds_column": config.seconds_column}
                for name, column in needed.items():
                    if column is not None and column not in columns:
                        raise TableError(f"child.surrogate.{name}: {path} has no column {column!r}; "
                                         f"columns are {columns}")
                rows = {row[config.key_column]: row for row in reader}
        except FileNotFoundError:
            raise TableError(f"child.surrogate.table: file not found: {path}") from None
        return cls(config, rows)

    def key(self, arch: dict[str, Any]) -> str:
        template = self.config.key_template
        if template is None:
            return content_key(arch)
        try:
            return template.format(**{k: str(v) for k, v in arch["decisions"].items()})
        except (KeyError, TypeError) as err:
            raise ArchitectureError(f"child.surrogate.key_template {template!r} does not fit the architecture "
                                    f"{arch!r} ({type(err).__name__}: {err})") from None

    def row(self, arch: dict[str, Any]) -> dict[str, str]:
        key = self.key(arch)
        if key not in self.rows:
            raise ArchitectureError(f"child.surrogate: architecture {key!r} is not in {self.config.table} "
                                    f"(column {self.config.key_column!r})")
        return self.rows[key]

    def check(self, archs: list[dict[str, Any]]) -> None:
        """Every architecture has a row (else one error naming the first missing one)."""
        for arch in archs:
            self.row(arch)

    def value(self, arch: dict[str, Any], column: str) -> float:
        text = self.row(arch)[column]
        try:
            return float(text)
        except ValueError:
            raise TableError(f"child.surrogate: column {column!r} of {self.key(arch)!r} is not a number: "
                             f"{text!r}") from None

    def reward(self, arch: dict[str, Any]) -> float:
        c = self.config
        return (self.value(arch, c.reward_column) * c.reward_scale) ** c.reward_power

    def seconds(self, arch: dict[str, Any], key: str, timing_seed: int | None = None) -> float:
        c = self.config
        if c.seconds_column is None or c.seconds_per_unit == 0:
            return 0.0
        stream = random.Random(int(key, 16) if timing_seed is None else f"{key}:{timing_seed}")
        z = stream.gauss(0.0, 1.0)
        return c.seconds_per_unit * self.value(arch, c.seconds_column) * math.exp(c.seconds_jitter * z)


def train_surrogate(arch: dict[str, Any], config: ChildConfig, out_dir: str | Path,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The surrogate of ``train_child``: writes the same metrics.json (``surrogate`` true)."""
    started = time.time()
    table = SurrogateTable.load(config.surrogate)
    key = child_key(arch, config)
    reward, value = table.reward(arch), table.value(arch, config.surrogate.reward_column)
    cost = config.reward.cost
    # MnasNet's cost-aware reward: the cost is the table's column named by its measure
    priced = {} if cost is None else cost_fields(reward, table.value(arch, cost.measure), cost,
                                                 config.surrogate.reward_power)
    seconds = table.seconds(arch, key, config.surrogate_timing_seed)
    time.sleep(seconds)
    row = table.row(arch)
    params = row.get("params")
    metrics = {
        "key": key, "arch_key": content_key(arch), "dataset": "surrogate", "seed": config.seed, "status": "ok",
        "surrogate": True, "reward": reward, "metric": config.surrogate.reward_column, "best_val": value,
        "last_val": value, "epochs": 0, "params": int(float(params)) if params else None,
        "seconds": time.time() - started, "setup_seconds": None, "error": None,
        "started_at": started, "finished_at": time.time(), **priced, **(extra or {}),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(RunFolder(out_dir).metrics, metrics)
    return metrics
