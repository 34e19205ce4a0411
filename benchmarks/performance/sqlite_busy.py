"""A busy SQLite store: how long MLflow writers wait, and whether they get through, when other
writers or a long lock hold the store's one write lock.

    python benchmarks/performance/sqlite_busy.py [--writers 8 32] [--runs 10] [--repeats 3]
        [--hold 10 30] [--timeout 120] [--json OUT]

Three ways of waiting, side by side on copies of one store:
- mlflow: MLflow alone. Its store sessions set SQLite's busy timeout to 20 s (``PRAGMA
  busy_timeout = 20000`` in mlflow.store.db.utils); opening the store (schema checks, outside
  any session) waits pysqlite's default 5 s;
- timeout: ``?timeout=T`` on the store's URI, which SQLAlchemy hands to ``sqlite3.connect``:
  the busy timeout of every connection, until a session's PRAGMA sets it to 20 s;
- retries: every call retried with a jittered back-off while the store is busy, for 120 s
  (what nasrl once did around each call; the client's construction, which opens the store,
  was never among them).

Scenarios:
- writers: N processes start at once; each opens the store and logs --runs runs as a round's
  update does (create_run; log_batch of 25 params and 40 metrics; set_terminated; log_batch
  with the completion tag). --repeats times, the ways alternated, medians;
- locked at open: another connection holds the write lock (BEGIN EXCLUSIVE) for --hold
  seconds while 2 processes open the store and log one run;
- locked mid-run: the same, with the lock taken after the processes have opened the store.

Reported per scenario and way: calls failed ("database is locked"), runs complete (over the
repeats), the median and slowest seconds of a writer (open and logging), and the slowest
single store call after the open (how close a wait came to the 20 s MLflow allows). The processes are forked from a server that has imported
MLflow's stores once (as tests/test_tracking.py does), so the figures are the store's, not
N interpreters importing MLflow on shared cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

WAYS = ("mlflow", "timeout", "retries")
BUSY = ("database is locked", "database is busy", "database table is locked")
RETRY_SECONDS = 120.0


def busy(err: BaseException) -> bool:
    text = f"{err} {err.__cause__ or ''}".lower()
    return any(marker in text for marker in BUSY)


def retried(call, *args, **kwargs):
    """The earlier wrapper, call for call: retried while busy, jittered doubling back-off."""
    deadline, delay = time.monotonic() + RETRY_SECONDS, 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if not busy(err) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)


def log_run(client, call, experiment_id: str, writer: int, index: int) -> None:
    """One run as a round's update writes it (nasrl.tracking.record): four store calls."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    run = call(client.create_run, experiment_id, start_time=now - 30000,
               tags={"nasrl.stage": "child", "nasrl.key": f"{writer:04d}{index:012d}"})
    run_id = run.info.run_id
    params = [Param(f"layer_{i}.num_filters", str(8 * (i % 4 + 1))) for i in range(25)]
    metrics = [Metric(name, 0.5, now, epoch) for name in ("lr", "train_loss", "val_loss", "val_acc")
               for epoch in range(10)]
    call(client.log_batch, run_id, metrics=metrics, params=params)
    call(client.set_terminated, run_id, "FINISHED", end_time=now)
    call(client.log_batch, run_id, tags=[RunTag("nasrl.complete", "true")])


def writer(uri: str, way: str, writer_index: int, runs: int, barriers, results) -> None:
    from mlflow import MlflowClient

    import logging

    logging.getLogger("mlflow").setLevel(logging.CRITICAL)  # a failed call is counted, not logged
    out = {"failed": 0, "runs": 0, "open_s": None, "log_s": None, "slowest_call_s": 0.0, "error": None}
    wait = retried if way == "retries" else (lambda f, *a, **k: f(*a, **k))

    def call(f, *a, **k):
        start = time.monotonic()
        try:
            return wait(f, *a, **k)
        finally:
            out["slowest_call_s"] = max(out["slowest_call_s"], time.monotonic() - start)

    ready, opened, go = barriers
    ready.wait()
    start = time.monotonic()
    experiment_id = None
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment_id = call(client.get_experiment_by_name, "bench").experiment_id
    except Exception as err:
        out["failed"] += 1
        out["error"] = f"open: {' '.join(str(err).split())[:120]}"
    out["open_s"] = time.monotonic() - start
    opened.wait()
    go.wait()
    start = time.monotonic()
    for i in range(runs if experiment_id is not None else 0):
        try:
            log_run(client, call, experiment_id, writer_index, i)
            out["runs"] += 1
        except Exception as err:
            out["failed"] += 1
            out["error"] = out["error"] or f"log: {' '.join(str(err).split())[:120]}"
    out["log_s"] = time.monotonic() - start
    results.put(out)


