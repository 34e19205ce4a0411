"""How long Snakemake takes to plan a paper-scale search (`snakemake -n`).

    python benchmarks/performance/plan_paper_scale.py [--repeats 3] [--configfile config/cifar10-paper.yaml]

The search's rounds are a chain of checkpoints: each round's children are known only once
its architectures are sampled, so a dry run plans the controller chain (sample, collect and
update for every round) and round 0's children, not a static DAG of 12,800 children.
Runs in a temporary copy of the workflow, so no results or metadata land in the project.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import workflow_copy  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configfile", default="config/cifar10-paper.yaml")
    args = parser.parse_args()
    work = workflow_copy("nasrl-plan-")
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    times, jobs = [], ""
    for _ in range(args.repeats):
        start = time.perf_counter()
        done = subprocess.run([snakemake, "-n", "--cores", "1", "--configfile", args.configfile, "--quiet", "rules"],
                              cwd=work, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        jobs = done.stdout + done.stderr
    print(f"snakemake -n --configfile {args.configfile}: median {statistics.median(times):.1f} s "
          f"over {args.repeats} runs ({', '.join(f'{t:.1f}' for t in times)})")
    print(jobs.strip()[-1500:])


if __name__ == "__main__":
    main()
