"""Time Snakemake spends re-planning after each sampling checkpoint, in a 1,600-update search.

    python benchmarks/performance/replan_paper_scale.py [--rounds-to-run 4] [--updates rounds|async]

Runs config/cifar10-paper.yaml's space (cnn_v1) with 1,600 controller updates and tiny
children (digits, 1 child per update, 1 batch of training) so that the search's own work is
small, lets a few rounds (or async batches) complete, then stops. ``rounds``: 1,600 rounds of
one replica; ``async``: the preset's 100 replica chains of 16 batches, one checkpoint per
batch. From the Snakemake log it reports, for each completed sampling checkpoint, the seconds
until the next job started: the DAG update over everything still planned. Timestamps have
1-second resolution.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import workflow_copy  # noqa: E402

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def events(log: str) -> list[tuple[datetime, str]]:
    """(time, line) for the line after each timestamp: "Finished jobid ..." or "rule X:"."""
    out, stamp = [], None
    for line in log.splitlines():
        m = STAMP.match(line.strip())
        if m:
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif stamp is not None and line.strip():
            out.append((stamp, line.strip()))
            stamp = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds-to-run", type=int, default=4)
    parser.add_argument("--updates", choices=["rounds", "async"], default="rounds")
    args = parser.parse_args()
    work = workflow_copy("nasrl-replan-")
    config = yaml.safe_load((work / "config" / "cifar10-paper.yaml").read_text())
    config["child"] = {"dataset": "digits", "epochs": 1, "limit_train_batches": 1, "threads": 1,
                       "early_stopping": {"enabled": False}}  # merged over config/config.yaml, which stops early
    shape = {"rounds": {"rounds": 1600, "replicas": 1}, "async": {"rounds": 16, "replicas": 100}}[args.updates]
    config["search"].update(children_per_round=1, staleness=0, updates=args.updates, **shape)
    (work / "config" / "replan.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log_path = work / "run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(Path(sys.executable).with_name("snakemake")), "--cores", "2", "--configfile",
                                    "config/replan.yaml"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        results = work / "results" / config["experiment"] / ("rounds" if args.updates == "rounds" else "batches")
        while len(list(results.glob("*/rewards.parquet"))) < args.rounds_to_run and process.poll() is None:
            time.sleep(1)
        ended = process.poll() is not None  # before enough rounds: a failed run, reported below
        if not ended:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    if ended and process.returncode != 0:
        raise SystemExit(f"snakemake ended with status {process.returncode}:\n{log_path.read_text()[-2000:]}")
    timeline = events(log_path.read_text())
    gaps = []
    for i, (stamp, line) in enumerate(timeline):
        if "Finished jobid" in line and ("sample_architectures" in line or "sample_batch" in line):
            following = [s for s, text in timeline[i + 1:] if text.startswith(("rule ", "localrule "))]
            if following:
                gaps.append((following[0] - stamp).total_seconds())
    print(f"1,600-update search ({args.updates}): seconds from each sampling checkpoint to the next job: {gaps}")


if __name__ == "__main__":
    main()
