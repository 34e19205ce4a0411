"""DVC's view of the workflow (dvc.yaml), through the real `dvc` command, on tiny searches.

The project is copied into a temporary git repository with no DVC cache and no remote, as a
fresh clone is, and the tiny config of test_workflow.py written over config/config.yaml.
Three tiny searches run in all: `dvc repro`, the random-search control and one
`dvc exp run` variant.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import BIN, REPO, TINY, make_workdir

# Every test here runs `dvc` (and through it `snakemake`).
pytestmark = pytest.mark.e2e

RESULTS = Path("results") / TINY["experiment"]
ROUNDS, CHILDREN = TINY["search"]["rounds"], TINY["search"]["rounds"] * TINY["search"]["children_per_round"]
CONTROL = Path("results") / f"{TINY['experiment']}-random"
COMPARE = Path("results") / "compare"  # one file per search, which DVC shows
# What a project checkout holds for DVC, beyond what make_workdir copies for Snakemake.
DVC_FILES = ["dvc.yaml", "data.dvc", "random-search/dvc.yaml", ".dvcignore", ".gitignore",
             ".dvc/config", ".dvc/.gitignore", ".dvc/plots/offline.html"]


def run(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(repo, f"{BIN}/dvc", *args, check=check)


def commit(repo: Path, message: str) -> None:
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git repository of the project with the tiny config, after one `dvc repro`, committed."""
    repo = make_workdir(tmp_path_factory.mktemp("dvc") / "project", TINY)
    shutil.copytree(REPO / "src" / "nasrl", repo / "src" / "nasrl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in DVC_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, repo / name)
    run(repo, "git", "init", "-q")
    # `dvc exp run` commits each experiment, so git needs an identity.
    run(repo, "git", "config", "user.name", "nasrl tests")
    run(repo, "git", "config", "user.email", "tests@nasrl.invalid")
    commit(repo, "project")
    repro = dvc(repo, "repro")
    commit(repo, "search")
    return repo, repro


def lock(repo: Path, dvcfile: str = "dvc.lock") -> dict:
    return yaml.safe_load((repo / dvcfile).read_text())


def test_repro_runs_the_search_and_records_it(project):
    repo, repro = project
    assert "Running stage 'search'" in repro.stdout
    metrics = json.loads((repo / RESULTS / "metrics.json").read_text())
    assert metrics["experiment"] == "tiny" and metrics["children"] == CHILDREN and metrics["strategy"] == "reinforce"
    stage = lock(repo)["stages"]["search"]
    assert stage["cmd"] == "snakemake --cores all"
    assert stage["params"]["config/config.yaml"] == TINY
    assert {dep["path"] for dep in stage["deps"]} == {"Snakefile", "workflow", "src/nasrl"}
    outs = {entry["path"]: entry for entry in stage["outs"]}
    assert set(outs) == {str(RESULTS), f"{COMPARE}/metrics/tiny.json", f"{COMPARE}/rewards/tiny.csv",
                         f"{COMPARE}/rounds/tiny.csv"}
    out = outs[str(RESULTS)]
    assert out["md5"].endswith(".dir")
    # The whole results folder is in the cache, so an experiment can bring it back.
    cached = repo / ".dvc" / "cache" / "files" / "md5" / out["md5"][:2] / out["md5"][2:]
    listing = {entry["relpath"] for entry in json.loads(cached.read_text())}
    assert {"metrics.json", "rewards.csv", "history.parquet", "final/best.json"} <= listing


def test_a_second_repro_with_nothing_changed_does_nothing(project):
    repo, _ = project
    before = {p: p.stat().st_mtime_ns for p in (repo / RESULTS).rglob("*") if p.is_file()}
    again = dvc(repo, "repro")
    assert "Stage 'search' didn't change, skipping" in again.stdout and "Running stage" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (repo / RESULTS).rglob("*") if p.is_file()} == before
    assert run(repo, "git", "status", "--porcelain").stdout == ""


def test_metrics_show_reads_the_search_metrics(project):
    repo, _ = project
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    metrics = json.loads((repo / RESULTS / "metrics.json").read_text())
    assert list(shown[""]["data"]) == [f"{COMPARE}/metrics/tiny.json"]  # "": the workspace
    data = shown[""]["data"][f"{COMPARE}/metrics/tiny.json"]["data"]
    assert data["best_search_reward"] == metrics["best_search_reward"]
    assert data["final_test"] == metrics["final_test"] and data["children"] == CHILDREN


def test_params_diff_shows_an_edited_config_key(project):
    repo, _ = project
    config = repo / "config" / "config.yaml"
    original = config.read_text()
    edited = yaml.safe_load(original)
    epochs = edited["child"]["epochs"]
    edited["child"]["epochs"] = epochs + 2
    config.write_text(yaml.safe_dump(edited))
    try:
        diff = json.loads(dvc(repo, "params", "diff", "--json").stdout)
    finally:
        config.write_text(original)
    assert diff == {"config/config.yaml": {"child.epochs": {"old": epochs, "new": epochs + 2, "diff": 2}}}


