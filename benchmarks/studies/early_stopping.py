"""Child epochs saved by early stopping, and what it costs the final result.

    python benchmarks/studies/early_stopping.py [--seeds 0 1 2] [--configs config/config.yaml config/cell-pydoc.yaml]

Runs each config's search with ``child.early_stopping`` off and on (the median stopping
rule with its defaults, nasrl.training.early_stopping), for each search seed (search.seed;
the child seed stays the config's), each run in a fresh copy of the workflow under its own
experiment name, MLflow tracking off. Prints, per config and seed, the epochs the search's
distinct children trained (metrics.json ``child_epochs``), the share saved, the children
stopped, and the final test accuracy or perplexity with and without; then mean and sd over
the seeds. The goal (issue 12): at least 30% of child epochs saved, with the final result
within the seed-to-seed spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import workflow_copy  # noqa: E402


def run_search(configfile: str, seed: int, stopping: bool, cores: int) -> dict:
    """One whole search; its headline metrics.json plus the wall time."""
    work = workflow_copy("nasrl-early-stopping-")
    config = yaml.safe_load((work / configfile).read_text())
    config["experiment"] = f"{config['experiment']}-seed{seed}-{'stop' if stopping else 'full'}"
    config["search"]["seed"] = seed
    config.setdefault("child", {})["early_stopping"] = {"enabled": stopping}
    config["tracking"] = {"enabled": False}
    (work / "config" / "bench.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    for _ in range(3):  # a run Snakemake ended early (the Snakefile's onsuccess says so) continues
        done = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "--cores", str(cores),
                               "--configfile", "config/bench.yaml", "--quiet"], cwd=work, env=env,
                              capture_output=True, text=True)
        if "continues where it stopped" not in done.stderr:
            break
    if done.returncode != 0:
        raise SystemExit(f"{configfile} seed {seed} stopping={stopping} failed:\n{done.stderr[-3000:]}")
    headline = json.loads((work / "results" / config["experiment"] / "metrics.json").read_text())
    headline["wall"] = time.perf_counter() - start
    shutil.rmtree(work)
    return headline


def final_value(headline: dict) -> float:
    test = headline["final_test"]
    return test["test_acc"] * 100 if "test_acc" in test else test["test_ppl"]


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["config/config.yaml", "config/cell-pydoc.yaml"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    for configfile in args.configs:
        rows = []
        for seed in args.seeds:
            full = run_search(configfile, seed, False, args.cores)
            stop = run_search(configfile, seed, True, args.cores)
            saved = 100 * (1 - stop["child_epochs"] / full["child_epochs"])
            rows.append((seed, full, stop, saved))
            print(f"# {configfile} seed {seed} done ({full['wall']:.0f} s, {stop['wall']:.0f} s)", flush=True)
        unit = "test accuracy (%)" if "test_acc" in rows[0][1]["final_test"] else "test perplexity"
        print(f"\n{configfile}: child epochs and final {unit}, early stopping off / on")
        print(f"| seed | child epochs, off | on | saved | stopped children | {unit}, off | on | wall s, off | on |")
        print("|---|---|---|---|---|---|---|---|---|")
        for seed, full, stop, saved in rows:
            print(f"| {seed} | {full['child_epochs']} | {stop['child_epochs']} | {saved:.1f}% | "
                  f"{stop['stopped_children']} of {stop['trained_children']} | {final_value(full):.2f} | "
                  f"{final_value(stop):.2f} | {full['wall']:.0f} | {stop['wall']:.0f} |")
        print(f"| mean ± sd | {mean_sd([r[1]['child_epochs'] for r in rows])} | "
              f"{mean_sd([r[2]['child_epochs'] for r in rows])} | {mean_sd([r[3] for r in rows])}% | | "
              f"{mean_sd([final_value(r[1]) for r in rows])} | {mean_sd([final_value(r[2]) for r in rows])} | "
              f"{mean_sd([r[1]['wall'] for r in rows])} | {mean_sd([r[2]['wall'] for r in rows])} |", flush=True)


if __name__ == "__main__":
    main()
