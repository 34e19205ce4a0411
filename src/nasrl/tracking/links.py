"""Where to look at a search in the MLflow UI: printed when a search ends (the Snakefile's
``onsuccess``) and by ``nasrl track link``.

The link opens the experiment's runs table in the UI's "Model training" pages, the view made
for comparing runs. MLflow's start page is its GenAI overview, which holds nothing of a
search. The table opens on the search's saved view (views.py): its columns, sorted by
``reward``, so the best children come first (the search run and the final runs have no
``reward`` and come last); a second link opens the final runs' view, best validation first.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from nasrl.tracking.state import SearchRun
from nasrl.tracking.views import FINAL_VIEW_ID, URL_PARAMETER, VIEW_ID

LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default
# workflowType: the UI's "Model training" pages (runs, models, registry), not its GenAI ones;
# viewStateShareKey: the search's saved view (views.py), its columns and its sort by reward.
def runs_view(view_id: str = VIEW_ID) -> str:
    return f"?workflowType=machine_learning&{URL_PARAMETER}={quote(view_id, safe='')}"


def runs_table_url(search: SearchRun, base: str = LOCAL_UI, view_id: str = VIEW_ID) -> str:
    """The runs table of the search's experiment on a saved view (the search's, best reward
    first, unless ``view_id`` names another); ``base`` is the UI's address (a tracking server's
    own address when the store is one)."""
    if search.uri.startswith(("http://", "https://")):
        base = search.uri
    return f"{base.rstrip('/')}/#/experiments/{search.experiment_id}/runs{runs_view(view_id)}"


def ui_hint(state_file: str | Path) -> str:
    """The lines telling a user how to open the search in the MLflow UI (empty when untracked)."""
    try:
        search = SearchRun.load(state_file)
    except ValueError:
        return ""
    if not search.enabled:
        return ""
    if search.experiment_id is None:
        return f"MLflow: the search was not logged ({search.error}); {search.sync_hint()}"
    finals = f"\n  its final runs: {runs_table_url(search, view_id=FINAL_VIEW_ID)}"
    if search.uri.startswith(("http://", "https://")):
        return f"MLflow runs of this search: {runs_table_url(search)}{finals}"
    return (f"MLflow runs of this search: mlflow ui --backend-store-uri {search.uri}\n"
            f"  then open {runs_table_url(search)}{finals}")
