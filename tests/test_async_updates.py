"""search.updates async: replica chains whose updates are applied in completion order and kept in a
journal (nasrl.search.journal, nasrl.pipeline.async_steps), checked step by step with no Snakemake.

The workflow runs of the same mode (random timings, replay, kills) are in test_async_workflow.py.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from nasrl.errors import SettingsError
from nasrl.layout import ResultsLayout, batch_name
from nasrl.pipeline.async_steps import apply_batch, identity, replay_journal, sample_batch, start_journal
from nasrl.pipeline.collect import collect_rewards, read_sampled
from nasrl.pipeline.search_steps import init_controller
from nasrl.search import journal as journals
from nasrl.search.registry import load_strategy
from nasrl.settings import ChildConfig, SearchSettings, validate_workflow_config
from nasrl.training.surrogate import train_surrogate
from workflow_helpers import COMPARED, step_by_step, surrogate_config


def async_config(rounds=3, m=2, replicas=3, **search):
    config = surrogate_config(rounds=rounds, m=m, replicas=replicas, staleness=0)
    config["search"].update(updates="async", **search)
    return config


class AsyncRun:
    """The async steps called in a chosen completion order, as the workflow's jobs call them."""

    def __init__(self, config, root: Path, monkeypatch):
        monkeypatch.setattr("nasrl.training.surrogate.time.sleep", lambda seconds: None)
        self.search = SearchSettings.from_dict(config["search"])
        self.child = ChildConfig.from_dict(config["child"])
        self.layout = ResultsLayout(root)
        init_controller(self.search, self.layout.controller(0))
        start_journal(self.search, self.child, self.layout.journal)

    def sampler(self, step, replica):
        return self.layout.controller(0) if step == 0 else self.layout.batch_controller(step - 1, replica)

    def sample(self, step, replica):
        sample_batch(self.search, self.child, self.sampler(step, replica), step, replica,
                     self.layout.batch_samples(step, replica))

    def finish(self, step, replica):
        """Train the batch's children, collect them and apply the update."""
        samples = self.layout.batch_samples(step, replica)
        for row in read_sampled(samples):
            folder = self.layout.child_dir(row["key"])
            if not (folder / "metrics.json").exists():
                train_surrogate(row["arch"], self.child, folder)
        collect_rewards(samples, self.layout.children_dir, "reinforce", self.layout.batch_rewards(step, replica))
        return apply_batch(self.search, self.child, self.layout, step, replica, self.sampler(step, replica),
                           self.layout.batch_rewards(step, replica), self.layout.batch_controller(step, replica),
                           self.layout.batch_update(step, replica))

    def run(self, order):
        """Every replica samples at once; then batches end in ``order`` (a list of replicas: the
        replica whose running batch ends next), each replica sampling its next batch at once."""
        steps = dict.fromkeys(range(self.search.replicas), 0)
        for replica in steps:
            self.sample(0, replica)
        for replica in order:
            self.finish(steps[replica], replica)
            steps[replica] += 1
            if steps[replica] < self.search.rounds:
                self.sample(steps[replica], replica)
        return self.history()

    def history(self):
        tables = sorted(self.layout.batches_dir.glob("*/rewards.parquet"))
        history = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
        history = history.sort_values(["round", "index"], kind="stable").reset_index(drop=True)
        history["repeat"] = history.duplicated("key")
        return history


IN_ORDER = [0, 1, 2] * 3
SHUFFLED = [2, 0, 2, 1, 0, 0, 1, 2, 1]


def test_one_replica_is_the_synchronous_search_bit_for_bit(tmp_path, monkeypatch):
    config = async_config(rounds=4, m=3, replicas=1)
    async_history = AsyncRun(config, tmp_path / "async", monkeypatch).run([0] * 4)
    rounds = {**config, "search": {**config["search"], "updates": "rounds"}}
    pd.testing.assert_frame_equal(async_history[COMPARED], step_by_step(rounds, tmp_path / "rounds", monkeypatch)[COMPARED])


