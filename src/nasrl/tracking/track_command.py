"""``nasrl track start`` (the pipeline's first tracking step), ``sync``, ``repair`` and ``link``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TRACK_EPILOG = """\
The store: --uri, else MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory.
Open the UI on it with:  mlflow ui --backend-store-uri sqlite:///mlflow.db
`nasrl track link --results results/EXPERIMENT` prints the address of the search's runs table.
"""


def cmd_start(a: argparse.Namespace) -> None:
    from nasrl.tracking.workflow_steps import search_started

    search = search_started(a.out, a.experiment, a.uri, a.registered_model, a.off, not a.no_child_diagrams)
    print(json.dumps({"uri": search.uri, "experiment_id": search.experiment_id, "run_id": search.run_id}))


def cmd_sync(a: argparse.Namespace) -> None:
    from nasrl.tracking.sync import sync

    logged = sync(a.results, a.uri)
    print(json.dumps({"results": str(a.results), "logged_now": logged}, indent=2))


def cmd_repair(a: argparse.Namespace) -> None:
    from nasrl.tracking.store import repair_interrupted_migration, resolve_uri

    uri = resolve_uri(a.uri)
    print(json.dumps({"uri": uri, "repaired": repair_interrupted_migration(uri)}, indent=2))


def cmd_link(a: argparse.Namespace) -> None:
    from nasrl.layout import ResultsLayout
    from nasrl.tracking.links import ui_hint

    hint = ui_hint(ResultsLayout(a.results).tracking_state)
    if not hint:
        raise SystemExit(f"nasrl track link: {a.results} has no tracked search (tracking/search.json missing or off)")
    print(hint)


def add_track_command(sub: argparse._SubParsersAction) -> None:
    track = sub.add_parser("track", help="MLflow tracking of a search: start it, or sync what was not logged",
                           epilog=TRACK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = track.add_subparsers(dest="track_command", required=True)

    start = commands.add_parser("start", help="pipeline: create the search run; write the tracking state file")
    start.add_argument("--experiment", required=True, help="MLflow experiment (the config's `experiment`)")
    start.add_argument("--uri", help="tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    start.add_argument("--registered-model", help="Model Registry name for the best final model")
    start.add_argument("--off", action="store_true", help="tracking disabled: write the state file only")
    start.add_argument("--no-child-diagrams", action="store_true",
                       help="child runs without architecture.svg (config tracking.child_diagrams: false)")
    start.add_argument("--out", required=True, type=Path, help="results/{experiment}/tracking/search.json")
    start.set_defaults(func=cmd_start)

    sync = commands.add_parser("sync", help="log whatever a search's jobs could not (idempotent)")
    sync.add_argument("--results", required=True, type=Path, help="the search's folder, results/{experiment}")
    sync.add_argument("--uri", help="log to this store instead of the one the search started with")
    sync.set_defaults(func=cmd_sync)

    repair = commands.add_parser(
        "repair", help="remove what a killed MLflow migration left in a SQLite store (_alembic_tmp_ tables)",
        description="Run it when no migration (mlflow db upgrade, a first open by a new MLflow) is running: a "
                    "running one leaves the same tables. It refuses a store whose schema changes within 10 s or "
                    "that another process is writing.")
    repair.add_argument("--uri", help="the store (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    repair.set_defaults(func=cmd_repair)

    link = commands.add_parser("link", help="how to open a search's runs table in the MLflow UI")
    link.add_argument("--results", required=True, type=Path, help="the search's folder, results/{experiment}")
    link.set_defaults(func=cmd_link)