def hold_lock(db: Path, seconds: float) -> threading.Thread:
    """Another connection holding the write lock (readers too) for ``seconds``."""
    taken = threading.Event()

    def hold():
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def trial(ctx, template: Path, way: str, writers: int, runs: int, timeout: float,
          hold: float = 0.0, lock_at: str | None = None) -> dict:
    """One scenario for one way, on a fresh copy of the store."""
    folder = Path(tempfile.mkdtemp(prefix="nasrl-busy-"))
    procs = []
    try:
        db = folder / "mlflow.db"
        shutil.copy(template, db)
        uri = f"sqlite:///{db}" + (f"?timeout={timeout:g}" if way == "timeout" else "")
        # a writer that dies breaks the barriers (BrokenBarrierError) instead of leaving the rest waiting
        barriers = [ctx.Barrier(writers + 1, timeout=900) for _ in range(3)]
        results = ctx.Queue()
        procs = [ctx.Process(target=writer, args=(uri, way, i, runs, barriers, results)) for i in range(writers)]
        for p in procs:
            p.start()
        holder = hold_lock(db, hold) if lock_at == "open" else None
        barriers[0].wait()
        barriers[1].wait()
        if lock_at == "mid-run":
            holder = hold_lock(db, hold)
        barriers[2].wait()
        outs = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        if holder is not None:
            holder.join()
        with sqlite3.connect(db, timeout=60) as con:
            complete = con.execute("SELECT COUNT(*) FROM tags WHERE key = 'nasrl.complete'").fetchone()[0]
        seconds = [(o["open_s"] or 0) + (o["log_s"] or 0) for o in outs]
        return {"way": way, "writers": writers, "runs": runs, "hold": hold, "lock_at": lock_at,
                "failed_calls": sum(o["failed"] for o in outs), "complete_runs": complete,
                "expected_runs": writers * runs, "median_s": statistics.median(seconds), "max_s": max(seconds),
                "slowest_call_s": max(o["slowest_call_s"] for o in outs),
                "error": next((o["error"] for o in outs if o["error"]), None)}
    finally:
        for p in procs:  # none outlives its trial, whatever ended it
            if p.is_alive():
                p.terminate()
            p.join()
        shutil.rmtree(folder, ignore_errors=True)


def template_store(folder: Path) -> Path:
    """A migrated store with the experiment the writers log to (migrations are not measured)."""
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not the migrations' INFO lines
    db = folder / "template.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    client.create_experiment("bench", artifact_location=str(folder / "artifacts"))
    return db


def show(rows: list[dict]) -> None:
    for r in rows:
        scenario = (f"{r['writers']} writers x {r['runs']} runs" if r["lock_at"] is None
                    else f"locked {r['hold']:g} s at {r['lock_at']}")
        print(f"| {scenario} | {r['way']} | {r['failed_calls']} | {r['complete_runs']} / {r['expected_runs']} | "
              f"{r['median_s']:.2f} | {r['max_s']:.2f} | {r['slowest_call_s']:.2f} | {(r['error'] or '')[:60]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=10, help="runs each writer logs (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="of the writers scenario (default: 3)")
    parser.add_argument("--hold", type=float, nargs="*", default=[10.0, 30.0],
                        help="seconds another connection holds the write lock (default: 10 30; none: skip)")
    parser.add_argument("--timeout", type=float, default=120.0, help="the URI's busy timeout, s (default: 120)")
    parser.add_argument("--json", type=Path, help="every trial's figures")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["mlflow", "mlflow.store.tracking.sqlalchemy_store",
                                "mlflow.store.model_registry.sqlalchemy_store"])
    folder = Path(tempfile.mkdtemp(prefix="nasrl-busy-template-"))
    try:  # the template folder goes, however the measurement ends
        template = template_store(folder)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start; the URI's timeout "
              f"{args.timeout:g} s; medians over {args.repeats} repeats for the writers", flush=True)
        print("| scenario | way | failed calls | runs complete | writer s, median | writer s, slowest | slowest call s | "
              "first error |\n|---|---|---|---|---|---|---|---|")
        rows, trials = [], []
        for n in args.writers:
            runs = [trial(ctx, template, way, n, args.runs, args.timeout) for _ in range(args.repeats) for way in WAYS]
            trials += runs
            for way in WAYS:
                mine = [r for r in runs if r["way"] == way]
                rows.append({**mine[0], "failed_calls": sum(r["failed_calls"] for r in mine),
                             "complete_runs": sum(r["complete_runs"] for r in mine),
                             "expected_runs": sum(r["expected_runs"] for r in mine),
                             "median_s": statistics.median(r["median_s"] for r in mine),
                             "max_s": max(r["max_s"] for r in mine),
                             "slowest_call_s": max(r["slowest_call_s"] for r in mine),
                             "error": next((r["error"] for r in mine if r["error"]), None)})
            show(rows[-len(WAYS):])
        for hold in args.hold:
            for lock_at in ("open", "mid-run"):
                runs = [trial(ctx, template, way, 2, 1, args.timeout, hold, lock_at) for way in WAYS]
                trials += runs
                rows += runs
                show(runs)
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "trials": trials}, indent=2) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
