"""One search round: sample m architectures from controller r, then update it to r + 1.

A round's sample folder holds ``archs.jsonl`` (one line per sampled child: round, index,
key, arch_key, arch) and one ``{key}.json`` architecture file per distinct child, the input
of that child's training job. The child key covers the architecture and every training
setting (dataset and seed included), so an architecture sampled twice is trained once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasrl.architecture import content_key
from nasrl.io import write_json
from nasrl.pipeline.settings import SearchSettings, read_yaml
from nasrl.search.registry import load_strategy, make_strategy, save_strategy
from nasrl.training.config import ChildConfig, child_key


def init_controller(search: SearchSettings, out: str | Path) -> None:
    """Round 0's controller (or random-search state): weights from the seed."""
    strategy = make_strategy(search.strategy, search.build_space(), seed=search.seed, config=search.strategy_config())
    save_strategy(strategy, out)


def sample_round(search: SearchSettings, child: ChildConfig, controller: str | Path, round_index: int,
                 out_dir: str | Path) -> list[dict[str, Any]]:
    """Sample the round's children from ``controller``; write archs.jsonl and one file per key."""
    strategy = load_strategy(controller, search.build_space())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, arch in enumerate(strategy.ask(search.children_per_round)):
        key = child_key(arch, child)
        rows.append({"round": round_index, "index": index, "key": key, "arch_key": content_key(arch), "arch": arch})
        write_json(out_dir / f"{key}.json", arch)
    with open(out_dir / "archs.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
    return rows


def update_controller(search: SearchSettings, controller: str | Path, rewards: str | Path, out: str | Path,
                      stats_out: str | Path) -> dict[str, float]:
    """One REINFORCE step (or a sample count for random search) from the round's rewards.

    Every sampled child counts, repeats and failures included: a repeated architecture's
    reward feeds the controller each time it is sampled (Sec. 3.2), and a failed child's
    failure reward tells the controller to avoid it.
    """
    import pandas as pd

    strategy = load_strategy(controller, search.build_space())
    table = pd.read_parquet(rewards).sort_values("index")
    archs = [json.loads(a) for a in table["arch"]]
    stats = {"round": int(table["round"].iloc[0]), **strategy.tell(archs, table["reward"].tolist())}
    if hasattr(strategy, "baseline"):
        stats["baseline"] = strategy.baseline
    save_strategy(strategy, out)
    Path(stats_out).write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return stats


def load_search(path: str | Path) -> SearchSettings:
    return SearchSettings.from_dict(read_yaml(path))
