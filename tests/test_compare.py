"""`nasrl compare`: two small surrogate searches (NAS-Bench-Macro rewards looked up, nothing
trained) written by the pipeline's own steps, then compared from their files alone."""

import json
import re
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
import yaml

from nasrl.cli import main
from nasrl.commands.compare import compare_figure, read_searches
from nasrl.layout import ResultsLayout

TABLE = Path(__file__).resolve().parents[1] / "src" / "nasrl" / "tables" / "nas-bench-macro-cifar10.csv"
CHILD = {"surrogate": {"table": str(TABLE), "key_column": "arch", "reward_column": "test_acc_seed0",
                       "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}"}}


def surrogate_search(root: Path, experiment: str, strategy: str, rounds_done: int, finish: bool) -> ResultsLayout:
    """A search of 3 planned rounds of 4 children into root/results/EXPERIMENT: a finished one
    has its summary tables, final run and headline figures, a running one its round tables only."""
    from nasrl.pipeline.collect import build_history, round_summary
    from nasrl.pipeline.final import report, retrain, select_top
    from nasrl.settings import ChildConfig, FinalSettings, SearchSettings
    from search_helpers import surrogate_rounds

    values = {"space": "nas_bench_macro", "strategy": strategy, "seed": 7, "rounds": 3, "children_per_round": 4}
    search, child = SearchSettings.from_dict(values), ChildConfig.from_dict(CHILD)
    layout = ResultsLayout(root / "results" / experiment)
    layout.settings("search").parent.mkdir(parents=True)
    layout.settings("search").write_text(yaml.safe_dump(values))
    surrogate_rounds(search, child, layout, rounds_done)
    if finish:  # what the workflow's summarize, final and report steps write
        history = build_history([layout.rewards(r) for r in range(rounds_done)], layout.history)
        round_summary(history).to_csv(layout.rounds_table, index=False)
        select_top(layout.history, 1, layout.top)
        retrain(layout.top, 0, 0, child, FinalSettings.from_dict({"top_k": 1, "grid": {"lr": [0.1]}}),
                layout.final_run(0, 0))
        report(layout.top, [layout.final_run(0, 0)], layout.history, experiment, layout.best, layout.search_metrics)
    return layout


@pytest.fixture(scope="module")
def two_searches(tmp_path_factory):
    """REINFORCE, finished, and its random control, 2 of 3 rounds done (read only by the tests)."""
    root = tmp_path_factory.mktemp("searches")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("nasrl.training.surrogate.time.sleep", lambda seconds: None)  # rewards only
        return (surrogate_search(root, "macro", "reinforce", 3, finish=True),
                surrogate_search(root, "macro-random", "random", 2, finish=False))


def test_compare_puts_rounds_best_and_finals_side_by_side(two_searches, tmp_path, capsys):
    ours, control = two_searches
    figure = tmp_path / "compare.png"
    assert main(["compare", str(ours.root), str(control.root), "-o", str(figure)]) == 0
    out = capsys.readouterr().out
    rounds = pd.read_csv(ours.rounds_table)  # the finished search's rounds.csv
    running = pd.concat([pd.read_parquet(control.rewards(r)) for r in range(2)])  # the control's round tables
    table = out.split("reward per round (mean and max)\n")[1].split("\n\n")[0].splitlines()
    assert "macro (reinforce)" in table[0] and "macro-random (random)" in table[0]
    for r in range(3):
        row = next(line for line in table if re.match(rf"^{r}\s", line)).split()
        assert [float(v) for v in row[1:3]] == pytest.approx(rounds.loc[r, ["mean_reward", "max_reward"]], abs=5e-5)
        if r < 2:
            part = running[running["round"] == r]["reward"]
            assert [float(v) for v in row[3:5]] == pytest.approx([part.mean(), part.max()], abs=5e-5)
        else:  # a round the running control has not reached
            assert row[3:] == ["-", "-"]

    best = out.split("best found")[1]
    history = pd.read_parquet(ours.history)
    top = history.sort_values("reward", ascending=False, kind="stable").iloc[0]
    assert re.search(rf"macro \(reinforce\) +3/3 +12 +{top['reward']:.4f} +{top['round']} +{top['arch_key']}", best)
    assert re.search(r"macro-random \(random\) +2/3 +8 ", best)

    chosen = json.loads(ours.best.read_text())
    headline = json.loads(ours.search_metrics.read_text())
    test = ", ".join(f"{k} {v:.4f}" for k, v in chosen["test"].items())
    chosen_line = re.escape(f"chosen 0_0: {chosen['metric']} {chosen['val']:.4f}; test: {test}")
    assert re.search(rf"^  macro \(reinforce\) +{chosen_line}\n"
                     rf" +{headline['children']} children, {headline['trained_children']} trained, 0 failed", out,
                     re.MULTILINE)
    assert re.search(r"^  macro-random \(random\) +no final results yet \(no final/best.json, no metrics.json\)$", out,
                     re.MULTILINE)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figure      {figure}" in out


def test_compare_draws_an_svg_and_rejects_bad_arguments(two_searches, tmp_path, capsys):
    ours, control = two_searches
    assert main(["compare", str(ours.root), str(control.root), "-o", str(tmp_path / "fig.svg")]) == 0
    texts = [t.text for t in ElementTree.parse(tmp_path / "fig.svg").iter("{http://www.w3.org/2000/svg}text")]
    assert "reward per round" in texts and "macro-random (random), mean" in texts
    assert any(t.startswith("Fig. 6: ") for t in texts)  # a random control among them: the paper's Fig. 6
    searches = read_searches([ours.root, control.root])
    no_control = [searches[0], replace(searches[1], settings={**searches[1].settings, "strategy": "evolution"})]
    texts = [t.text for t in ElementTree.parse(compare_figure(no_control, tmp_path / "two.svg")).iter(
        "{http://www.w3.org/2000/svg}text")]
    assert "macro-random (evolution), mean" in texts and not any(t.startswith("Fig. 6") for t in texts)
    capsys.readouterr()
    for argv, expected in [
        ([str(ours.root)], "compare needs two or more search results folders (results/EXP), got 1"),
        ([str(ours.root), str(tmp_path)], f"{tmp_path}: not a search's results folder"),
        ([str(ours.root), str(tmp_path / "none")], f"{tmp_path / 'none'}: no such folder"),
        ([str(ours.root), str(ours.root)], "given twice"),
        ([str(ours.root), str(control.root), "-o", str(tmp_path / "fig.pdf")], "expected a name ending in .png or .svg"),
    ]:
        assert main(["compare", *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith("nasrl compare: error: ") and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "fig.pdf").exists()
