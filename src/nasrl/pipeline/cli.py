"""`nasrl` subcommands run by the workflow's rules, one per pipeline step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _search(path):
    from nasrl.pipeline.rounds import load_search

    return load_search(path)


def _child(path, runtime=None):
    from nasrl.settings import load_child_config

    return load_child_config(path, runtime)


def _final(path):
    from nasrl.settings import FinalSettings, read_yaml

    return FinalSettings.from_dict(read_yaml(path))


def cmd_prepare_data(a):
    from nasrl.pipeline.data import prepare_dataset

    print(json.dumps(prepare_dataset(_child(a.child), a.out)))


def cmd_init_controller(a):
    from nasrl.pipeline.rounds import init_controller

    init_controller(_search(a.search), a.out)


def cmd_sample(a):
    from nasrl.pipeline.rounds import sample_round

    rows = sample_round(_search(a.search), _child(a.child), a.controller, a.round, a.out)
    print(json.dumps({"round": a.round, "keys": [r["key"] for r in rows]}))


def cmd_collect(a):
    from nasrl.pipeline.collect import collect_rewards

    table = collect_rewards(a.samples, a.children, a.strategy, a.out)
    print(json.dumps({"mean_reward": float(table["reward"].mean()), "children": len(table)}))


def cmd_update(a):
    from nasrl.pipeline.rounds import update_controller
    from nasrl.tracking.steps import round_finished

    stats = update_controller(_search(a.search), a.controller, a.rewards, a.out, a.stats, sampler=a.sampler)
    print(json.dumps(stats))
    round_finished(a.tracking, stats["round"], a.rewards, stats)


def cmd_summarize(a):
    from nasrl.pipeline.collect import build_history, reward_curve, round_summary

    from nasrl.pipeline.plots import plot_search

    history = build_history(a.rounds, a.out)
    summary = round_summary(history)
    summary.to_csv(a.rounds_out, index=False)
    reward_curve(history).to_csv(a.curve_out, index=False)
    plot_search(history, a.plot)
    print(summary.to_string(index=False))


def cmd_select_top(a):
    from nasrl.pipeline.final import select_top

    top = select_top(a.history, a.k, a.out)
    print(json.dumps([{k: t[k] for k in ("rank", "arch_key", "reward")} for t in top]))


def cmd_retrain(a):
    from nasrl.pipeline.final import retrain
    from nasrl.tracking.steps import final_run_finished

    metrics = retrain(a.top, a.rank, a.point, _child(a.child, a.runtime), _final(a.final), a.out)
    print(json.dumps({k: metrics.get(k) for k in ("status", "rank", "point", "best_val")}))
    final_run_finished(a.tracking, a.out, a.top, a.rank)


def cmd_report(a):
    from nasrl.pipeline.final import report
    from nasrl.tracking.steps import report_written

    print(json.dumps(report(a.top, a.runs, a.history, a.experiment, a.best_out, a.metrics_out), indent=2))
    report_written(a.tracking)


TRACKING = (["--tracking"], {"type": Path, "help": "log to MLflow under this search (tracking/search.json)"})


def add_commands(sub: argparse._SubParsersAction) -> None:
    def command(name, func, help_text, *args):
        p = sub.add_parser(name, help=help_text)
        for flags, kwargs in args:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(func=func)

    path = {"type": Path, "required": True}
    command("prepare-data", cmd_prepare_data, "pipeline: load the dataset once; write its summary (data.json)",
            (["--child"], {**path, "help": "settings/child.yaml"}), (["--out"], path))
    command("init-controller", cmd_init_controller, "pipeline: write round 0's controller state",
            (["--search"], {**path, "help": "settings/search.yaml"}), (["--out"], path))
    command("sample", cmd_sample, "pipeline: sample one round's children from a controller state",
            (["--search"], path), (["--child"], path), (["--controller"], path),
            (["--round"], {"type": int, "required": True}), (["--out"], path))
    command("collect-rewards", cmd_collect, "pipeline: one round's rewards table (parquet)",
            (["--samples"], path), (["--children"], path), (["--strategy"], {"required": True}), (["--out"], path))
    command("update-controller", cmd_update, "pipeline: one controller update from a round's rewards",
            (["--search"], path), (["--controller"], path),
            (["--sampler"], {"type": Path, "help": "the controller that sampled the round (default: --controller)"}),
            (["--rewards"], path), (["--out"], path), (["--stats"], path),
            TRACKING)
    command("summarize", cmd_summarize, "pipeline: history.parquet and rewards per round",
            (["--rounds"], {"type": Path, "nargs": "+", "required": True}), (["--out"], path), (["--rounds-out"], path),
            (["--curve-out"], {**path, "help": "CSV: one row per sampled child, its reward"}), (["--plot"], {**path, "help": "PNG of the rewards"}))
    command("select-top", cmd_select_top, "pipeline: the top-k distinct architectures by reward",
            (["--history"], path), (["--k"], {"type": int, "required": True}), (["--out"], path))
    command("retrain", cmd_retrain, "pipeline: train one top architecture at one grid point",
            (["--top"], path), (["--rank"], {"type": int, "required": True}), (["--point"], {"type": int, "required": True}),
            (["--child"], path), (["--runtime"], {"type": Path, "help": "settings/runtime.yaml (accelerator, threads)"}),
            (["--final"], path), (["--out"], path), TRACKING)
    command("report", cmd_report, "pipeline: best final run by validation, tested once",
            (["--top"], path), (["--runs"], {"type": Path, "nargs": "+", "required": True}), (["--history"], path),
            (["--experiment"], {"required": True}), (["--best-out"], path), (["--metrics-out"], path), TRACKING)
