"""One search round: sample K x m architectures from controller r - s, then update r to r + 1.

A round's sample folder holds ``archs.jsonl`` (one line per sampled child: round, index,
replica, controller (the index of the controller that sampled it), key, arch_key, arch) and
one ``{key}.json`` architecture file per distinct child, the input of that child's training
job. The child key covers the architecture and every setting that changes its result
(dataset and seed included), so an architecture sampled twice is trained once. Replicas and
staleness: ``nasrl.search.rounds``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasrl.architecture import content_key
from nasrl.io import write_json, write_text
from nasrl.layout import SampleFolder
from nasrl.settings import SearchSettings, read_yaml
from nasrl.search.registry import load_strategy, make_strategy, save_strategy
from nasrl.search.rounds import RoundPlan, ask_round, tell_round
from nasrl.settings import ChildConfig, child_key


def round_plan(search: SearchSettings) -> RoundPlan:
    return RoundPlan(search.children_per_round, search.replicas, search.staleness)


def init_controller(search: SearchSettings, out: str | Path) -> None:
    """Round 0's controller (or random-search state): weights from the seed."""
    strategy = make_strategy(search.strategy, search.build_space(), seed=search.seed, config=search.strategy_config())
    save_strategy(strategy, out)


def sample_round(search: SearchSettings, child: ChildConfig, controller: str | Path, round_index: int,
                 out_dir: str | Path) -> list[dict[str, Any]]:
    """Sample the round's children from ``controller`` (the round's sampling controller, r - s);
    write archs.jsonl and one architecture file per distinct child key."""
    plan = round_plan(search)
    strategy = load_strategy(controller, search.build_space())
    sampled_by = plan.sampling_controller(round_index)
    if strategy.samples_seen != plan.offset(sampled_by):
        raise ValueError(f"round {round_index} is sampled by controller {sampled_by} (staleness {plan.staleness}), "
                         f"but {controller} has seen {strategy.samples_seen} samples, not {plan.offset(sampled_by)}")
    rows = []
    for row in ask_round(strategy, plan, round_index):
        arch = row["arch"]
        rows.append({"round": round_index, "index": row["index"], "replica": row["replica"],
                     "controller": sampled_by, "key": child_key(arch, child), "arch_key": content_key(arch),
                     "arch": arch})
    return write_samples(child, rows, out_dir)


def write_samples(child: ChildConfig, rows: list[dict[str, Any]], out_dir: str | Path) -> list[dict[str, Any]]:
    """A sample folder (a round's or an async batch's): archs.jsonl and one architecture file
    per distinct child key; a surrogate's table is checked first to hold every architecture."""
    if child.surrogate is not None:  # every sampled architecture must have a row, before any child runs
        from nasrl.training.surrogate import SurrogateTable

        SurrogateTable.load(child.surrogate).check([r["arch"] for r in rows])
    folder = SampleFolder(Path(out_dir))
    folder.path.mkdir(parents=True, exist_ok=True)
    for row in {r["key"]: r for r in rows}.values():
        write_json(folder.arch(row["key"]), row["arch"])
    write_text(folder.sampled, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    return rows


def update_controller(search: SearchSettings, controller: str | Path, rewards: str | Path, out: str | Path,
                      stats_out: str | Path, sampler: str | Path | None = None) -> dict[str, Any]:
    """The round's K REINFORCE steps (or a sample count for random search), one per replica.

    ``controller`` is controller r, ``sampler`` the controller that sampled round r (r - s;
    the same file when s = 0). Every sampled child counts, repeats and failures included: a
    repeated architecture's reward feeds the controller each time it is sampled (Sec. 3.2),
    and a failed child's failure reward tells the controller to avoid it.
    """
    import pandas as pd

    plan = round_plan(search)
    space = search.build_space()
    strategy = load_strategy(controller, space)
    table = pd.read_parquet(rewards).sort_values("index")
    if "replica" not in table:  # a round table written before replicas existed: one replica
        table["replica"] = 0
    batches = [([json.loads(a) for a in part["arch"]], part["reward"].tolist())
               for _, part in table.groupby("replica", sort=True)]
    same_state = sampler is None or Path(sampler).resolve() == Path(controller).resolve()
    sampling_state = None if same_state and len(batches) == 1 else load_strategy(sampler or controller, space)
    steps = tell_round(strategy, batches, sampling_state)
    stats: dict[str, Any] = {"round": int(table["round"].iloc[0]), "sampled_by": plan.sampling_controller(
        int(table["round"].iloc[0])), "mean_reward": float(table["reward"].mean()),
        "max_reward": float(table["reward"].max())}
    for name in ("loss", "entropy", "log_prob"):  # averaged over the round's replica steps
        values = [s[name] for s in steps if name in s]
        if values:
            stats[name] = sum(values) / len(values)
    if hasattr(strategy, "baseline"):
        stats["baseline"] = strategy.baseline
    if len(steps) > 1:
        stats["replica_steps"] = steps
    save_strategy(strategy, out)
    write_json(stats_out, stats)
    return stats


def load_search(path: str | Path) -> SearchSettings:
    return SearchSettings.from_dict(read_yaml(path))
