"""The steps of an asynchronous search (``search.updates: async``; Zoph & Le 2017, Sec. 3.3).

Replica k runs a chain of batches j = 0, 1, ...: ``sample_batch`` draws m children from the
controller that the replica's previous update produced (the initial one for j = 0), which is
the newest controller when it starts; the children train; ``apply_batch`` applies the batch's
REINFORCE step, its gradient taken at the parameters that sampled the batch, to the newest
controller, under the journal's lock, and records the new version in the journal
(``nasrl.search.journal``). A batch draws its children with the random stream of its place,
offset (j K + k) m, as a round's replica k does; only the update order depends on timing.

An update already in the journal (a killed search resumed, or ``search.replay``) is applied onto
the version the journal names, so it gives the same controller again, and its rewards must
match the digest it was recorded with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasrl.architecture import content_key
from nasrl.io import write_json
from nasrl.layout import ResultsLayout, batch_name
from nasrl.search import journal as journals
from nasrl.settings import ChildConfig, SearchSettings, child_key

# The controller steps import torch (nasrl.search.registry) inside the functions that need it: the
# workflow imports this module to check a replay journal each time it parses the Snakefile.


def identity(search: SearchSettings, child: ChildConfig) -> str:
    return journals.journal_identity(search.journal_identity(), child.result_dict())


def sample_batch(search: SearchSettings, child: ChildConfig, controller: str | Path, step: int, replica: int,
                 out_dir: str | Path) -> list[dict[str, Any]]:
    """Replica ``replica``'s batch ``step``: m children from ``controller``, written as a round's
    samples are (archs.jsonl with round = step, index = replica m + i, and the version that sampled them)."""
    from nasrl.pipeline.search_steps import write_samples
    from nasrl.search.registry import load_strategy

    m, replicas = search.children_per_round, search.replicas
    strategy = load_strategy(controller, search.build_space())
    version = strategy.updates
    if strategy.samples_seen != version * m:
        raise ValueError(f"batch {batch_name(step, replica)}: {controller} has seen {strategy.samples_seen} samples "
                         f"in {version} updates, not {version * m}: it is not a controller of this search")
    archs = strategy.ask(m, offset=(step * replicas + replica) * m)
    rows = [{"round": step, "index": replica * m + i, "replica": replica, "controller": version,
             "key": child_key(arch, child), "arch_key": content_key(arch), "arch": arch} for i, arch in enumerate(archs)]
    return write_samples(child, rows, out_dir)


def start_journal(search: SearchSettings, child: ChildConfig, out: str | Path) -> None:
    journals.start_journal(out, identity(search, child), search.replicas, search.rounds)


def replay_journal(search: SearchSettings, child: ChildConfig, own: str | Path | None = None) -> journals.Journal | None:
    """The journal ``search.replay`` names, checked against this search (one line if it is
    another search's, does not hold every batch, or is ``own``, this search's own journal)."""
    if search.replay is None:
        return None
    if own is not None and Path(search.replay).resolve() == Path(own).resolve():
        raise journals.JournalError(f"search.replay: {search.replay} is this search's own journal, which a new "
                                    "search rewrites; expected the journal of another experiment (copy it first)")
    journal = journals.read_journal(search.replay)
    journals.check_identity(journal, identity(search, child), "search.replay: the journal")
    batches = {batch_name(step, replica) for step in range(search.rounds) for replica in range(search.replicas)}
    missing = sorted(batches - set(journal.by_batch))
    if missing:
        raise journals.JournalError(f"search.replay: {search.replay} holds {len(journal.entries)} of the search's "
                                    f"{len(batches)} updates (batch {missing[0]} is missing); expected a finished "
                                    "search's journal")
    return journal


def apply_batch(search: SearchSettings, child: ChildConfig, layout: ResultsLayout, step: int, replica: int,
                sampler: str | Path, rewards: str | Path, out: str | Path, stats_out: str | Path) -> dict[str, Any]:
    """Apply batch (step, replica) to the newest controller (or to the version its journal
    entry names) and append the new version to the journal; returns the update's statistics."""
    import pandas as pd

    from nasrl.search.registry import load_strategy, save_strategy

    space = search.build_space()
    name = batch_name(step, replica)
    table = pd.read_parquet(rewards).sort_values("index")
    archs, values = [json.loads(a) for a in table["arch"]], table["reward"].tolist()
    digest = journals.rewards_digest(table["key"].tolist(), values)
    replayed = replay_journal(search, child, layout.journal)
    with journals.locked(layout.journal) as journal:
        journals.check_identity(journal, identity(search, child), "the journal")
        recorded = journal.by_batch.get(name)
        planned = replayed.by_batch[name] if replayed is not None else recorded
        version = planned.version if planned is not None else journal.newest + 1
        if recorded is not None and recorded.version != version:
            raise journals.JournalError(f"batch {name} is update {recorded.version} of this search's journal but "
                                        f"update {version} of {search.replay}; expected a new experiment to replay into")
        if recorded is None and version != journal.newest + 1:
            raise journals.JournalError(f"batch {name} is update {version} of {search.replay}, but this search's "
                                        f"journal holds {journal.newest} updates")
        if planned is not None and planned.rewards != digest:
            raise journals.JournalError(f"batch {name}: its children's rewards differ from those its journal entry "
                                        f"(update {version}) was made with; a child was trained again with "
                                        "another result")
        parent = journal.batch_of(version - 1)
        parent_file = layout.controller(0) if parent is None else layout.batch_controller(*parent.split("-"))
        current = load_strategy(parent_file, space)
        sampling = load_strategy(sampler, space)
        if planned is not None and sampling.updates != planned.sampled_by:
            raise journals.JournalError(f"batch {name} was sampled by controller {sampling.updates}, its journal "
                                        f"entry says {planned.sampled_by}")
        # the batch's gradient is taken where it was sampled (None: the newest, no update between)
        step_stats = current.tell(archs, values, sampler=None if sampling.updates == current.updates else sampling)
        save_strategy(current, out)
        stats = {"round": version - 1, "version": version, "batch": name, "step": step, "replica": replica,
                 "sampled_by": sampling.updates, "staleness": version - 1 - sampling.updates, **step_stats}
        if hasattr(current, "baseline"):
            stats["baseline"] = current.baseline
        write_json(stats_out, stats)
        if recorded is None:  # the commit point: written last, so a version in the journal has its files
            journals.append(journal, journals.Entry(version, name, sampling.updates, digest))
    return stats


def final_controller(layout: ResultsLayout) -> Path:
    """The newest controller of a finished asynchronous search: the last journal entry's."""
    journal = journals.read_journal(layout.journal)
    last = journal.batch_of(journal.newest)
    return layout.controller(0) if last is None else layout.batch_controller(*last.split("-"))
