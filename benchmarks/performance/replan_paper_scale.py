"""Time Snakemake spends re-planning after each round's checkpoint, in a 1,600-round search.

    python benchmarks/performance/replan_paper_scale.py [--rounds-to-run 4]

Runs config/cifar10-paper.yaml's controller schedule (1,600 rounds, cnn_v1 space) with
tiny children (digits, 1 child per round, 1 batch of training) so that the search's own work
is small, lets a few rounds complete, then stops. From the Snakemake log it reports, for each
completed sample_architectures checkpoint, the seconds until the next job started: the DAG
update over all remaining rounds. Timestamps have 1-second resolution.
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
    args = parser.parse_args()
    work = workflow_copy("nasrl-replan-")
    config = yaml.safe_load((work / "config" / "cifar10-paper.yaml").read_text())
    config["child"] = {"dataset": "digits", "epochs": 1, "limit_train_batches": 1, "threads": 1}
    config["search"]["children_per_round"] = 1
    (work / "config" / "replan.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log_path = work / "run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(Path(sys.executable).with_name("snakemake")), "--cores", "2", "--configfile",
                                    "config/replan.yaml"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        results = work / "results" / config["experiment"] / "rounds"
        while len(list(results.glob("*/rewards.parquet"))) < args.rounds_to_run and process.poll() is None:
            time.sleep(1)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    timeline = events(log_path.read_text())
    gaps = []
    for i, (stamp, line) in enumerate(timeline):
        if "Finished jobid" in line and "sample_architectures" in line:
            following = [s for s, text in timeline[i + 1:] if text.startswith(("rule ", "localrule "))]
            if following:
                gaps.append((following[0] - stamp).total_seconds())
    print(f"1,600-round search: seconds from each sample_architectures checkpoint to the next job: {gaps}")


if __name__ == "__main__":
    main()
