"""After the search: the top architectures, their retraining on a grid, the final report.

Zoph & Le (2017) Sec. 4.1: the best architectures are retrained with a small grid over the
learning rate, weight decay, batch-norm epsilon and the epoch to decay the learning rate;
the configuration best on validation is evaluated once on the test set. The run is chosen by
its ``best_val`` and its ``model.pt`` holds the weights of that very epoch
(``nasrl.training.checkpoint``), so the test number belongs to the weights validation chose.

With ``final.within_budget`` (and ``child.reward.cost``), each final run records its cost and
the budget (``child.reward.cost.target``), and the report chooses the run best on validation
among those that cost at most the budget: the best network within the budget, MnasNet's
deployment constraint, rather than the best one overall.

A transfer (``final.architectures``) retrains named architectures instead of a search's best:
``transfer_top`` writes ``top.json`` from them, and the report has no search to summarise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.io import read_metrics, read_top, write_json
from nasrl.layout import RunFolder
from nasrl.pipeline.collect import TRAINED, round_summary
from nasrl.settings import FinalSettings
from nasrl.settings import ChildConfig
from nasrl.settings.child import EarlyStoppingConfig
from nasrl.space_kinds import higher_is_better
from nasrl.errors import SettingsError
from nasrl.training.cost import within_budget

# nasrl.training.child (torch + Lightning, ~8 s to import) is imported inside retrain and
# report only: select-top runs as its own process and needs pandas alone.


def select_top(history_path: str | Path, k: int, out: str | Path) -> list[dict[str, Any]]:
    """The k best distinct architectures by reward among children that trained (ties: first sampled).

    A child stopped early trained and has a real reward from its own (shorter) curve, so it
    ranks with the others; that reward is pessimistic, so it rarely reaches the top."""
    history = pd.read_parquet(history_path)
    trained = history[history["status"].isin(TRAINED)]
    ok = trained.sort_values(["reward", "round", "index"], ascending=[False, True, True], kind="stable")
    top = []
    for _, row in ok.drop_duplicates("arch_key").head(k).iterrows():
        top.append({"rank": len(top), "arch_key": row["arch_key"], "arch": json.loads(row["arch"]),
                    "reward": float(row["reward"]), "val": float(row["val"]), "round": int(row["round"]),
                    "index": int(row["index"])})
    write_json(out, top)
    return top


def transfer_top(final: FinalSettings, space_value: Any, out: str | Path) -> list[dict[str, Any]]:
    """``top.json`` of the architectures named in ``final.architectures`` (preset names or JSON
    files), each checked to belong to the search space ``space_value`` (a spec, preset or file)."""
    from nasrl.architecture import ArchitectureError, content_key
    from nasrl.io import read_json
    from nasrl.spaces.presets import architecture_names, preset_architecture, resolve_space

    space = resolve_space(space_value)
    top = []
    for name in final.architectures:
        arch = preset_architecture(name)[0] if name in architecture_names() else read_json(name)
        try:
            arch = space.validate(arch)
        except (ArchitectureError, KeyError, TypeError) as err:  # another space's architecture may lack its keys
            raise ValueError(f"final.architectures: {name!r} is not in the search space {space.type}: {err}") from None
        top.append({"rank": len(top), "arch_key": content_key(arch), "arch": arch, "source": name,
                    "reward": None, "val": None, "round": None, "index": None})
    write_json(out, top)
    return top


def retrain(top_path: str | Path, rank: int, point: int, child: ChildConfig, final: FinalSettings,
            out_dir: str | Path) -> dict[str, Any]:
    """Train top architecture ``rank`` at grid point ``point`` (no test evaluation here)."""
    if final.within_budget and child.reward.cost is None:
        raise SettingsError("final.within_budget: there is no budget without a cost-aware reward; expected "
                            "child.reward.cost (measure and target) with it, or final.within_budget false")
    top = read_top(top_path)
    grid_point = final.points()[point]
    extra = {"rank": rank, "point": point, "grid": grid_point}
    if final.within_budget:  # the report chooses among the runs within it
        extra["budget"] = child.reward.cost.target
    if rank >= len(top):  # fewer distinct architectures trained than top_k
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics = {"status": "skipped", "reason": f"only {len(top)} distinct architectures trained", **extra}
        write_json(RunFolder(out_dir).metrics, metrics)
        return metrics
    # Final runs train every epoch: the median stopping rule is for search children only.
    config = final.child_config(child.model_copy(update={"early_stopping": EarlyStoppingConfig()}), grid_point)
    if config.surrogate is not None:
        from nasrl.training.surrogate import train_surrogate

        return train_surrogate(top[rank]["arch"], config, out_dir, extra=extra)
    from nasrl.training.gpu_lease import lease_gpu

    lease_gpu(config.accelerator, config.per_gpu)  # a GPU of its own, as a child's (nasrl train-child)
    from nasrl.training.child import train_child

    return train_child(top[rank]["arch"], config, out_dir, extra=extra)


def report(top_path: str | Path, run_dirs: list[str | Path], history_path: str | Path | None, experiment: str,
           best_out: str | Path, metrics_out: str | Path) -> dict[str, Any]:
    """Pick the final run best on validation, test it once, write best.json and metrics.json.

    ``history_path`` None: a transfer, no search to summarise (``strategy: transfer``)."""
    top = read_top(top_path)
    runs = []
    for run_dir in run_dirs:
        metrics = read_metrics(RunFolder(run_dir).metrics)
        if metrics.ok:
            runs.append((Path(run_dir), metrics.raw))
    headline: dict[str, Any] = {"experiment": experiment, "strategy": "transfer"}
    if history_path is not None:
        history = pd.read_parquet(history_path)
        summary = round_summary(history)
        headline.update({
            "strategy": str(history["strategy"].iloc[0]),
            "children": int(len(history)),
            "trained_children": int((~history["repeat"]).sum()),
            "failed_children": int((~history.loc[~history["repeat"], "status"].isin(TRAINED)).sum()),
            "stopped_children": int((history.loc[~history["repeat"], "status"] == "stopped").sum()),
            "child_epochs": child_epochs(history),
            "best_search_reward": float(history["reward"].max()),
            "mean_reward_by_round": [round(float(v), 6) for v in summary["mean_reward"]],
        })
    best: dict[str, Any] = {"status": "no final run succeeded"}
    budget = next((m["budget"] for _, m in runs if m.get("budget") is not None), None)
    if budget is not None:  # final.within_budget: only the runs that cost at most the target compete
        costs = ", ".join("none" if m.get("cost") is None else f"{m['cost']:.4g}" for _, m in runs)
        runs = [(d, m) for d, m in runs if within_budget(m.get("cost"), budget)]
        if not runs:
            best = {"status": f"no final run within the budget: {costs} against the target {budget:g} "
                              "(final.within_budget)"}
    if runs:
        run_dir, metrics = best_run(runs)
        test = _evaluate_test(run_dir, metrics)
        best = {"status": "ok", "arch": top[metrics["rank"]]["arch"], "arch_key": top[metrics["rank"]]["arch_key"],
                "rank": metrics["rank"], "grid": metrics["grid"], "metric": metrics["metric"],
                "val": metrics["best_val"], "best_epoch": metrics.get("best_epoch"), "test": test, "run": str(run_dir),
                "search_reward": top[metrics["rank"]]["reward"],
                **{k: metrics[k] for k in ("cost", "cost_measure", "budget") if k in metrics}}
        headline.update(final_metric=metrics["metric"], final_val=metrics["best_val"],
                        final_test={k: v for k, v in test.items()})
    write_json(best_out, best)
    write_json(metrics_out, headline)
    return headline


def child_epochs(history: pd.DataFrame) -> int | None:
    """Epochs trained by the search's distinct children (what early stopping saves); None for a
    history written before the ``epochs`` column existed."""
    if "epochs" not in history:
        return None
    return int(history.loc[~history["repeat"], "epochs"].sum())


def best_run(runs: list[tuple[Path, dict[str, Any]]]) -> tuple[Path, dict[str, Any]]:
    """The run whose validation value (``best_val``, the value of the weights it kept) is best:
    highest accuracy (or table reward) or lowest perplexity; ties go to the first run listed."""
    return (max if higher_is_better(runs[0][1]["metric"]) else min)(runs, key=lambda r: r[1]["best_val"])


def _evaluate_test(run_dir: Path, metrics: dict[str, Any]) -> dict[str, float]:
    """The one test evaluation of the chosen run; a surrogate run has no network to test, so it
    reports its table value under a name that says so."""
    if metrics.get("surrogate"):
        return {f"surrogate_{metrics['metric']}": float(metrics["best_val"])}
    from nasrl.training.child import evaluate_test

    return evaluate_test(run_dir)
