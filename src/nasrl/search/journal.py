"""The journal of an asynchronous search: which replica batch became which controller version.

With ``search.updates: async`` (Zoph & Le 2017, Sec. 3.3) each replica's batch updates the
newest controller as soon as its children end, so the order of the updates is set by the
children's durations, not by the config. The journal records that order, one line per update,
appended under a lock (the design of Optuna's JournalStorage: an append-only log of operations):

    {"journal": "nasrl-async", "format": 1, "identity": ..., "replicas": K, "steps": J}   the header
    {"version": 1, "batch": "0000-003", "sampled_by": 0, "rewards": ..., "check": ...}    one per update

Version v is the controller after v updates; its file is the controller of the batch on line v
(``ResultsLayout.batch_controller``), version 0 the initial controller. A search's history is a
function of its journal: a killed search applies the batches already in its journal onto the
same versions again, and ``search.replay`` makes a new search follow another one's journal.

Trust: a line is taken only whole, newline-terminated and matching its own ``check`` digest. A
kill during an append leaves a cut last line; it is dropped (and cut off the file before the next
append), so that batch's update is applied again. A damaged line before the last is an error.
``identity`` is the digest of the search and child settings: a journal of another search
(another seed or config) is refused in one line.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from nasrl.architecture import content_key
from nasrl.errors import StateError

JOURNAL = "nasrl-async"
FORMAT = 1


class JournalError(StateError):
    """A journal that cannot be followed: another search's, damaged, or out of order."""


def journal_identity(search: dict[str, Any], child: dict[str, Any]) -> str:
    """The digest a journal is valid for: the search settings (all but ``replay``) and the
    child settings that change a reward."""
    return content_key({"search": search, "child": child})


def rewards_digest(keys: list[str], rewards: list[float]) -> str:
    """What an update learned from: its children and their rewards, in sampling order."""
    return content_key([[key, float(reward).hex()] for key, reward in zip(keys, rewards)])


@dataclass(frozen=True)
class Entry:
    """One applied update: ``batch`` (step-replica) turned version - 1 into ``version``."""

    version: int
    batch: str
    sampled_by: int
    rewards: str

    def line(self) -> str:
        body = {"version": self.version, "batch": self.batch, "sampled_by": self.sampled_by, "rewards": self.rewards}
        return json.dumps({**body, "check": content_key(body)}, sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str) -> "Entry | None":
        """The entry of a whole line, or None when the line is cut or altered."""
        try:
            value = json.loads(text)
            body = {name: value[name] for name in ("version", "batch", "sampled_by", "rewards")}
        except (ValueError, KeyError, TypeError):
            return None
        if value.get("check") != content_key(body):
            return None
        return cls(int(body["version"]), str(body["batch"]), int(body["sampled_by"]), str(body["rewards"]))


@dataclass(frozen=True)
class Journal:
    """The header's facts and the whole entries, in version order."""

    path: Path
    identity: str
    replicas: int
    steps: int
    entries: tuple[Entry, ...]
    intact_bytes: int  # the length of the whole lines; more on disk means a cut last line

    @cached_property
    def by_batch(self) -> dict[str, Entry]:
        return {entry.batch: entry for entry in self.entries}

    @property
    def newest(self) -> int:
        return len(self.entries)

    def batch_of(self, version: int) -> str | None:
        """The batch whose update made ``version`` (None for version 0, the initial controller)."""
        return None if version == 0 else self.entries[version - 1].batch


def header_line(identity: str, replicas: int, steps: int) -> str:
    return json.dumps({"journal": JOURNAL, "format": FORMAT, "identity": identity, "replicas": replicas,
                       "steps": steps}, sort_keys=True) + "\n"


def read_journal(path: str | Path) -> Journal:
    """The journal at ``path``; a cut last line is left out; anything else wrong is one line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"journal not found: {path}") from None
    lines = data.split(b"\n")
    whole, cut = lines[:-1], lines[-1]  # the text after the last newline was cut by a kill
    try:
        header = json.loads(whole[0]) if whole else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("journal") != JOURNAL or header.get("format") != FORMAT:
        raise JournalError(f"{path}: not a nasrl journal (format {FORMAT}); its first line is "
                           f"{(whole[0] if whole else cut)[:80].decode('utf-8', 'replace')!r}")
    entries: list[Entry] = []
    intact = len(whole[0]) + 1
    for number, raw in enumerate(whole[1:], start=2):
        entry = Entry.parse(raw.decode("utf-8", "replace"))
        if entry is None or entry.version != len(entries) + 1:
            last = number == len(whole) and not cut
            if entry is None and last:  # a whole last line that fails its check: cut as well
                break
            raise JournalError(f"{path}, line {number}: expected update {len(entries) + 1} as a whole entry, got "
                               f"{raw[:80].decode('utf-8', 'replace')!r}; the journal was altered")
        entries.append(entry)
        intact += len(raw) + 1
    return Journal(path, str(header["identity"]), int(header["replicas"]), int(header["steps"]), tuple(entries),
                   intact)


def start_journal(path: str | Path, identity: str, replicas: int, steps: int) -> None:
    """A new journal holding its header alone (the search's first step writes it)."""
    from nasrl.io import write_text

    write_text(path, header_line(identity, replicas, steps))


def check_identity(journal: Journal, identity: str, what: str) -> None:
    if journal.identity != identity:
        raise JournalError(f"{what} {journal.path} belongs to another search (other seed, space, rounds, replicas "
                           f"or child settings: identity {journal.identity[:12]}, this search's {identity[:12]})")


@contextmanager
def exclusive(lock: str | Path) -> Iterator[None]:
    """An exclusive ``flock`` on the file ``lock`` (created private), released on exit or when
    the process dies. The updates run on one host (the workflow's local rules), where it holds."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def locked(path: str | Path) -> Iterator[Journal]:
    """The journal under an exclusive lock (``path`` + ``.lock``), its cut last line removed;
    ``append`` writes within the same lock."""
    path = Path(path)
    with exclusive(path.with_name(path.name + ".lock")):
        journal = read_journal(path)
        if path.stat().st_size != journal.intact_bytes:
            os.truncate(path, journal.intact_bytes)  # redo the cut update rather than trust it
        yield journal


def append(journal: Journal, entry: Entry) -> None:
    """Add the next version's line (call inside ``locked``); written and synced as one write."""
    if entry.version != journal.newest + 1:
        raise JournalError(f"{journal.path}: update {entry.version} cannot follow update {journal.newest}")
    fd = os.open(journal.path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, entry.line().encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
