"""The ``nasrl`` command line.

    nasrl bench --space SPACE.yaml --table TABLE.csv --key-column arch --reward-column acc \
        --strategy reinforce --strategy random --budget 500 --repeats 20 --out results/bench
    nasrl validate --space cnn_v1 ARCH.json
    nasrl describe ARCH.json
    nasrl train-child --arch ARCH.json --config config/config.yaml --out DIR
    nasrl presets
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nasrl.architecture import ArchitectureError, canonical_json, content_key, read_json

BENCH_EPILOG = """\
Each strategy runs --repeats times (seeds S, S+1, ...) for --budget samples; a sample's
reward is the table's --reward-column value for its key (the space's key template filled
with the chosen values). Writes OUT/curves.csv (strategy, repeat, step, key, reward,
best_so_far) and OUT/summary.json (per strategy: mean and std over repeats of the best
reward, of the --report-column value of the best-by-reward architecture, and of the mean
of the top-1/5/15 unique architectures found), at the budget and at each --eval-at step.

REINFORCE keeps the paper's minibatch of m = 8 architectures per update, but its default
learning rate here is 0.01, not the paper's 6e-4: budgets of a few hundred samples give
the controller ~60 updates instead of the paper's 1,600 (chosen on NAS-Bench-Macro with
seeds 1000-1019; see docs/benchmarks.md).

Example (NAS-Bench-Macro, 8 layers x 3 ops):
  nasrl bench --space nas_bench_macro \\
      --table benchmarks/data/nas-bench-macro-cifar10.csv --key-column arch \\
      --reward-column test_acc_seed0 --report-column mean_test_acc \\
      --strategy reinforce --strategy random --budget 500 --eval-at 100 \\
      --repeats 20 --seed 0 --out results/bench-macro
