"""Fixed start-up cost of one `nasrl train-child` job: every child is a new process.

Measures, over --repeats runs (medians):
- import: `python -c "import <modules train-child needs>"`;
- process: the whole `nasrl train-child` command for a 1-epoch digits child;
- setup: from the start of train_child() to its first training batch (metrics.json);
- train: the rest of train_child() (one epoch and the result files).

A child job does not log to MLflow (its round's update logs the round's children together:
benchmarks/performance/tracking_at_scale.py measures that).

    python benchmarks/performance/child_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = "import nasrl.cli, nasrl.training.child, nasrl.data, nasrl.models.cnn"
ARCH = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 24, "inputs": []},
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 24, "inputs": [0]},
]}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nasrl-startup-"))
    (work / "arch.json").write_text(json.dumps(ARCH))
    (work / "config.yaml").write_text("child:\n  dataset: digits\n  epochs: 1\n  threads: 1\n")
    nasrl = str(Path(sys.executable).with_name("nasrl"))
    rows = {"import": [], "process": [], "setup": [], "train": []}
    for i in range(args.repeats):
        rows["import"].append(timed([sys.executable, "-c", IMPORTS]))
        out = work / f"run{i}"
        rows["process"].append(timed([nasrl, "train-child", "--arch", str(work / "arch.json"),
                                      "--config", str(work / "config.yaml"), "--out", str(out)]))
        metrics = json.loads((out / "metrics.json").read_text())
        rows["setup"].append(metrics["setup_seconds"])
        rows["train"].append(metrics["seconds"] - metrics["setup_seconds"])
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"nasrl train-child start-up, {args.repeats} runs, medians:")
    print(f"  import of train-child's modules : {med['import']:.2f} s")
    print(f"  setup to first batch            : {med['setup']:.2f} s")
    print(f"  one digits epoch + result files : {med['train']:.2f} s")
    print(f"  whole process                   : {med['process']:.2f} s")
    print(f"  fixed cost (process - train)    : {med['process'] - med['train']:.2f} s")


if __name__ == "__main__":
    main()
