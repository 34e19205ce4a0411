"""How long controller-drawn children take to train, and how heavy the tail of their durations is.

    python benchmarks/performance/child_durations.py [--config config/config.yaml] [--children 80] [--epochs N]
        [--depths 3 4] [--json OUT]
    python benchmarks/performance/child_durations.py --cifar-shaped [--children 48] [--depths 6 8] [--epochs 1]

Draws architectures from the REINFORCE controller at its initial weights (the config's search
seed and controller settings; every child of a minibatch distinct, as the search samples them)
at each depth of ``--depths`` in turn (default: the depths the config's schedule reaches during
its search; children of one round share a depth, so the spread that makes a round wait for its
slowest child is the spread at one depth). Each child trains for a fixed number of epochs
through ``nasrl train-child``'s code path (``train_child``, early stopping off), one after
another in this process (as a warm-start worker runs them), after one warm-up child that is not
counted. The child's settings are the config's ``child`` section.

Default: the config's space and dataset (config/config.yaml: the digits CNN space). With
``--cifar-shaped``: the paper's CNN space (Sec. 4.1: filters 1-7 x 1-7, 24-64 filters; its
schedule starts at depth 6) on CIFAR-10-shaped random data (benchmarks/common.py), on the GPU
when there is one.

A child's duration is ``train_child``'s seconds: data set up, network built, trained,
validated, files written (what a slot is busy for, less the process start). Reported:
- the median; the expected slowest of 8 and of 100 children relative to the median, by
  resampling the measured durations (the mean of the maximum of k draws with replacement,
  20,000 resamples; with fewer than 100 children the slowest of 100 is bounded by the slowest
  measured), and as a log-normal of the fitted sigma would give them;
- the fitted log-normal sigma: the standard deviation of log(duration), over all children and
  pooled within depths (each depth's mean log taken out);
- the Pearson and Spearman correlation of duration with the forward FLOPs per image
  (``nasrl.models.flops``, counted from the architecture) and with the parameter count;
- the same for the CPU time of the process during the child (wall time on a shared machine
  includes waiting for a core; CPU time does not).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from nasrl.models.flops import cnn_flops
from nasrl.planning.durations import expected_max_ratio
from nasrl.search.registry import make_strategy
from nasrl.settings import ChildConfig
from nasrl.spaces import build_space
from nasrl.spaces.cnn import DEFAULT_SPEC
from nasrl.training import child as child_training

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py, shared with the studies
from common import REPO, RandomCifarShaped  # noqa: E402

RESAMPLES = 20_000


def draw_children(space_spec: dict, controller: dict, seed: int, depths: list[int], per_depth: int,
                  m: int = 8) -> list[dict]:
    """``per_depth`` architectures at each depth, in minibatches of ``m`` drawn at successive
    offsets of the initial controller (the space's schedule pinned to the depth); the depths
    alternate in the returned order, so a run cut short still covers each."""
    archs = []
    for depth in depths:
        spec = {**space_spec, "depth": {"start": depth, "step": 0, "every": 1, "max": None}}
        strategy = make_strategy("reinforce", build_space(spec), seed, controller)
        drawn: list[dict] = []
        offset = 0
        while len(drawn) < per_depth:
            drawn += strategy.ask(m, offset)
            offset += m
        archs.append([{"depth": depth, "arch": a} for a in drawn[:per_depth]])
    return [item for group in zip(*archs) for item in group]


def expected_max_resampled(x: np.ndarray, k: int, rng: np.random.Generator) -> float:
    """E[max of k draws with replacement from x], by resampling."""
    return float(x[rng.integers(0, len(x), size=(RESAMPLES, k))].max(axis=1).mean())


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their mean rank."""
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            r[tied] = r[tied].mean()
    return r


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def spread(x: np.ndarray, depth: np.ndarray, seed: int = 0) -> dict:
    """The tail figures of durations ``x`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    median = float(np.median(x))
    logs = np.log(x)
    sigma = float(logs.std(ddof=1))
    groups = np.unique(depth)
    residual = np.concatenate([logs[depth == d] - logs[depth == d].mean() for d in groups])
    pooled = float(math.sqrt((residual ** 2).sum() / max(1, len(x) - len(groups))))
    return {
        "n": int(len(x)), "median": median, "mean": float(x.mean()), "min": float(x.min()), "max": float(x.max()),
        "p90": float(np.quantile(x, 0.9)),
        "slowest_of_8": expected_max_resampled(x, 8, rng) / median,
        "slowest_of_100": expected_max_resampled(x, 100, rng) / median,
        "sigma": sigma, "sigma_within_depth": pooled,
        "lognormal_slowest_of_8": expected_max_ratio(sigma, 8), "lognormal_slowest_of_100": expected_max_ratio(sigma, 100),
        "lognormal_within_slowest_of_8": expected_max_ratio(pooled, 8),
        "lognormal_within_slowest_of_100": expected_max_ratio(pooled, 100),
    }


def correlations(x: np.ndarray, rows: list[dict]) -> dict:
    out = {}
    for what in ("flops", "params"):
        v = np.array([r[what] for r in rows], dtype=float)
        out[what] = {"pearson": pearson(x, v), "spearman": pearson(ranks(x), ranks(v))}
    return out


def summarize(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]
    depth = np.array([r["depth"] for r in ok])
    out = {}
    for what in ("seconds", "train_seconds", "cpu_seconds"):
        x = np.array([r[what] for r in ok], dtype=float)
        out[what] = {**spread(x, depth), "correlation": correlations(x, ok)}
    out["by_depth"] = {int(d): {"n": int((depth == d).sum()),
                                "median_seconds": float(np.median([r["seconds"] for r in ok if r["depth"] == d])),
                                "median_mflops": float(np.median([r["flops"] for r in ok if r["depth"] == d])) / 1e6}
                       for d in np.unique(depth)}
    out["failed"] = len(rows) - len(ok)
    return out


def table(summary: dict) -> str:
    head = ("| duration | children | median s | slowest of 8 / median | slowest of 100 / median | sigma (all) "
            "| sigma (within depth) | log-normal slowest of 8 / of 100 (within-depth sigma) "
            "| Pearson, Spearman with FLOPs | with parameters |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for what, label in (("seconds", "whole child (wall)"), ("train_seconds", "from first batch (wall)"),
                        ("cpu_seconds", "whole child (CPU time)")):
        s = summary[what]
        c = s["correlation"]
        lines.append(f"| {label} | {s['n']} | {s['median']:.2f} | {s['slowest_of_8']:.2f} | {s['slowest_of_100']:.2f} "
                     f"| {s['sigma']:.3f} | {s['sigma_within_depth']:.3f} "
                     f"| {s['lognormal_within_slowest_of_8']:.2f} / {s['lognormal_within_slowest_of_100']:.2f} "
                     f"| {c['flops']['pearson']:.2f}, {c['flops']['spearman']:.2f} "
                     f"| {c['params']['pearson']:.2f}, {c['params']['spearman']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--cifar-shaped", action="store_true",
                        help="the paper's CNN space on CIFAR-10-shaped random data (GPU if available)")
    parser.add_argument("--children", type=int, default=None, help="default: 80 (48 with --cifar-shaped)")
    parser.add_argument("--depths", type=int, nargs="+", default=None,
                        help="default: the depths the config's schedule reaches (6 8 with --cifar-shaped)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's child.epochs (1 with --cifar-shaped)")
    parser.add_argument("--train-images", type=int, default=8192, help="--cifar-shaped: training images")
    parser.add_argument("--seed", type=int, default=None, help="controller seed (default: the config's search.seed)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="start no child after this many seconds; summarise the children trained")
    parser.add_argument("--json", metavar="OUT", help="write every child's row and the summary to OUT")
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    search = config.get("search", {})
    seed = search.get("seed", 0) if args.seed is None else args.seed
    child = dict(config.get("child", {}))
    child["early_stopping"] = {"enabled": False}
    if args.cifar_shaped:
        space_spec, controller = dict(DEFAULT_SPEC), {}
        child.update(dataset="cifar10", threads=None, epochs=args.epochs or 1)
        depths = args.depths or [6, 8]
        children = args.children or 48
    else:
        space_spec, controller = search["space"], search.get("controller", {})
        if args.epochs:
            child["epochs"] = args.epochs
        space = build_space(space_spec)
        planned = search.get("rounds", 1) * search.get("children_per_round", 8)
        depths = args.depths or sorted({space.depth_at(i) for i in range(planned)})
        children = args.children or 80
    child_config = ChildConfig.from_dict(child)
    per_depth = math.ceil(children / len(depths))
    drawn = draw_children(space_spec, controller, seed, depths, per_depth)
    warmup = draw_children(space_spec, controller, seed + 1, depths[:1], 1)

    data = None
    if args.cifar_shaped:
        def data(arch, config):  # CIFAR-10's shapes, random pixels: a fresh data module per child
            datamodule = RandomCifarShaped(train=args.train_images, val=args.train_images // 8,
                                           batch_size=config.batch_size, seed=config.seed)
            datamodule.setup("fit")
            return datamodule
        child_training.child_datamodule = data
    in_channels, size, classes = (3, 32, 10) if args.cifar_shaped else (1, 8, 10)

    load_before = os.getloadavg()
    began = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="nasrl-durations-") as tmp:
        for i, item in enumerate(warmup + drawn):
            if args.max_seconds is not None and time.perf_counter() - began > args.max_seconds:
                print(f"--max-seconds {args.max_seconds:g} reached: {len(rows)} of {len(drawn)} children trained")
                break
            cpu = time.process_time()
            metrics = child_training.train_child(item["arch"], child_config, Path(tmp) / str(i))
            cpu = time.process_time() - cpu
            if i < len(warmup):
                continue
            row = {"index": i - len(warmup), "depth": item["depth"], "key": metrics["arch_key"],
                   "status": metrics["status"], "error": metrics["error"], "seconds": metrics["seconds"],
                   "setup_seconds": metrics["setup_seconds"], "cpu_seconds": cpu,
                   "train_seconds": metrics["seconds"] - (metrics["setup_seconds"] or 0.0),
                   "params": metrics["params"], "flops": cnn_flops(item["arch"], in_channels, size, classes),
                   "best_val": metrics["best_val"], "arch": item["arch"]}
            rows.append(row)
            print(f"child {row['index']:3d}  depth {row['depth']}  {row['status']:7s}  {row['seconds']:6.2f} s  "
                  f"cpu {cpu:6.2f} s  {row['flops'] / 1e6:9.1f} MFLOP  {row['params']:>9,} params", flush=True)
    wall = time.perf_counter() - began
    summary = summarize(rows)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "CPU"
    setting = (f"{'CIFAR-shaped random data, the paper CNN space' if args.cifar_shaped else child_config.dataset + ', ' + args.config}"
               f"; {len(rows)} children at depths {depths}, {child_config.epochs} epochs, batch {child_config.batch_size}, "
               f"threads {child_config.threads}; {device}; torch {torch.__version__}")
    print(f"\n{setting}\nload average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; {wall:.0f} s\n")
    print(table(summary))
    print("\nby depth: " + ", ".join(f"{d}: {v['n']} children, median {v['median_seconds']:.2f} s, "
                                     f"{v['median_mflops']:.2f} MFLOP/image" for d, v in summary["by_depth"].items()))
    if summary["failed"]:
        print(f"{summary['failed']} children failed (left out): " + "; ".join(
            r["error"] or r["status"] for r in rows if r["status"] != "ok")[:500])
    if args.json:
        Path(args.json).write_text(json.dumps({"setting": setting, "argv": sys.argv, "wall_seconds": wall,
                                               "load_before": load_before, "load_after": os.getloadavg(),
                                               "summary": summary, "children": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
