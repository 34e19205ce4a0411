"""The ``nasrl`` command line: the user's verbs, then the workflow's steps (listed apart).

    nasrl show results/digits-cnn                      a search: rounds, best children, final grid
    nasrl compare results/A results/B -o cmp.png       searches side by side: rewards per round, best, finals
    nasrl draw cnn_figure7 -o fig7.svg                 an architecture's diagram (SVG or PNG)
    nasrl widen results/EXP --filters 40 -o wide.json  the found CNN, 40 more filters per layer (Table 1)
    nasrl describe results/digits-cnn                  the search's best architecture as a table
    nasrl validate --space cnn_v1 ARCH.json
    nasrl plan-cluster --slots 800 --children 12800      replicas and staleness for N slots, simulated
    nasrl train-child --arch ARCH.json --config config/config.yaml --out DIR
    nasrl bench --space SPACE.yaml --table TABLE.csv --key-column arch --reward-column acc \
        --strategy reinforce --strategy random --budget 500 --repeats 20 --out results/bench

Every verb that takes an architecture takes it the same way (nasrl.commands.arguments): a
JSON file, a final/best.json, a search's results folder (its best) or a preset name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

from nasrl.architecture import ArchitectureError, canonical_json, content_key
from nasrl.errors import ResultsError
from nasrl.space_kinds import KINDS

BENCH_EPILOG = """\
Each strategy runs --repeats times (seeds S, S+1, ...) for --budget samples, or with
--budget-unit trainings until it has trained --budget distinct children (a repeated
architecture is free, as in the pipeline, which trains it once); a sample's reward is the
table's --reward-column value for its key (the space's key template filled with the chosen
values). Writes OUT/curves.csv (strategy, repeat, step, trainings, round, replica, key,
reward, best_so_far) and OUT/summary.json (per strategy: mean and std over repeats of the
best reward, of the --report-column value of the best-by-reward architecture, of the mean
of the top-1/5/15 unique architectures found, and of the samples and trainings spent), at
the budget and at each --eval-at point (in the budget's unit).

REINFORCE keeps the paper's minibatch of m = 8 architectures per update, but its default
learning rate here is 0.01, not the paper's 6e-4: budgets of a few hundred samples give
the controller ~60 updates instead of the paper's 1,600 (chosen on NAS-Bench-Macro with
seeds 1000-1019; see docs/benchmarks.md).