def test_updates_follow_completion_order_and_the_journal_records_it(tmp_path, monkeypatch):
    run = AsyncRun(async_config(), tmp_path, monkeypatch)
    history = run.run(SHUFFLED)
    journal = journals.read_journal(run.layout.journal)
    steps = {0: 0, 1: 0, 2: 0}
    expected = []
    for replica in SHUFFLED:
        expected.append(batch_name(steps[replica], replica))
        steps[replica] += 1
    assert [entry.batch for entry in journal.entries] == expected
    assert [entry.version for entry in journal.entries] == list(range(1, 10))
    # batch (j, k) is sampled by the version its replica's previous update made (0 for j = 0)
    made = {entry.batch: entry.version for entry in journal.entries}
    for entry in journal.entries:
        step, replica = map(int, entry.batch.split("-"))
        assert entry.sampled_by == (0 if step == 0 else made[batch_name(step - 1, replica)])
    sampled_by = history.groupby(["round", "replica"])["controller"].first()
    assert sampled_by.to_dict() == {tuple(map(int, b.split("-"))): e.sampled_by for b, e in
                                    ((e.batch, e) for e in journal.entries)}
    final = load_strategy(run.layout.batch_controller(*map(int, expected[-1].split("-"))))
    assert final.updates == 9 and final.samples_seen == 18
    update = json.loads(run.layout.batch_update(1, 0).read_text())
    assert update["version"] == made["0001-000"] and update["staleness"] == update["version"] - 1 - update["sampled_by"]


def test_another_completion_order_gives_another_valid_history_from_the_same_samples_streams(tmp_path, monkeypatch):
    first = AsyncRun(async_config(), tmp_path / "a", monkeypatch).run(IN_ORDER)
    second = AsyncRun(async_config(), tmp_path / "b", monkeypatch).run(SHUFFLED)
    # the first batches come from the same controller and stream; later ones from other versions
    assert first[first["round"] == 0]["key"].tolist() == second[second["round"] == 0]["key"].tolist()
    assert first["controller"].tolist() != second["controller"].tolist()
    assert len(first) == len(second) == 18


def test_a_resumed_update_already_in_the_journal_gives_the_same_controller_and_no_second_line(tmp_path, monkeypatch):
    run = AsyncRun(async_config(rounds=2), tmp_path, monkeypatch)
    run.run([1, 0, 2, 2, 0, 1])
    journal_before = run.layout.journal.read_bytes()
    controller = run.layout.batch_controller(0, 0)
    saved = controller.read_bytes()
    controller.unlink()  # as Snakemake removes an incomplete job's outputs before running it again
    run.finish(0, 0)
    assert controller.read_bytes() == saved
    assert run.layout.journal.read_bytes() == journal_before


def test_a_cut_last_line_is_redone_not_trusted(tmp_path, monkeypatch):
    run = AsyncRun(async_config(rounds=1), tmp_path, monkeypatch)
    for replica in range(3):
        run.sample(0, replica)
    run.finish(0, 0)
    run.finish(0, 1)
    whole = run.layout.journal.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1] + b"\n"
    run.layout.journal.write_bytes(whole[: len(whole) - len(last)] + last[:25])  # killed inside the append
    assert journals.read_journal(run.layout.journal).newest == 1
    run.finish(0, 1)  # applied again: version 2, and the cut text is gone
    run.finish(0, 2)
    journal = journals.read_journal(run.layout.journal)
    assert [e.batch for e in journal.entries] == ["0000-000", "0000-001", "0000-002"]
    assert run.layout.journal.read_bytes().startswith(whole)


def test_an_altered_line_before_the_last_is_one_error_line(tmp_path, monkeypatch):
    run = AsyncRun(async_config(rounds=1), tmp_path, monkeypatch)
    for replica in range(3):
        run.sample(0, replica)
        run.finish(0, replica)
    lines = run.layout.journal.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"sampled_by": 0', '"sampled_by": 1')
    run.layout.journal.write_text("".join(lines))
    with pytest.raises(journals.JournalError) as err:
        journals.read_journal(run.layout.journal)
    assert "line 2: expected update 1 as a whole entry" in str(err.value) and "\n" not in str(err.value)


def test_rewards_that_differ_from_the_journal_entry_are_refused(tmp_path, monkeypatch):
    run = AsyncRun(async_config(rounds=1), tmp_path, monkeypatch)
    for replica in range(3):
        run.sample(0, replica)
        run.finish(0, replica)
    metrics = run.layout.child_metrics(read_sampled(run.layout.batch_samples(0, 1))[0]["key"])
    values = json.loads(metrics.read_text())
    metrics.write_text(json.dumps({**values, "reward": values["reward"] / 2}))  # trained again, another result
    with pytest.raises(journals.JournalError, match="batch 0000-001: its children's rewards differ"):
        run.finish(0, 1)


