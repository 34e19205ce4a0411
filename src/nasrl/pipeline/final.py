"""After the search: the top architectures, their retraining on a grid, the final report.

Zoph & Le (2017) Sec. 4.1: the best architectures are retrained with a small grid over the
learning rate, weight decay, batch-norm epsilon and the epoch to decay the learning rate;
the configuration best on validation is evaluated once on the test set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.io import read_metrics, read_top, write_json
from nasrl.pipeline.collect import round_summary
from nasrl.settings import FinalSettings
from nasrl.settings import ChildConfig

# nasrl.training.child (torch + Lightning, ~8 s to import) is imported inside retrain and
# report only: select-top runs as its own process and needs pandas alone.


def select_top(history_path: str | Path, k: int, out: str | Path) -> list[dict[str, Any]]:
    """The k best distinct architectures by reward among children that trained (ties: first sampled)."""
    history = pd.read_parquet(history_path)
    ok = history[history["status"] == "ok"].sort_values(["reward", "round", "index"], ascending=[False, True, True],
                                                         kind="stable")
    top = []
    for _, row in ok.drop_duplicates("arch_key").head(k).iterrows():
        top.append({"rank": len(top), "arch_key": row["arch_key"], "arch": json.loads(row["arch"]),
                    "reward": float(row["reward"]), "val": float(row["val"]), "round": int(row["round"]),
                    "index": int(row["index"])})
    write_json(out, top)
    return top


def retrain(top_path: str | Path, rank: int, point: int, child: ChildConfig, final: FinalSettings,
            out_dir: str | Path) -> dict[str, Any]:
    """Train top architecture ``rank`` at grid point ``point`` (no test evaluation here)."""
    top = read_top(top_path)
    grid_point = final.points()[point]
    extra = {"rank": rank, "point": point, "grid": grid_point}
    if rank >= len(top):  # fewer distinct architectures trained than top_k
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics = {"status": "skipped", "reason": f"only {len(top)} distinct architectures trained", **extra}
        write_json(out_dir / "metrics.json", metrics)
        return metrics
    config = final.child_config(child, grid_point)
    if config.surrogate is not None:
        from nasrl.training.surrogate import train_surrogate

        return train_surrogate(top[rank]["arch"], config, out_dir, extra=extra)
    from nasrl.training.child import train_child

    return train_child(top[rank]["arch"], config, out_dir, extra=extra)


def report(top_path: str | Path, run_dirs: list[str | Path], history_path: str | Path, experiment: str,
           best_out: str | Path, metrics_out: str | Path) -> dict[str, Any]:
    """Pick the final run best on validation, test it once, write best.json and metrics.json."""
    top = read_top(top_path)
    runs = []
    for run_dir in run_dirs:
        metrics = read_metrics(run_dir)
        if metrics.ok:
            runs.append((Path(run_dir), metrics.raw))
    history = pd.read_parquet(history_path)
    summary = round_summary(history)
    headline: dict[str, Any] = {
        "experiment": experiment,
        "strategy": str(history["strategy"].iloc[0]),
        "children": int(len(history)),
        "trained_children": int((~history["repeat"]).sum()),
        "failed_children": int((history.loc[~history["repeat"], "status"] != "ok").sum()),
        "best_search_reward": float(history["reward"].max()),
        "mean_reward_by_round": [round(float(v), 6) for v in summary["mean_reward"]],
    }
    best: dict[str, Any] = {"status": "no final run succeeded"}
    if runs:
        higher_is_better = runs[0][1]["metric"] == "val_acc"
        run_dir, metrics = (max if higher_is_better else min)(runs, key=lambda r: r[1]["best_val"])
        test = _evaluate_test(run_dir, metrics)
        best = {"status": "ok", "arch": top[metrics["rank"]]["arch"], "arch_key": top[metrics["rank"]]["arch_key"],
                "rank": metrics["rank"], "grid": metrics["grid"], "metric": metrics["metric"],
                "val": metrics["best_val"], "test": test, "run": str(run_dir), "search_reward": top[metrics["rank"]]["reward"]}
        headline.update(final_metric=metrics["metric"], final_val=metrics["best_val"],
                        final_test={k: v for k, v in test.items()})
    write_json(best_out, best)
    write_json(metrics_out, headline)
    return headline


def _evaluate_test(run_dir: Path, metrics: dict[str, Any]) -> dict[str, float]:
    """The one test evaluation of the chosen run; a surrogate run has no network to test, so it
    reports its table value under a name that says so."""
    if metrics.get("surrogate"):
        return {f"surrogate_{metrics['metric']}": float(metrics["best_val"])}
    from nasrl.training.child import evaluate_test

    return evaluate_test(run_dir)
