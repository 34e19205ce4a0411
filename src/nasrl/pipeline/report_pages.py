"""The tables of a search as small HTML pages for ``snakemake --report``.

Snakemake's report shows images and HTML pages inline and offers every other file (CSV, JSON)
as a download only; so the rounds table, the final grid and the headline metrics are written
as HTML here, from the files that hold them (rounds.csv, final/runs/*/metrics.json, best.json,
metrics.json). Each page is self-contained: no script, no stylesheet from outside.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from nasrl.io import read_metrics
from nasrl.layout import RunFolder

STYLE = """body{font-family:sans-serif;font-size:14px;margin:1em}
table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}tr.chosen td{background:#e6f4ea;font-weight:bold}caption{text-align:left;margin:.3em 0}"""


def final_grid_table(run_dirs: list[str | Path], best: dict[str, Any]) -> pd.DataFrame:
    """One row per final run (Sec. 4.1's grid): rank, grid point, status, the validation metric,
    epochs and seconds; ``chosen`` marks the run best on validation, whose test metrics fill
    the ``test_*`` columns (no other run is tested)."""
    chosen_run = Path(best["run"]).name if best.get("status") == "ok" else None
    rows = []
    for run_dir in run_dirs:
        raw = read_metrics(RunFolder(run_dir).metrics).raw
        row = {"run": Path(run_dir).name, "rank": raw.get("rank"), "point": raw.get("point"),
               "arch_key": raw.get("arch_key"), **{f"grid.{k}": v for k, v in (raw.get("grid") or {}).items()},
               "status": raw["status"], "metric": raw.get("metric"), "val": raw.get("best_val"),
               "epochs": raw.get("epochs"), "seconds": raw.get("seconds"), "chosen": Path(run_dir).name == chosen_run}
        if row["chosen"]:
            row.update(best.get("test") or {})
        rows.append(row)
    return pd.DataFrame(rows)


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h2>{html.escape(title)}</h2>{body}</body></html>\n")


def table_html(table: pd.DataFrame, caption: str = "", chosen: pd.Series | None = None) -> str:
    """``table`` as an HTML table; rows where ``chosen`` is true are highlighted."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = []
    for i, (_, row) in enumerate(table.iterrows()):
        cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row)
        marked = ' class="chosen"' if chosen is not None and bool(chosen.iloc[i]) else ""
        rows.append(f"<tr{marked}>{cells}</tr>")
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


def rounds_page(rounds: pd.DataFrame) -> str:
    return page("Rewards per round", table_html(
        rounds, "mean and max reward of each round's children, failed children, children sampled"))


def final_grid_page(grid: pd.DataFrame) -> str:
    return page("Final grid", table_html(
        grid, "each top architecture retrained at each grid point; the highlighted run is best on "
              "validation and the only one tested", grid["chosen"] if "chosen" in grid else None))


def metrics_page(headline: dict[str, Any], best: dict[str, Any]) -> str:
    flat = {k: v for k, v in headline.items() if k != "final_test"}
    flat.update({f"final_{k}": v for k, v in (headline.get("final_test") or {}).items()})
    figures = pd.DataFrame({"figure": list(flat), "value": [format_value(v) for v in flat.values()]})
    body = table_html(figures, "metrics.json: the headline figures")
    if best.get("status") == "ok":
        chosen = {"architecture key": best["arch_key"], "grid point": best["grid"], best["metric"]: best["val"],
                  **best.get("test", {}), "final run": best["run"],
                  # child.reward.cost: what the chosen network costs, and the budget it was chosen within
                  **{name: best[key] for key, name in (("cost_measure", "cost measure"), ("cost", "cost"),
                                                       ("budget", "budget (final.within_budget)")) if key in best}}
        body += table_html(pd.DataFrame({"best final run": list(chosen), "value": [format_value(v) for v in chosen.values()]}),
                           "final/best.json: the architecture chosen on validation, tested once")
    else:
        body += f"<p>{html.escape(str(best.get('status')))}</p>"
    return page("Headline metrics", body)


def write_report_tables(rounds_csv: str | Path | None, run_dirs: list[str | Path], best_json: str | Path,
                        metrics_json: str | Path, grid_out: str | Path, pages: dict[str, str | Path]) -> pd.DataFrame:
    """final/grid.csv and the report's pages (name -> path: rounds, final_grid, metrics)."""
    best = json.loads(Path(best_json).read_text(encoding="utf-8"))
    headline = json.loads(Path(metrics_json).read_text(encoding="utf-8"))
    grid = final_grid_table(run_dirs, best)
    grid.to_csv(grid_out, index=False)
    texts = {"final_grid": final_grid_page(grid), "metrics": metrics_page(headline, best)}
    if rounds_csv is not None:
        texts["rounds"] = rounds_page(pd.read_csv(rounds_csv))
    for name, path in pages.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(texts[name], encoding="utf-8")
    return grid