def test_a_replayed_journal_gives_the_same_history_and_controllers(tmp_path, monkeypatch):
    original = AsyncRun(async_config(), tmp_path / "a", monkeypatch)
    history = original.run(SHUFFLED)
    config = async_config(replay=str(original.layout.journal))
    replay = AsyncRun(config, tmp_path / "b", monkeypatch)
    journal = replay_journal(replay.search, replay.child)
    # the replayed order, batch by batch (the workflow's DAG follows it the same way)
    steps = dict.fromkeys(range(3), 0)
    for replica in steps:
        replay.sample(0, replica)
    for entry in journal.entries:
        step, replica = map(int, entry.batch.split("-"))
        replay.finish(step, replica)
        if step + 1 < 3:
            replay.sample(step + 1, replica)
    pd.testing.assert_frame_equal(replay.history()[COMPARED], history[COMPARED])
    assert replay.layout.journal.read_bytes() == original.layout.journal.read_bytes()
    for entry in journal.entries:
        step, replica = map(int, entry.batch.split("-"))
        assert (replay.layout.batch_controller(step, replica).read_bytes()
                == original.layout.batch_controller(step, replica).read_bytes())


def test_a_replay_journal_of_another_search_is_one_line(tmp_path, monkeypatch):
    original = AsyncRun(async_config(), tmp_path / "a", monkeypatch)
    original.run(IN_ORDER)
    other = async_config(seed=8, replay=str(original.layout.journal))
    with pytest.raises(journals.JournalError) as err:
        replay_journal(SearchSettings.from_dict(other["search"]), ChildConfig.from_dict(other["child"]))
    assert "belongs to another search" in str(err.value) and "\n" not in str(err.value)
    longer = async_config(rounds=4, replay=str(original.layout.journal))
    with pytest.raises(journals.JournalError, match="another search"):
        replay_journal(SearchSettings.from_dict(longer["search"]), ChildConfig.from_dict(longer["child"]))


def test_replaying_a_search_s_own_journal_is_one_line(tmp_path, monkeypatch):
    run = AsyncRun(async_config(), tmp_path, monkeypatch)
    run.run(IN_ORDER)
    config = async_config(replay=str(run.layout.journal))
    with pytest.raises(journals.JournalError, match="is this search's own journal, which a new search rewrites"):
        replay_journal(SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"]),
                       run.layout.journal)


def test_an_unfinished_replay_journal_is_one_line(tmp_path, monkeypatch):
    original = AsyncRun(async_config(), tmp_path / "a", monkeypatch)
    original.run(IN_ORDER[:5])
    config = async_config(replay=str(original.layout.journal))
    with pytest.raises(journals.JournalError, match=r"holds 5 of the search's 9 updates \(batch 0001-002 is missing\)"):
        replay_journal(SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"]))


def test_the_journal_identity_ignores_the_replay_path_and_timing(tmp_path):
    config = async_config()
    search, child = SearchSettings.from_dict(config["search"]), ChildConfig.from_dict(config["child"])
    replaying = SearchSettings.from_dict({**config["search"], "replay": "elsewhere.jsonl"})
    timed = ChildConfig.from_dict({**config["child"], "surrogate_timing_seed": 4})
    assert identity(search, child) == identity(replaying, child) == identity(search, timed)
    assert identity(search, child) != identity(SearchSettings.from_dict({**config["search"], "seed": 1}), child)


@pytest.mark.parametrize("change, expected", [
    ({"search": {"staleness": 1}}, "search.staleness: 1 with updates async, whose replicas always sample from the "
                                   "newest controller; expected staleness 0, or updates rounds"),
    ({"search": {"updates": "rounds", "replay": "journal.jsonl"}},
     "search.replay: a journal orders asynchronous updates; expected updates async with it"),
    ({"search": {"space": "cnn_v1"}, "child": {"early_stopping": {"enabled": True}, "surrogate": None, "dataset": "digits"}},
     "child.early_stopping: its reference curves are those of the rounds before a round"),
])
def test_bad_async_settings_are_one_line(change, expected):
    config = async_config()
    for section, values in change.items():
        config[section] = {**config[section], **values}
    with pytest.raises((SettingsError, ValueError)) as err:
        validate_workflow_config(config)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_nasrl_show_counts_the_updates_applied_so_far(tmp_path, monkeypatch):
    import yaml

    from nasrl.commands.show import show_search

    run = AsyncRun(async_config(rounds=2), tmp_path, monkeypatch)
    run.layout.settings("search").parent.mkdir(parents=True, exist_ok=True)
    run.layout.settings("search").write_text(yaml.safe_dump(run.search.to_dict()))
    run.run([0, 1, 2, 0])  # 4 of the 6 updates
    out = show_search(tmp_path)
    assert f"updates     async, 4 of 6 applied in completion order (3 replicas; {run.layout.journal})" in out
    assert f"journal     {run.layout.journal}" in out
