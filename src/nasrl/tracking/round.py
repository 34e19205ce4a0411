"""A finished round in MLflow: its children's runs, their reuse tags, the round's metrics.

Logged by the round's update step, one process per round, in batched calls: one query for
the round's child runs logged before and one per child not among them (so the
cost follows the round's size, not the search's), four calls per child the store lacks (children.py), one tag write
per run already logged whose reuse tags change, and the round's metrics on the search run
last. Those metrics (``mean_reward`` at step = round) mark the round as logged: a round
without them is logged again by the next round's update or by ``nasrl track sync``, and
what was logged before is found, not logged twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nasrl.tracking.children import log_missing_children, runs_elsewhere
from nasrl.tracking.record import FAILED_STATUSES
from nasrl.tracking.runs import complete_runs
from nasrl.tracking.state import SearchRun

# staleness: async updates only (update.json), the updates between the batch's sampling version and its own
CONTROLLER_STATS = ("baseline", "loss", "entropy", "log_prob", "staleness")


def log_round(search: SearchRun, round_index: int, table, stats: dict[str, Any] | None = None) -> list[str]:
    """Log round ``round_index`` from its rewards ``table`` (one row per sample) and the
    controller update's ``stats``; returns the keys whose runs were logged now.

    A child trained in an earlier round, or earlier in this round, is a cache hit: not
    trained again, so its run gets ``nasrl.reused`` and every round that sampled it
    (``nasrl.sampled_in_rounds``); a child trained by an earlier search gets a link run.
    """
    from mlflow.entities import Metric

    client = search.client
    table = table.sort_values("index")
    archs = {row.key: row.arch for row in table.itertuples()}  # distinct keys, in sampling order
    first = table.drop_duplicates("key")  # each key's first sample names its run
    indexes = {key: int(index) for key, index in zip(first["key"], first["index"])}
    known = complete_runs(client, search, "child", archs, round_index)
    missing = {key: json.loads(arch) for key, arch in archs.items() if key not in known}
    sources = runs_elsewhere(client, search, list(missing))
    reused, hits = cache_hits(list(table["key"]), {k: r.data.tags for k, r in known.items()}, set(sources),
                              round_index)
    new_tags = {key: reuse_tags({}, round_index, key in reused) for key in missing}
    logged = log_missing_children(client, search, round_index, missing, indexes, new_tags, sources)
    for key in archs:
        if key in known:
            update_reuse_tags(client, known[key], round_index, key in reused)
    values = {"mean_reward": float(table["reward"].mean()), "max_reward": float(table["reward"].max()),
              "failed_children": float(table["status"].isin(FAILED_STATUSES).sum()),
              "stopped_children": float((table["status"] == "stopped").sum()), "cache_hits": float(hits)}
    values.update({name: float(stats[name]) for name in CONTROLLER_STATS
                   if isinstance((stats or {}).get(name), (int, float))})
    now = int(time.time() * 1000)
    client.log_batch(search.run_id, metrics=[Metric(k, v, now, round_index) for k, v in values.items()])
    return logged


def cache_hits(keys: list[str], known: dict[str, dict[str, str]], linked: set[str],
               round_index: int) -> tuple[set[str], int]:
    """The reused keys and the number of samples not trained for this round: a key seen
    earlier in the round, trained in an earlier round, or reused from an earlier search."""
    reused, hits, seen = set(), 0, set()
    for key in keys:
        tags = known.get(key, {})
        first = int(tags.get("nasrl.round", round_index))
        if key in seen or first < round_index or key in linked or tags.get("nasrl.cache_hit") == "true":
            reused.add(key)
            hits += 1
        seen.add(key)
    return reused, hits


def reuse_tags(tags: dict[str, str], round_index: int, reused: bool) -> dict[str, str]:
    """The rounds that sampled a child (those in ``tags`` and this one), and whether it was reused."""
    rounds = {int(r) for r in tags.get("nasrl.sampled_in_rounds", "").split(",") if r} | {round_index}
    new = {"nasrl.sampled_in_rounds": ",".join(map(str, sorted(rounds)))}
    if reused:
        new["nasrl.reused"] = "true"
    return new


def update_reuse_tags(client, run, round_index: int, reused: bool) -> None:
    """One tag write for a run logged before, none when its tags already say so."""
    from mlflow.entities import RunTag

    tags = run.data.tags
    changed = {k: v for k, v in reuse_tags(tags, round_index, reused).items() if tags.get(k) != v}
    if changed:
        client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in changed.items()])
