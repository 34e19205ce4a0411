"""Shared fixtures (small spaces the tests build themselves, one finished tiny search) and the
guard that keeps the `e2e` marker honest.

Shared helpers live in tests/*_helpers.py, never in a test module: no test imports another.
"""

from __future__ import annotations

import os
import shlex
import sys

import pytest

from nasrl.spaces import build_space


@pytest.fixture
def tiny_tabular():
    """3 decisions x 3 choices: small enough to enumerate all 27 architectures."""
    return build_space({
        "type": "tabular",
        "decisions": [{"name": f"l{i}", "choices": ["0", "1", "2"]} for i in range(3)],
        "key": "{l0}{l1}{l2}",
    })


@pytest.fixture
def skip_only_cnn():
    """A 3-layer CNN space where only the anchor points decide (every layer may read any earlier one)."""
    return build_space({
        "type": "cnn", "filter_heights": [3], "filter_widths": [3], "strides": [1], "num_filters": [8],
        "always_connect_previous": False, "depth": {"start": 3, "step": 0, "every": 1, "max": 3},
    })


@pytest.fixture
def synthetic_space():
    """6 decisions x 5 choices; the search tests' reward is the fraction of positions matching
    search_helpers.TARGET."""
    return build_space({"type": "tabular", "key": "".join(f"{{d{i}}}" for i in range(6)),
                        "decisions": [{"name": f"d{i}", "choices": list("01234")} for i in range(6)]})


@pytest.fixture(scope="session")
def finished_tiny_search(tmp_path_factory):
    """One uninterrupted tiny search through `snakemake` (tests/workflow_helpers.py: TINY), run once
    for the workflow and the tracking tests: a test that uses it is `e2e`."""
    from workflow_helpers import TINY, make_workdir, snakemake

    workdir = make_workdir(tmp_path_factory.mktemp("search") / "run", TINY)
    snakemake(workdir)
    return workdir


# --- the e2e marker, enforced ----------------------------------------------------------------------
# `pytest -m "not e2e and not slurm"` is the loop to run while developing (README.md, Tests): it
# stays fast only if every test that starts snakemake, dvc, `mlflow server` or SLURM is marked
# `e2e`. An audit hook sees each process this pytest process starts (subprocess, os.exec*,
# os.posix_spawn) and each module it imports; one of those commands started, or the in-process
# Snakemake or DVC API imported, while a test without the marker runs is refused, and the test
# fails saying which. The commands the tests start are not watched inside (nothing in src/ starts
# any of these).

E2E_PROGRAMS = {"snakemake", "dvc", "sbatch", "srun", "salloc", "slurmctld", "slurmd", "slurmdbd"}
E2E_MODULES = {"snakemake.api", "snakemake.workflow", "dvc.repo", "dvc.cli"}
_WATCHED = {"subprocess.Popen", "os.exec", "os.posix_spawn", "import"}
_guard: dict = {"item": None, "refused": []}


def e2e_command(argv) -> str | None:
    """The e2e program in a command line (its program, a `python -m` module, or a command in a
    shell's -c script), or None."""
    def split(line: str) -> list[str]:
        try:
            return shlex.split(line)
        except ValueError:  # unbalanced quotes: words are enough to find a program's name
            return line.split()

    words = split(os.fsdecode(argv)) if isinstance(argv, (str, bytes, os.PathLike)) else \
        [os.fsdecode(a) for a in argv]
    if len(words) > 2 and os.path.basename(words[0]) in ("sh", "bash", "dash") and words[1] == "-c":
        words = words[:2] + split(words[2])
    for i, word in enumerate(words):
        name = os.path.basename(word)
        if word == "-m" and i + 1 < len(words):
            name = words[i + 1].split(".")[0]
        if name in E2E_PROGRAMS:
            return name
        if name == "mlflow" and {"server", "ui"} & set(words[i + 1:i + 3]):
            return "mlflow server"
    return None


def _audit(event: str, args: tuple) -> None:
    if event not in _WATCHED or _guard["item"] is None:
        return
    if event == "import":
        started = f"imports {args[0]}" if args[0] in E2E_MODULES else None
    else:
        try:
            started = e2e_command(args[1])
            started = started and f"starts {started}"
        except (TypeError, ValueError):  # a command line the guard cannot read is the test's own business
            started = None
    item = _guard["item"]
    if started is None or item.get_closest_marker("e2e") or item.get_closest_marker("slurm"):
        return
    message = (f"{item.nodeid} {started} but is not marked e2e: mark it "
               f"@pytest.mark.e2e (or the module with pytestmark), see README.md, Tests")
    _guard["refused"].append(message)
    raise RuntimeError(message)


sys.addaudithook(_audit)  # an audit hook cannot be removed: it checks only while a test runs


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _guard.update(item=item, refused=[])
    try:
        return (yield)
    finally:
        _guard.update(item=None, refused=[])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A refusal fails the test even where the test caught the error the audit hook raised."""
    report = yield
    if _guard["refused"]:
        if report.passed:
            report.outcome, report.longrepr = "failed", "\n".join(_guard["refused"])
        _guard["refused"] = []
    return report
