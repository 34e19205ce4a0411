"""Where a search's files live: the one description of ``results/{experiment}/``.

The Snakemake rules, the pipeline steps, tracking and the command line all name paths
through :class:`ResultsLayout`, so the scheme is written once. Every method takes a round as
an int (formatted with four digits, so files sort in round order) or as a Snakemake wildcard
such as ``"{round}"``, which is kept as it is.

    results/{experiment}/
      settings/{search,child,final}.yaml    one file per config section
      data.json                             the dataset summary (prepare_data)
      tracking/search.json                  the MLflow search run the jobs log to
      tracking/runs/{key}.json              the MLflow run of each logged child
      controller/round_NNNN.pt, .json       the strategy state after each update, its stats
      rounds/NNNN/samples/archs.jsonl       one line per sampled child (+ {key}.json each)
      rounds/NNNN/rewards.parquet           the round's rewards
      rounds/NNNN/reference.csv             earlier rounds' completed curves (early stopping)
      batches/SSSS-RRR/samples/, rewards.parquet, controller.pt, update.json
                                            search.updates async: replica RRR's batch SSSS, and the
                                            controller its update produced (nasrl.search.journal)
      journal.jsonl                         async: which batch became which controller version
      children/{key}/metrics.json           one folder per distinct child (curve.csv, model.pt)
      history.parquet, rounds.csv, rewards.csv, search.png
      final/top.json, final/runs/{rank}_{point}/, final/best.json, final/grid.csv
      final/best.svg                        the chosen architecture's diagram (nasrl draw)
      report/{rounds,final_grid,metrics}.html   tables shown by `snakemake --report`
      metrics.json                          the headline figures

    results/compare/                        one file per search, beside the searches' folders:
      metrics/{experiment}.json             its metrics.json   (DVC metrics, dvc.yaml)
      rewards/{experiment}.csv              its rewards.csv    (DVC plots)
      rounds/{experiment}.csv               its rounds.csv     (DVC plots)

DVC reads a folder of plots or metrics as whatever files it holds, so the random-search control
joins `dvc plots show` and `dvc metrics show` once it has run, and until then nothing is missing
(naming its files in dvc.yaml would make DVC report them "failed to load").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULTS_ROOT = "results"
COMPARED = "compare"  # results/compare/: not an experiment's name (settings/workflow.py)


@dataclass(frozen=True)
class SampleFolder:
    """A round's sampled children: ``archs.jsonl`` (one line per sampled child) and one
    ``{key}.json`` architecture file per distinct child, the input of its training job."""

    path: Path

    @property
    def sampled(self) -> Path:
        return Path(self.path) / "archs.jsonl"

    def arch(self, key: str) -> Path:
        return Path(self.path) / f"{key}.json"


@dataclass(frozen=True)
class RunFolder:
    """The files of one trained run: a child's folder (children/{key}/) or a final run's
    (final/runs/{rank}_{point}/), wherever the job writing it was pointed."""

    path: Path

    METRICS = "metrics.json"  # status, reward, validation values; written last: the run is finished

    @property
    def metrics(self) -> Path:
        return Path(self.path) / self.METRICS

    @property
    def curve(self) -> Path:
        """One row per epoch: learning rate, train and validation loss and metric."""
        return Path(self.path) / "curve.csv"

    @property
    def model(self) -> Path:
        """The architecture, the child settings and the trained weights (nasrl.models.saved)."""
        return Path(self.path) / "model.pt"


def batch_name(step: int | str, replica: int | str) -> str:
    """Replica ``replica``'s ``step``-th batch: ``(3, 12)`` -> ``"0003-012"`` (sorts step first, as
    rounds do); wildcards such as ``"{step}"`` are kept."""
    step = f"{int(step):04d}" if isinstance(step, int) or str(step).isdigit() else str(step)
    replica = f"{int(replica):03d}" if isinstance(replica, int) or str(replica).isdigit() else str(replica)
    return f"{step}-{replica}"


def round_name(index: int | str) -> str:
    """``7`` -> ``"0007"``; a wildcard such as ``"{round}"`` is returned unchanged."""
    if isinstance(index, int) or (isinstance(index, str) and index.isdigit()):
        return f"{int(index):04d}"
    return str(index)


@dataclass(frozen=True)
class ResultsLayout:
    root: Path

    @classmethod
    def for_experiment(cls, experiment: str, base: str | Path = RESULTS_ROOT) -> "ResultsLayout":
        return cls(Path(base) / experiment)

    @classmethod
    def of_tracking_state(cls, state_file: str | Path) -> "ResultsLayout":
        """The layout whose ``tracking/search.json`` is ``state_file``."""
        return cls(Path(state_file).parent.parent)

    # --- inputs of every step --------------------------------------------------------------
    def settings(self, section: str) -> Path:
        return self.root / "settings" / f"{section}.yaml"

    @property
    def data_summary(self) -> Path:
        return self.root / "data.json"

    @property
    def tracking_state(self) -> Path:
        return self.root / "tracking" / "search.json"

    def child_run_marker(self, key: str) -> Path:
        """Which MLflow run holds this child (tracking/run_markers.py)."""
        return self.root / "tracking" / "runs" / f"{key}.json"

    # --- the search ------------------------------------------------------------------------
    def controller(self, round_index: int | str) -> Path:
        return self.root / "controller" / f"round_{round_name(round_index)}.pt"

    def controller_stats(self, round_index: int | str) -> Path:
        return self.root / "controller" / f"round_{round_name(round_index)}.json"

    @property
    def rounds_dir(self) -> Path:
        return self.root / "rounds"

    def round_dir(self, round_index: int | str) -> Path:
        return self.rounds_dir / round_name(round_index)

    def samples(self, round_index: int | str) -> Path:
        return self.round_dir(round_index) / "samples"

    def sampled(self, round_index: int | str) -> Path:
        return SampleFolder(self.samples(round_index)).sampled

    def rewards(self, round_index: int | str) -> Path:
        return self.round_dir(round_index) / "rewards.parquet"

    @property
    def rewards_so_far(self) -> list[Path]:
        """The rewards tables of the rounds (or async batches) done so far, in round order."""
        name = self.rewards(0).name
        rounds = sorted(self.rounds_dir.glob(f"*/{name}")) if self.rounds_dir.exists() else []
        return rounds + (sorted(self.batches_dir.glob(f"*/{name}")) if self.batches_dir.exists() else [])

    # --- search.updates async: one folder per replica batch ----------------------------------
    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    def batch_dir(self, step: int | str, replica: int | str) -> Path:
        return self.batches_dir / batch_name(step, replica)

    def batch_samples(self, step: int | str, replica: int | str) -> Path:
        return self.batch_dir(step, replica) / "samples"

    def batch_rewards(self, step: int | str, replica: int | str) -> Path:
        return self.batch_dir(step, replica) / "rewards.parquet"

    def batch_controller(self, step: int | str, replica: int | str) -> Path:
        """The controller after this batch's update (its version: update.json, the journal)."""
        return self.batch_dir(step, replica) / "controller.pt"

    def batch_update(self, step: int | str, replica: int | str) -> Path:
        return self.batch_dir(step, replica) / "update.json"

    @property
    def final_controller(self) -> Path:
        """Async: the newest controller once every batch is applied (a copy of the journal's last)."""
        return self.root / "controller" / "final.pt"

    @property
    def journal(self) -> Path:
        """Async updates in the order they were applied (nasrl.search.journal)."""
        return self.root / "journal.jsonl"

    def reference(self, round_index: int | str) -> Path:
        """The curves the round's children are stopped against (nasrl.pipeline.reference)."""
        return self.round_dir(round_index) / "reference.csv"

    @property
    def children_dir(self) -> Path:
        return self.root / "children"

    def child_dir(self, key: str) -> Path:
        return self.children_dir / key

    def child_metrics(self, key: str) -> Path:
        return RunFolder(self.child_dir(key)).metrics

    @property
    def history(self) -> Path:
        return self.root / "history.parquet"

    @property
    def rounds_table(self) -> Path:
        return self.root / "rounds.csv"

    @property
    def reward_curve(self) -> Path:
        return self.root / "rewards.csv"

    @property
    def search_plot(self) -> Path:
        return self.root / "search.png"

    # --- after the search ------------------------------------------------------------------
    @property
    def top(self) -> Path:
        return self.root / "final" / "top.json"

    @property
    def final_runs_dir(self) -> Path:
        return self.root / "final" / "runs"

    def final_run(self, rank: int | str, point: int | str) -> Path:
        return self.final_runs_dir / f"{rank}_{point}"

    def final_run_metrics(self, rank: int | str, point: int | str) -> Path:
        return RunFolder(self.final_run(rank, point)).metrics

    @property
    def final_runs_metrics(self) -> list[Path]:
        """Every final run's metrics.json written so far, in name order."""
        return sorted(self.final_runs_dir.glob(f"*/{RunFolder.METRICS}")) if self.final_runs_dir.exists() else []

    @property
    def best(self) -> Path:
        return self.root / "final" / "best.json"

    @property
    def best_diagram(self) -> Path:
        """The chosen architecture drawn (Fig. 7 style for a CNN, Fig. 5/8 for a cell)."""
        return self.root / "final" / "best.svg"

    @property
    def final_grid(self) -> Path:
        """One row per final run: grid point, validation metric, the chosen one's test metrics."""
        return self.root / "final" / "grid.csv"

    def report_page(self, name: str) -> Path:
        """An HTML table for the Snakemake report (rounds, final_grid, metrics)."""
        return self.root / "report" / f"{name}.html"

    # --- results/compare/: what DVC shows of every search side by side ----------------------
    def compared(self, kind: str) -> Path:
        """This search's file in ``results/compare/{metrics,rewards,rounds}/``."""
        suffix = {"metrics": ".json", "rewards": ".csv", "rounds": ".csv"}[kind]
        return self.root.parent / COMPARED / kind / f"{self.root.name}{suffix}"

    @property
    def search_metrics(self) -> Path:
        """The search's figures: best reward, children, final validation and test (DVC shows its copy in results/compare/)."""
        return self.root / "metrics.json"