def plot_data(html: str) -> dict[str, list[dict]]:
    """The data points of each vega plot in a page written by `dvc plots show`, by its title:
    a plot of a folder (dvc.yaml) draws each of its files apart, titled by its path."""
    specs = [json.loads(spec) for spec in re.findall(r"var spec = (\{.*?\});\n", html, flags=re.S)]
    assert specs, "no vega plot in the page"
    return {spec["title"]["text"]: spec["data"]["values"] for spec in specs}


def test_before_the_random_control_runs_dvc_reports_nothing_failed(project, tmp_path):
    """The control's files are not named in dvc.yaml, so their absence is no error."""
    repo, _ = project
    assert not (repo / CONTROL).exists()
    for command in (("metrics", "show"), ("plots", "show", "-o", str(tmp_path / "plots"))):
        shown = dvc(repo, *command)
        assert "failed to load" not in (shown.stdout + shown.stderr).lower(), shown.stdout + shown.stderr
    assert f"{RESULTS.name}.json" in dvc(repo, "metrics", "show").stdout
    drawn = plot_data((tmp_path / "plots" / "index.html").read_text())
    assert set(drawn) == {f"{COMPARE}/rewards/{RESULTS.name}.csv", f"{COMPARE}/rounds/{RESULTS.name}.csv"}


def test_plots_show_draws_the_rewards_offline_and_the_random_control_beside_them(project, tmp_path):
    repo, _ = project
    control = dvc(repo, "repro", "random-search/dvc.yaml")
    assert "Running stage 'random-search/dvc.yaml:random_search'" in control.stdout
    assert (pd.read_csv(repo / CONTROL / "rewards.csv")["strategy"] == "random").all()
    assert str(CONTROL) in {out["path"] for out in lock(repo, "random-search/dvc.lock")["stages"]["random_search"]["outs"]}

    shown = dvc(repo, "plots", "show", "-o", str(tmp_path / "plots"))
    assert "failed to load" not in (shown.stdout + shown.stderr).lower()
    html = (tmp_path / "plots" / "index.html").read_text()
    # Nothing is loaded from outside the page: vega, vega-lite and vega-embed are inlined.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, flags=re.I)
    for library in ("vega", "vega-lite", "vega-embed"):
        assert f"<!-- {library} " in html
    points = plot_data(html)
    for folder in (RESULTS, CONTROL):
        drawn = [float(p["reward"]) for p in points[f"{COMPARE}/rewards/{folder.name}.csv"]]
        assert drawn == pytest.approx(list(pd.read_csv(repo / folder / "rewards.csv")["reward"]))
    metrics = json.loads(dvc(repo, "metrics", "show", "--json").stdout)[""]["data"]
    assert metrics[f"{COMPARE}/metrics/{CONTROL.name}.json"]["data"]["strategy"] == "random"
    assert metrics[f"{COMPARE}/metrics/{RESULTS.name}.json"]["data"]["strategy"] == "reinforce"


def test_exp_run_with_a_changed_key_runs_a_variant(project):
    repo, _ = project
    dvc(repo, "exp", "run", "-n", "short", "-S", "config/config.yaml:search.rounds=1",
        "-S", "config/config.yaml:experiment=tiny-short")
    # dvc.yaml takes the results folder's name from the config, so the variant has its own.
    short = json.loads((repo / "results" / "tiny-short" / "metrics.json").read_text())
    assert short["experiment"] == "tiny-short" and short["children"] == CHILDREN // ROUNDS
    assert len(short["mean_reward_by_round"]) == 1
    assert "results/tiny-short" in {out["path"] for out in lock(repo)["stages"]["search"]["outs"]}
    params = json.loads(dvc(repo, "params", "diff", "--json").stdout)["config/config.yaml"]
    assert params == {"experiment": {"old": "tiny", "new": "tiny-short"},
                      "search.rounds": {"old": ROUNDS, "new": 1, "diff": 1 - ROUNDS}}
    [baseline] = json.loads(dvc(repo, "exp", "show", "--json").stdout)[1:]
    [variant] = baseline["experiments"]
    assert variant["name"] == "short"
    recorded = variant["revs"][0]["data"]
    assert recorded["params"]["config/config.yaml"]["data"]["search"]["rounds"] == 1
    assert recorded["metrics"][f"{COMPARE}/metrics/tiny-short.json"]["data"]["children"] == CHILDREN // ROUNDS
    assert baseline["data"]["metrics"][f"{COMPARE}/metrics/tiny.json"]["data"]["children"] == CHILDREN