"""


def _space(value: str):
    from nasrl.spaces.presets import resolve_space

    return resolve_space(value)


def cmd_bench(args: argparse.Namespace) -> None:
    import torch

    from nasrl.search.bench import ResultsTable, run_bench, write_bench
    from nasrl.spaces.presets import resolve_space

    torch.set_num_threads(1)  # the controller is tiny: extra threads only add synchronisation

    space = resolve_space(args.space, default_type="tabular")
    if space.type != "tabular":
        raise ArchitectureError(f"{args.space}: bench needs a tabular space, got type {space.type!r}")
    table = ResultsTable(args.table, args.key_column, args.reward_column, args.report_column, args.reward_transform)
    config = {"lr": args.lr, "baseline_decay": args.baseline_decay, "entropy_weight": args.entropy_weight}
    curves, summary = run_bench(space, table, args.strategy or ["reinforce", "random"], args.budget, args.repeats,
                                args.seed, args.batch_size, config, args.eval_at, args.replicas, args.staleness)
    write_bench(args.out, curves, summary)
    print(json.dumps({"out": str(args.out), "strategies": summary["strategies"]}, indent=2))


def cmd_validate(args: argparse.Namespace) -> None:
    space = _space(args.space)
    arch = space.validate(read_json(args.arch))
    print(json.dumps({"key": content_key(arch), "space": space.type, "decisions": space.describe_decisions(arch)}))


def cmd_describe(args: argparse.Namespace) -> None:
    from nasrl.models.describe import describe

    print(json.dumps(describe(read_json(args.arch), args.in_channels, args.num_classes, args.input_size, args.hidden_size)))


def cmd_train_child(args: argparse.Namespace) -> None:
    from nasrl.settings import load_child_config

    config = load_child_config(args.config, args.runtime)
    arch = read_json(args.arch)
    if config.surrogate is not None:  # a table lookup: no torch or Lightning import
        from nasrl.training.surrogate import train_surrogate

        metrics = train_surrogate(arch, config, args.out)
    else:
        from nasrl.training.child import train_child

        metrics = train_child(arch, config, args.out, evaluate_test=args.test)
    print(json.dumps({k: metrics[k] for k in ("status", "reward", "best_val", "epochs", "seconds", "error")}))


def cmd_presets(args: argparse.Namespace) -> None:
    from nasrl.spaces.presets import ARCHITECTURE_SPACES, space_names

    print(json.dumps({"spaces": space_names(), "architectures": ARCHITECTURE_SPACES}, indent=2))


def cmd_key(args: argparse.Namespace) -> None:
    print(content_key(json.loads(canonical_json(read_json(args.arch)))))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasrl", description="Neural Architecture Search with Reinforcement Learning")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="measure search strategies on a published results table (no training)",
                           epilog=BENCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--space", required=True, help="tabular space: a preset name (nas_bench_macro) or a YAML file")
    bench.add_argument("--table", required=True, type=Path, help="results table (CSV)")
    bench.add_argument("--key-column", required=True, help="column holding the architecture keys")
    bench.add_argument("--reward-column", required=True, help="column the search is rewarded with")
    bench.add_argument("--report-column", help="column reported for the architectures found (e.g. test accuracy)")
    bench.add_argument("--reward-transform", choices=["identity", "cube"], default="identity",
                       help="cube = the paper's CIFAR-10 reward, accuracy^3 (default: identity)")
    bench.add_argument("--strategy", action="append", choices=["reinforce", "random"],
                       help="repeat to compare several (default: reinforce and random)")
    bench.add_argument("--budget", type=int, required=True, help="samples per search")
    bench.add_argument("--repeats", type=int, default=10, help="searches per strategy (default: 10)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the first repeat (default: 0)")
    bench.add_argument("--eval-at", type=int, action="append", help="also summarise after this many samples")
    bench.add_argument("--batch-size", type=int, default=8, help="architectures per controller update, m (default: 8)")
    bench.add_argument("--replicas", type=int, default=1,
                       help="K: a round samples K batches of --batch-size and applies K updates (default: 1)")
    bench.add_argument("--staleness", type=int, default=0,
                       help="s: round r is sampled from controller r - s, as in the pipeline (default: 0)")
    bench.add_argument("--lr", type=float, default=0.01, help="controller Adam learning rate (default: 0.01)")
    bench.add_argument("--baseline-decay", type=float, default=0.95, help="EMA baseline decay per reward (default: 0.95)")
    bench.add_argument("--entropy-weight", type=float, default=0.0, help="entropy bonus, not in the paper (default: 0)")
    bench.add_argument("--out", required=True, type=Path, help="output folder")
    bench.set_defaults(func=cmd_bench)

    validate = sub.add_parser("validate", help="check an architecture JSON against a space; print its key and decisions")
    validate.add_argument("--space", required=True, help="space preset name or YAML file")
    validate.add_argument("arch", type=Path, help="architecture JSON file")
    validate.set_defaults(func=cmd_validate)

    key = sub.add_parser("key", help="print the content key of an architecture JSON file")
    key.add_argument("arch", type=Path)
    key.set_defaults(func=cmd_key)

    describe = sub.add_parser("describe", help="print a JSON summary of an architecture (space, depth, parameters, decisions)")
    describe.add_argument("arch", type=Path, help="architecture JSON file")
    describe.add_argument("--in-channels", type=int, default=3, help="CNN input channels for the parameter count (default: 3)")
    describe.add_argument("--num-classes", type=int, default=10, help="CNN classes for the parameter count (default: 10)")
    describe.add_argument("--input-size", type=int, default=200, help="cell input size for the parameter count (default: 200)")
    describe.add_argument("--hidden-size", type=int, default=200, help="cell hidden size for the parameter count (default: 200)")
    describe.set_defaults(func=cmd_describe)

    train = sub.add_parser("train-child", help="train one child architecture; write metrics.json, curve.csv, model.pt",
                           description="Train one child. A child that fails or diverges still writes metrics.json "
                                       "(status failed|diverged, the failure reward) and exits 0.")
    train.add_argument("--arch", required=True, type=Path, help="architecture JSON file")
    train.add_argument("--config", required=True, type=Path, help="YAML config; its `child` section (or the whole file)")
    train.add_argument("--runtime", type=Path, help="YAML of runtime settings (accelerator, threads) over --config's; "
                                                    "they do not change the child's key")
    train.add_argument("--out", required=True, type=Path, help="output folder")
    train.add_argument("--test", action="store_true", help="also evaluate on the test split (final models only)")
    train.set_defaults(func=cmd_train_child)

    from nasrl.pipeline.cli import add_commands
    from nasrl.tracking.cli import add_track_command

    add_commands(sub)
    add_track_command(sub)

    presets = sub.add_parser("presets", help="list the shipped spaces and architectures")
    presets.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ArchitectureError, ValueError) as err:
        print(f"nasrl {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
