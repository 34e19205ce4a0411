"""The search run's state file, ``results/{experiment}/tracking/search.json``.

Written once when a search starts; every later job reads from it which store and which
search run to log under. A search whose start could not reach the store has ``run_id``
null and an ``error``; ``nasrl track sync`` creates the run later and fills it in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

from nasrl.io import write_json
from nasrl.layout import ResultsLayout


def portable_path(path: str | Path) -> str:
    """``path`` relative to the working directory when inside it, else absolute: recorded so
    that a moved or copied search folder reads its own files."""
    absolute, root = Path(path).resolve(), Path.cwd().resolve()
    return str(absolute.relative_to(root)) if absolute.is_relative_to(root) else str(absolute)


@dataclass
class SearchRun:
    experiment: str
    results: str  # the search's results folder (relative to the working directory when inside it)
    uri: str = ""  # the store (store.recorded_uri)
    enabled: bool = True
    registered_model: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    error: str | None = None
    root: str = ""  # the absolute working directory the search last logged from (relocate.py)
    child_diagrams: bool = True  # child runs carry architecture.svg (config tracking.child_diagrams)

    @classmethod
    def load(cls, path: str | Path) -> "SearchRun":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"tracking state not found: {path} (written when a search starts)") from None
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def save(self, path: str | Path) -> None:
        write_json(path, asdict(self))

    @property
    def client(self):
        """The MlflowClient of this search's store (one per URI and process: see store.client);
        looked up on each use, since sync may point the search at another store."""
        from nasrl.tracking.store import client, resolve_uri

        return client(resolve_uri(self.uri))

    @property
    def space(self):
        """The search space of this search (settings/search.yaml): which decisions a child run
        records (params.decision_params)."""
        return search_space(str(self.layout.settings("search")))

    @property
    def results_dir(self) -> Path:
        return Path(self.results)

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout(self.results_dir)

    @property
    def state_file(self) -> Path:
        return self.layout.tracking_state

    def sync_hint(self) -> str:
        return f"`nasrl track sync --results {self.results}` logs it later"


@lru_cache(maxsize=8)
def search_space(settings_file: str):
    """The space of a search's settings file, built once per process (a round logs many children)."""
    from nasrl.settings import SearchSettings, read_yaml

    return SearchSettings.from_dict(read_yaml(settings_file)).build_space()
