"""``nasrl.layout`` is the one place that names a search's result files: no other module of the
package spells a result file's name, so moving a file is one change."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "nasrl"
RESULT_FILES = {"metrics.json", "curve.csv", "model.pt", "best.json", "best.svg", "top.json", "grid.csv",
                "rounds.csv", "rewards.csv", "history.parquet", "rewards.parquet", "reference.csv", "search.json",
                "data.json", "archs.jsonl", "search.png"}


def names_in(path: Path) -> list[tuple[int, str]]:
    """String literals of ``path`` that are a result file's name, or end a path with one (a
    command's help text, which only quotes one, aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    helps = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "help"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in helps \
                and node.value.split("/")[-1] in RESULT_FILES:
            found.append((node.lineno, node.value))
    return sorted(found)


def test_only_the_layout_names_result_files():
    named = [f"{path.relative_to(SRC)}:{line}: {value!r}" for path in sorted(SRC.rglob("*.py"))
             if path.name != "layout.py" for line, value in names_in(path)]
    assert not named, "result files named outside nasrl.layout:\n" + "\n".join(named)


def test_the_check_sees_a_name(tmp_path):
    source = tmp_path / "x.py"
    source.write_text('path = out / "metrics.json"\nother = "final/best.json"\ntext = "see metrics.json"\n'
                      'parser.add_argument("--out", help="results/EXP/final/best.json")\n')
    assert names_in(source) == [(1, "metrics.json"), (2, "final/best.json")]