--updates async runs the paper's asynchronous replicas (Sec. 3.3) instead of rounds: each of
--replicas K replicas samples --batch-size children from the newest controller, the children
train for simulated log-normal durations (median 1, spread --duration-sigma, seeded from the
repeat's seed), and when a replica's slowest child ends its update is applied to the newest
controller and it samples its next batch (each replica a fixed chain, the batches of a
round's offsets). curves.csv then lists the samples in that completion order (round = the
replica's batch number); K = 1 is the synchronous search. It takes no --staleness.

Example (NAS-Bench-Macro, 8 layers x 3 ops):
  nasrl bench --space nas_bench_macro \\
      --table nasrl:nas-bench-macro-cifar10.csv --key-column arch \\
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

    if args.updates == "async" and args.staleness != 0:
        raise ValueError(f"--updates async takes no --staleness (a replica samples from the newest controller), "
                         f"got --staleness {args.staleness}")
    if args.updates != "async" and args.duration_sigma is not None:
        raise ValueError("--duration-sigma sets the simulated durations of --updates async only")
    if args.duration_sigma is None:
        from nasrl.planning.durations import ASSUMED_SIGMA

        args.duration_sigma = ASSUMED_SIGMA
    space = resolve_space(args.space, default_type="tabular")
    if KINDS[space.type].trainable:  # bench looks each child up in a table: a space of table rows
        raise ArchitectureError(f"{args.space}: bench needs a tabular space, got type {space.type!r}")
    table = ResultsTable(args.table, args.key_column, args.reward_column, args.report_column, args.reward_transform)
    config = {"lr": args.lr, "baseline_decay": args.baseline_decay, "entropy_weight": args.entropy_weight}
    if args.controller_config is not None:  # a search.controller mapping: its keys win over the flags
        from nasrl.settings import ReinforceConfig, read_yaml

        values = read_yaml(args.controller_config)
        if isinstance(values.get("search"), dict):  # a workflow config (block): its search.controller
            values = values["search"].get("controller") or {}
        config.update(ReinforceConfig.from_dict(values, where="--controller-config").model_dump(exclude_unset=True))
    evolution = {"population": args.population, "tournament": args.tournament}
    curves, summary = run_bench(space, table, args.strategy or ["reinforce", "random"], args.budget, args.repeats,
                                seed=args.seed, batch_size=args.batch_size, reinforce_config=config,
                                eval_at=args.eval_at, replicas=args.replicas, staleness=args.staleness,
                                budget_unit=args.budget_unit, evolution_config=evolution, updates=args.updates,
                                duration_sigma=args.duration_sigma)
    write_bench(args.out, curves, summary)
    print(json.dumps({"out": str(args.out), "strategies": summary["strategies"]}, indent=2))


def _arch(value):
    from nasrl.commands.arguments import resolve_architecture

    return resolve_architecture(value)


def cmd_validate(args: argparse.Namespace) -> None:
    source = _arch(args.arch)
    space = _space(args.space) if args.space else source.space()
    if space is None:
        raise ArchitectureError(f"{args.arch}: an architecture file names no space; give --space "
                                "(a preset name such as cnn_v1, or a YAML file)")
    arch = space.validate(source.arch)
    print(json.dumps({"key": content_key(arch), "space": space.type, "decisions": space.describe_decisions(arch)}))


def cmd_describe(args: argparse.Namespace) -> None:
    from nasrl.commands.shapes import sizes_from_config, sizes_from_search
    from nasrl.models.describe import describe, format_description

    source = _arch(args.arch)
    # The sizes the network is counted with: the search's own, a config's, then explicit flags.
    sizes = (sizes_from_search(source.results) if source.results else None) or {}
    if args.config:
        sizes.update(sizes_from_config(args.config))
    sizes.update({k: v for k, v in (("in_channels", args.in_channels), ("num_classes", args.num_classes),
                                    ("input_size", args.input_size), ("hidden_size", args.hidden_size)) if v is not None})
    summary = describe(source.arch, **sizes)
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_description(summary, source.arch, args.arch), end="")


def cmd_draw(args: argparse.Namespace) -> None:
    from nasrl.draw import draw_architecture, draw_note

    try:
        path = draw_architecture(_arch(args.arch).arch, args.out)
    except (ArchitectureError, ResultsError) as err:  # nothing to draw: a malformed or absent architecture
        if not args.or_note:
            raise
        path = draw_note(f"no diagram: {err}", args.out)
    print(path)


def cmd_widen(args: argparse.Namespace) -> None:
    from nasrl.spaces.cnn import widen
    from nasrl.io import write_json

    wide = widen(_arch(args.arch).arch, args.filters)
    write_json(args.out, wide)
    print(f"{args.out}: {len(wide['layers'])} conv layers, {args.filters} more filters each; retrain it with "
          f"final.architectures in a space with extra_filters raised by {args.filters} (cnn_v3 -> cnn_v3_plus40)")


def cmd_show(args: argparse.Namespace) -> None:
    from nasrl.commands.show import show_search, watch

    if args.watch is None:
        print(show_search(args.results), end="")
    else:
        watch(args.results, args.watch)


def cmd_compare(args: argparse.Namespace) -> None:
    from nasrl.commands.compare import compare_searches

    print(compare_searches(args.results, args.out), end="")


def cmd_train_child(args: argparse.Namespace) -> None:
    from nasrl.settings import load_child_config

    config = load_child_config(args.config, args.runtime)
    arch = _arch(args.arch).arch
    if config.surrogate is not None:  # a table lookup: no torch or Lightning import
        from nasrl.training.surrogate import train_surrogate

        metrics = train_surrogate(arch, config, args.out)
    else:
        from nasrl.spaces.containing import validated

        # A malformed file is the caller's error (one line, exit 1), not a child that failed to
        # train; checked before torch and Lightning are imported.
        validated(arch)
        # On a machine with several GPUs, a device of its own (a lease on one of child.per_gpu
        # slots): taken before anything initialises CUDA, which reads CUDA_VISIBLE_DEVICES once.
        from nasrl.training.gpu_lease import lease_gpu

        lease_gpu(config.accelerator, config.per_gpu)
        from nasrl.training.child import train_child

        metrics = train_child(arch, config, args.out, test=args.test, reference=args.reference)
    print(json.dumps({k: metrics[k] for k in ("status", "reward", "best_val", "epochs", "seconds", "error")}))


def cmd_presets(args: argparse.Namespace) -> None:
    from nasrl.spaces.presets import ARCHITECTURE_SPACES, space_names

    print(json.dumps({"spaces": space_names(), "architectures": ARCHITECTURE_SPACES}, indent=2))


def cmd_key(args: argparse.Namespace) -> None:
    print(content_key(json.loads(canonical_json(_arch(args.arch).arch))))


ARCH_HELP = "an architecture JSON file, a final/best.json, a search's results folder (its best) or a preset name"
PLUMBING_EPILOG = """\
workflow steps (run by the Snakemake rules; `nasrl STEP --help`):
  {steps}
"""


class WorkflowSteps:
    """Adds the workflow's steps as commands that `nasrl --help` lists apart from the user's verbs."""

    def __init__(self, sub: argparse._SubParsersAction):
        self.sub, self.names = sub, []

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        self.names.append(name)
        kwargs.setdefault("description", kwargs.pop("help", None))  # no help: not in the verbs' list
        return self.sub.add_parser(name, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from nasrl import __version__

    parser = argparse.ArgumentParser(prog="nasrl", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Neural Architecture Search with Reinforcement Learning "
                                                 "(Zoph & Le, ICLR 2017)")
    parser.add_argument("--version", action="version", version=f"nasrl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    show = sub.add_parser("show", help="summary of a search: rounds, best children, final grid, files, MLflow run")
    show.add_argument("results", type=Path, help="the search's folder, results/EXPERIMENT")
    show.add_argument("--watch", type=float, metavar="SECONDS",
                      help="show it again every SECONDS until the search has finished (Ctrl-C stops)")
    show.set_defaults(func=cmd_show)

    compare = sub.add_parser("compare", help="searches side by side: reward per round, best found, final runs; "
                                             "-o: a figure (Fig. 6 with a random control)")
    compare.add_argument("results", nargs="+", type=Path, help="two or more search folders, results/EXPERIMENT")
    compare.add_argument("-o", "--out", type=Path, help="the figure file, .png or .svg: reward per round of each "
                                                        "search, and the paper's Fig. 6 when one is a random search")
    compare.set_defaults(func=cmd_compare)

    draw = sub.add_parser("draw", help="draw an architecture: a CNN's layers (Fig. 7), a cell's tree (Fig. 5, 8)")
    draw.add_argument("arch", help=ARCH_HELP)
    draw.add_argument("-o", "--out", required=True, type=Path, help="the diagram file, .svg or .png")
    draw.add_argument("--or-note", action="store_true",
                      help="when there is nothing to draw (a best.json without an architecture, a tabular space), "
                           "write a figure saying why instead of failing (the workflow's rule)")
    draw.set_defaults(func=cmd_draw)

    widen = sub.add_parser("widen", help="a found CNN with more filters in every layer (Table 1's +40 network)")
    widen.add_argument("arch", help=ARCH_HELP)
    widen.add_argument("--filters", type=int, default=40, help="filters added to every conv layer (default: 40)")
    widen.add_argument("-o", "--out", required=True, type=Path, help="the widened architecture's JSON file")
    widen.set_defaults(func=cmd_widen)

    describe = sub.add_parser("describe", help="an architecture as a table: layers or cell nodes, parameters",
                              description="Sizes for the parameter count: a search's own (its data.json and "
                                          "settings) for a results folder or its best.json, else --config's "
                                          "dataset and language model, else 3 channels and 10 classes (CNN), "
                                          "200 and 200 (cell); the flags below override them.")
    describe.add_argument("arch", help=ARCH_HELP)
    describe.add_argument("--json", action="store_true", help="print JSON (space, key, depth, params, decisions)")
    describe.add_argument("--config", type=Path, help="YAML config: its dataset's channels and classes, or "
                                                      "vocabulary, and its language-model sizes")
    describe.add_argument("--in-channels", type=int, help="CNN input channels")
    describe.add_argument("--num-classes", type=int, help="CNN classes")
    describe.add_argument("--input-size", type=int, help="cell input size")
    describe.add_argument("--hidden-size", type=int, help="cell hidden size")
    describe.set_defaults(func=cmd_describe)

    validate = sub.add_parser("validate", help="check an architecture against a space; print its key and decisions")
    validate.add_argument("--space", help="space preset name or YAML file (default: a preset architecture's or "
                                          "the search's own space)")
    validate.add_argument("arch", help=ARCH_HELP)
    validate.set_defaults(func=cmd_validate)

    key = sub.add_parser("key", help="print the content key of an architecture")
    key.add_argument("arch", help=ARCH_HELP)
    key.set_defaults(func=cmd_key)

    presets = sub.add_parser("presets", help="list the shipped spaces and architectures")
    presets.set_defaults(func=cmd_presets)

    train = sub.add_parser("train-child", help="train one child architecture; write metrics.json, curve.csv, model.pt",
                           description="Train one child. A child that fails or diverges still writes metrics.json "
                                       "(status failed|diverged|too_large, the failure reward) and exits 0.")
    train.add_argument("--arch", required=True, help=ARCH_HELP)
    train.add_argument("--config", required=True, type=Path, help="YAML config; its `child` section (or the whole file)")
    train.add_argument("--runtime", type=Path, help="YAML of runtime settings (accelerator, threads, size limits ...) "
                                                    "over --config's; "
                                                    "they do not change the child's key")
    train.add_argument("--out", required=True, type=Path, help="output folder")
    train.add_argument("--test", action="store_true", help="also evaluate on the test split (final models only)")
    train.add_argument("--reference", type=Path, help="reference.csv of earlier children (key, epoch, value) that the "
                                                      "median stopping rule compares with, when child.early_stopping is on")
    train.set_defaults(func=cmd_train_child)

    bench = sub.add_parser("bench", help="measure search strategies on a published results table (no training)",
                           epilog=BENCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--space", required=True, help="tabular space: a preset name (nas_bench_macro) or a YAML file")
    bench.add_argument("--table", required=True, help="results table (CSV): a file, or nasrl:FILE for one that ships "
                                                      "with nasrl (nasrl:nas-bench-macro-cifar10.csv)")
    bench.add_argument("--key-column", required=True, help="column holding the architecture keys")
    bench.add_argument("--reward-column", required=True, help="column the search is rewarded with")
    bench.add_argument("--report-column", help="column reported for the architectures found (e.g. test accuracy)")
    bench.add_argument("--reward-transform", choices=["identity", "cube"], default="identity",
                       help="cube = the paper's CIFAR-10 reward, accuracy^3 (default: identity)")
    bench.add_argument("--strategy", action="append", choices=["reinforce", "random", "evolution"],
                       help="repeat to compare several (default: reinforce and random)")
    bench.add_argument("--budget", type=int, required=True, help="samples (or trainings) per search")
    bench.add_argument("--budget-unit", choices=["samples", "trainings"], default="samples",
                       help="count every sample, or only distinct children trained (default: samples)")
    bench.add_argument("--repeats", type=int, default=10, help="searches per strategy (default: 10)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the first repeat (default: 0)")
    bench.add_argument("--eval-at", type=int, action="append", help="also summarise after this many samples")
    bench.add_argument("--batch-size", type=int, default=8, help="architectures per controller update, m (default: 8)")
    bench.add_argument("--replicas", type=int, default=1,
                       help="K: a round samples K batches of --batch-size and applies K updates (default: 1)")
    bench.add_argument("--staleness", type=int, default=0,
                       help="s: round r is sampled from controller r - s, as in the pipeline (default: 0)")
    bench.add_argument("--updates", choices=["rounds", "async"], default="rounds",
                       help="rounds (K updates after each round, as the pipeline runs them) or async (each "
                            "replica's update as soon as its children end, in simulated completion order) "
                            "(default: rounds)")
    bench.add_argument("--duration-sigma", type=float, default=None,
                       help="async: log-normal spread of the children's simulated durations "
                            "(default: 0.703, the spread nasrl plan-cluster assumes)")
    bench.add_argument("--lr", type=float, default=0.01, help="controller Adam learning rate (default: 0.01)")
    bench.add_argument("--baseline-decay", type=float, default=0.95, help="EMA baseline decay per reward (default: 0.95)")
    bench.add_argument("--entropy-weight", type=float, default=0.0, help="entropy bonus, not in the paper (default: 0)")
    bench.add_argument("--controller-config", type=Path,
                       help="YAML of search.controller keys, flat or in a config's search.controller "
                            "(config/controller-small-budget.yaml); they override the flags above")
    bench.add_argument("--population", type=int, default=20, help="evolution: population P (default: 20)")
    bench.add_argument("--tournament", type=int, default=5, help="evolution: tournament size S (default: 5)")
    bench.add_argument("--out", required=True, type=Path, help="output folder")
    bench.set_defaults(func=cmd_bench)

    from nasrl.pipeline.step_commands import add_commands
    from nasrl.tracking.track_command import add_track_command

    add_track_command(sub)
    from nasrl.commands.data import add_data_command

    add_data_command(sub)
    from nasrl.commands.plan_cluster import add_plan_cluster_command

    add_plan_cluster_command(sub)

    steps = WorkflowSteps(sub)
    add_commands(steps)
    parser.epilog = PLUMBING_EPILOG.format(steps=textwrap.fill(", ".join(steps.names), 88, subsequent_indent="  ",
                                                                 break_on_hyphens=False))
    return parser


# The status of a command whose output pipe closed early (`nasrl describe X | head`): the
# shell's for a process killed by SIGPIPE, 128 + 13, as other command line tools end.
BROKEN_PIPE_STATUS = 141


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, while it can still be handled, not at exit
    except BrokenPipeError:
        # The reader wants no more output. Python would try again to flush at exit and print
        # an ignored exception: stdout is pointed at /dev/null first (the recipe of Python's
        # signal module documentation). Files the command wrote stay written.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_STATUS
    except (ArchitectureError, ValueError) as err:
        print(f"nasrl {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
