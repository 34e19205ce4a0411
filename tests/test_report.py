"""`snakemake --report`: one offline HTML file that shows the search, built from the tiny search
of conftest.py (no second search), and the tables and figure it embeds."""

import base64
import json
import re

import pandas as pd
import pytest

from nasrl.pipeline.plots import depth_steps, top_k_unique
from nasrl.pipeline.report_pages import final_grid_table
from workflow_helpers import snakemake


def embedded_results(html: str) -> dict:
    """The results a Snakemake report embeds: path -> name, labels, caption, data URI."""
    found = re.search(r"var results = (\{.*?\});\n", html, flags=re.S)
    assert found, "no results in the report"
    return json.loads(found.group(1))


def decoded(entry: dict) -> bytes:
    return base64.b64decode(entry["data_uri"].split("base64,", 1)[1])


@pytest.fixture(scope="module")
def report(finished_tiny_search, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(finished_tiny_search, "--report", str(out))
    return finished_tiny_search, out.read_text(encoding="utf-8")


@pytest.mark.e2e
def test_the_report_holds_the_search_figure_tables_diagram_and_metrics(report):
    workdir, html = report
    results = workdir / "results" / "tiny"
    shown = embedded_results(html)
    assert set(shown) == {f"results/tiny/{name}" for name in (
        "search.png", "report/rounds.html", "final/best.svg", "report/final_grid.html", "report/metrics.html")}
    # each file is embedded whole, with its caption from workflow/report/
    assert decoded(shown["results/tiny/search.png"]) == (results / "search.png").read_bytes()
    assert "depth schedule" in shown["results/tiny/search.png"]["caption"]
    diagram = decoded(shown["results/tiny/final/best.svg"]).decode()
    assert diagram == (results / "final" / "best.svg").read_text() and "</svg>" in diagram

    rounds = decoded(shown["results/tiny/report/rounds.html"]).decode()
    for value in pd.read_csv(results / "rounds.csv")["mean_reward"]:
        assert f"{value:.4g}" in rounds
    best = json.loads((results / "final" / "best.json").read_text())
    grid = decoded(shown["results/tiny/report/final_grid.html"]).decode()
    assert '<tr class="chosen">' in grid and f"{best['test']['test_acc']:.4g}" in grid
    metrics = decoded(shown["results/tiny/report/metrics.html"]).decode()
    assert best["arch_key"] in metrics and f"{best['val']:.4g}" in metrics


@pytest.mark.e2e
def test_the_report_loads_nothing_from_outside(report):
    _, html = report
    for entry in embedded_results(html).values():
        assert entry["data_uri"].startswith("data:")
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", html, flags=re.I)


@pytest.mark.e2e
def test_the_final_grid_marks_the_one_tested_run(finished_tiny_search):
    results = finished_tiny_search / "results" / "tiny"
    grid = pd.read_csv(results / "final" / "grid.csv")
    best = json.loads((results / "final" / "best.json").read_text())
    assert len(grid) == len(list((results / "final" / "runs").iterdir()))
    (chosen,) = grid.index[grid["chosen"]]
    assert grid.loc[chosen, "test_acc"] == pytest.approx(best["test"]["test_acc"])
    assert grid.loc[chosen, "val"] == pytest.approx(best["val"])


# ----- the search figure's curves -----------------------------------------------------------------

def history_of(rewards: list[float], keys: list[str], depths: list[int]) -> pd.DataFrame:
    layer = {"filter_height": 3, "filter_width": 3, "num_filters": 8, "stride_height": 1, "stride_width": 1}
    archs = [json.dumps({"space": "cnn", "layers": [{**layer, "inputs": []}] * d}) for d in depths]
    return pd.DataFrame({"round": [i // 2 for i in range(len(rewards))], "arch_key": keys, "arch": archs,
                         "reward": rewards, "status": "ok", "strategy": "reinforce"})


def test_top_k_counts_an_architecture_sampled_again_once():
    history = history_of([0.5, 0.5, 0.2, 0.9, 0.1], ["a", "a", "b", "c", "d"], [2] * 5)
    assert list(top_k_unique(history, 1)) == [0.5, 0.5, 0.5, 0.9, 0.9]
    top2 = top_k_unique(history, 2)
    assert top2.iloc[:2].isna().all()  # "a" twice is one architecture, not two
    assert list(top2.iloc[2:]) == pytest.approx([0.35, 0.7, 0.7])


def test_depth_marks_fall_where_the_sampled_depth_changes():
    history = history_of([0.1] * 6, list("abcdef"), [2, 2, 3, 3, 3, 4])
    assert depth_steps(history) == [(2, 2, 3), (5, 3, 4)]
    cells = history.assign(arch=json.dumps({"space": "rnn_cell", "base": 2}))
    assert depth_steps(cells) == []  # a cell's size is fixed by its space: nothing to mark


def test_a_final_grid_row_without_a_chosen_run(tmp_path):
    run = tmp_path / "0_0"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"status": "failed", "rank": 0, "point": 0, "grid": {"lr": 0.1},
                                                  "metric": "val_acc", "best_val": None, "key": "k"}))
    grid = final_grid_table([run], {"status": "no final run succeeded"})
    assert list(grid["status"]) == ["failed"] and not grid["chosen"].any() and list(grid["grid.lr"]) == [0.1]


def test_a_search_with_stopped_children_gets_a_panel_of_the_fully_trained_and_a_caption(tmp_path):
    import matplotlib.image

    from nasrl.pipeline.plots import STOPPED_CAPTION, plot_search

    history = history_of([0.5, 0.6, 0.3, 0.9], list("abcd"), [2] * 4).assign(strategy="reinforce", round=[0, 0, 1, 1])
    plot_search(history.assign(status="ok"), tmp_path / "trained.png")
    plot_search(history.assign(status=["ok", "ok", "stopped", "ok"]), tmp_path / "stopped.png")
    width = {name: matplotlib.image.imread(tmp_path / f"{name}.png").shape[1] for name in ("trained", "stopped")}
    assert width["stopped"] == width["trained"] * 3 // 2  # a third panel: the fully trained children alone
    assert "projected" in STOPPED_CAPTION and "median" in STOPPED_CAPTION
