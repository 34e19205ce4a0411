"""`nasrl` subcommands run by the workflow's rules, one per pipeline step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _search(path):
    from nasrl.pipeline.search_steps import load_search

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
    from nasrl.pipeline.search_steps import init_controller

    init_controller(_search(a.search), a.out)


def cmd_sample(a):
    from nasrl.pipeline.search_steps import sample_round

    rows = sample_round(_search(a.search), _child(a.child), a.controller, a.round, a.out)
    print(json.dumps({"round": a.round, "keys": [r["key"] for r in rows]}))


def cmd_child_killed(a):
    from nasrl.io import read_json
    from nasrl.training.killed import record_killed

    metrics = record_killed(read_json(a.arch, "architecture"), _child(a.child), a.exit_status, a.out)
    if metrics is None:  # not killed by a signal (or one that stops the whole run): the job fails as it would have
        raise SystemExit(a.exit_status)
    print(json.dumps({k: metrics[k] for k in ("status", "reward", "error")}))


def cmd_collect(a):
    from nasrl.pipeline.collect import collect_rewards

    table = collect_rewards(a.samples, a.children, a.strategy, a.out)
    print(json.dumps({"mean_reward": float(table["reward"].mean()), "children": len(table)}))


def cmd_build_reference(a):
    from nasrl.pipeline.reference import build_reference

    print(json.dumps({"reference_children": build_reference(a.rewards, a.children, a.out)}))


def cmd_update(a):
    from nasrl.pipeline.search_steps import update_controller
    from nasrl.tracking.workflow_steps import round_finished

    stats = update_controller(_search(a.search), a.controller, a.rewards, a.out, a.stats, sampler=a.sampler)
    print(json.dumps(stats))
    round_finished(a.tracking, stats["round"], a.rewards, stats)


def cmd_start_journal(a):
    from nasrl.pipeline.async_steps import start_journal

    start_journal(_search(a.search), _child(a.child), a.out)


def cmd_sample_batch(a):
    from nasrl.pipeline.async_steps import sample_batch

    rows = sample_batch(_search(a.search), _child(a.child), a.controller, a.step, a.replica, a.out)
    print(json.dumps({"step": a.step, "replica": a.replica, "controller": rows[0]["controller"],
                      "keys": [r["key"] for r in rows]}))


def cmd_apply_batch(a):
    from nasrl.layout import ResultsLayout
    from nasrl.pipeline.async_steps import apply_batch
    from nasrl.tracking.workflow_steps import round_finished

    from nasrl.search.journal import exclusive

    stats = apply_batch(_search(a.search), _child(a.child), ResultsLayout(a.journal.parent), a.step, a.replica, a.sampler,
                        a.rewards, a.out, a.stats)
    print(json.dumps(stats))
    # Updates end concurrently: one logs at a time, so that none logs a batch another is logging
    # (round_finished also logs earlier updates whose own step could not).
    if a.tracking is not None:
        with exclusive(a.tracking.with_name("updates.lock")):
            round_finished(a.tracking, stats["round"], a.rewards, stats)


def cmd_summarize(a):
    from nasrl.pipeline.collect import build_history, reward_curve, round_summary

    history = build_history(a.rounds, a.out)
    summary = round_summary(history)
    summary.to_csv(a.rounds_out, index=False)
    reward_curve(history).to_csv(a.curve_out, index=False)
    print(summary.to_string(index=False))


def cmd_plot_search(a):
    import pandas as pd

    from nasrl.pipeline.plots import plot_search

    control = pd.read_parquet(a.control) if a.control else None
    plot_search(pd.read_parquet(a.history), a.out, control)
    if control is not None:  # drawn again once the control has run: the search run's copy is replaced
        from nasrl.tracking.workflow_steps import search_files_written

        search_files_written(a.tracking, [a.out], "the search figure with the random control")


def cmd_report_tables(a):
    from nasrl.pipeline.report_pages import write_report_tables

    pages = {"final_grid": a.grid_page, "metrics": a.metrics_page, **({"rounds": a.rounds_page} if a.rounds else {})}
    grid = write_report_tables(a.rounds, a.runs, a.best, a.metrics, a.grid_out, pages)
    print(grid.to_string(index=False))
    from nasrl.tracking.workflow_steps import search_files_written

    search_files_written(a.tracking, list(pages.values()), "the report's tables")


def cmd_select_top(a):
    from nasrl.pipeline.final import select_top, transfer_top

    if a.history is None:  # a transfer: the architectures named in the final settings
        if a.final is None or a.search is None:
            raise ValueError("select-top needs --history, or --final and --search for final.architectures")
        top = transfer_top(_final(a.final), _search(a.search).space, a.out)
    else:
        top = select_top(a.history, a.k, a.out)
    print(json.dumps([{k: t[k] for k in ("rank", "arch_key", "reward")} for t in top]))


def cmd_retrain(a):
    from nasrl.pipeline.final import retrain
    from nasrl.tracking.workflow_steps import final_run_finished

    metrics = retrain(a.top, a.rank, a.point, _child(a.child, a.runtime), _final(a.final), a.out)
    print(json.dumps({k: metrics.get(k) for k in ("status", "rank", "point", "best_val")}))
    final_run_finished(a.tracking, a.out, a.top, a.rank)


def cmd_report(a):
    from nasrl.pipeline.final import report
    from nasrl.tracking.workflow_steps import report_written

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
    command("child-killed", cmd_child_killed,
            "pipeline: after train-child ended with EXIT_STATUS, record a child a signal killed as failed "
            "(its metrics.json); any other status is passed on",
            (["--exit-status"], {"type": int, "required": True}), (["--arch"], path),
            (["--child"], {**path, "help": "settings/child.yaml"}), (["--out"], path))
    command("collect-rewards", cmd_collect, "pipeline: one round's rewards table (parquet)",
            (["--samples"], path), (["--children"], path), (["--strategy"], {"required": True}), (["--out"], path))
    command("build-reference", cmd_build_reference,
            "pipeline: the earlier rounds' completed curves a round's children are stopped against",
            (["--rewards"], {"type": Path, "nargs": "*", "default": [],
                             "help": "rewards.parquet of the rounds it covers (none: an empty reference)"}),
            (["--children"], path), (["--out"], path))
    command("update-controller", cmd_update, "pipeline: one controller update from a round's rewards",
            (["--search"], path), (["--controller"], path),
            (["--sampler"], {"type": Path, "help": "the controller that sampled the round (default: --controller)"}),
            (["--rewards"], path), (["--out"], path), (["--stats"], path),
            TRACKING)
    batch = ((["--step"], {"type": int, "required": True}), (["--replica"], {"type": int, "required": True}))
    command("start-journal", cmd_start_journal, "pipeline (updates async): a new journal, its header alone",
            (["--search"], path), (["--child"], path), (["--out"], path))
    command("sample-batch", cmd_sample_batch, "pipeline (updates async): one replica batch's children",
            (["--search"], path), (["--child"], path), (["--controller"], path), *batch, (["--out"], path))
    command("apply-batch", cmd_apply_batch,
            "pipeline (updates async): one replica batch's update, applied to the newest controller and journaled",
            (["--search"], path), (["--child"], path), (["--journal"], {**path, "help": "results/{experiment}/journal.jsonl"}),
            *batch, (["--sampler"], {**path, "help": "the controller that sampled the batch"}),
            (["--rewards"], path), (["--out"], path), (["--stats"], path), TRACKING)
    command("summarize", cmd_summarize, "pipeline: history.parquet and rewards per round",
            (["--rounds"], {"type": Path, "nargs": "+", "required": True}), (["--out"], path), (["--rounds-out"], path),
            (["--curve-out"], {**path, "help": "CSV: one row per sampled child, its reward"}))
    command("plot-search", cmd_plot_search, "pipeline: the search figure (rewards, round means, best, top-k, depth steps)",
            (["--history"], path), (["--out"], {**path, "help": "PNG"}),
            (["--control"], {"type": Path, "help": "history.parquet of the random-search control, drawn alongside"}),
            TRACKING)
    command("select-top", cmd_select_top, "pipeline: the top-k distinct architectures by reward",
            (["--history"], {"type": Path, "help": "history.parquet (omit for final.architectures)"}),
            (["--k"], {"type": int, "default": 1}), (["--out"], path),
            (["--final"], {"type": Path, "help": "settings/final.yaml: its architectures instead of --history"}),
            (["--search"], {"type": Path, "help": "settings/search.yaml: the space they must belong to"}))
    command("retrain", cmd_retrain, "pipeline: train one top architecture at one grid point",
            (["--top"], path), (["--rank"], {"type": int, "required": True}), (["--point"], {"type": int, "required": True}),
            (["--child"], path), (["--runtime"], {"type": Path, "help": "settings/runtime.yaml (where children run, their size limits)"}),
            (["--final"], path), (["--out"], path), TRACKING)
    command("report-tables", cmd_report_tables, "pipeline: final/grid.csv and the Snakemake report's HTML tables",
            (["--rounds"], {"type": Path, "help": "rounds.csv (none for a transfer)"}), (["--rounds-page"], {"type": Path}),
            (["--runs"], {"type": Path, "nargs": "+", "required": True}), (["--best"], path), (["--metrics"], path),
            (["--grid-out"], path), (["--grid-page"], path), (["--metrics-page"], path), TRACKING)
    command("report", cmd_report, "pipeline: best final run by validation, tested once",
            (["--top"], path), (["--runs"], {"type": Path, "nargs": "+", "required": True}),
            (["--history"], {"type": Path, "help": "history.parquet; omitted for a transfer (no search)"}),
            (["--experiment"], {"required": True}), (["--best-out"], path), (["--metrics-out"], path), TRACKING)
