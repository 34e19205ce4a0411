"""benchmarks/performance/utilization.py on hand-made metrics.json files. The scheduling
simulation (benchmarks/performance/simulate_utilization.py, nasrl.planning) is tested in
tests/test_planning.py."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "performance" / "utilization.py"


def load():
    spec = importlib.util.spec_from_file_location("utilization", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(root: Path, key: str, **fields) -> None:
    (root / key).mkdir(parents=True)
    (root / key / "metrics.json").write_text(json.dumps({"status": "ok", "reward": 0.5, **fields}))


@pytest.fixture
def children(tmp_path):
    """Four timed children on 2 slots over [100, 130]: busy 10 + 20 + 15 + 2 = 47 s, so 47 / (2 * 30).
    a and b overlap on [105, 110]; c starts exactly when a ends (no overlap); b and c overlap."""
    root = tmp_path / "results" / "exp" / "children"
    child(root, "a", started_at=100.0, finished_at=110.0)
    child(root, "b", started_at=105.0, finished_at=125.0)
    child(root, "c", started_at=110.0, finished_at=125.0)
    child(root, "d", started_at=128.0, finished_at=130.0)
    child(root, "old", seconds=999.0)  # no wall-clock fields: ignored
    child(root, "half", started_at=50.0)  # started, no finish: ignored
    (root / "broken").mkdir()
    (root / "broken" / "metrics.json").write_text("{not json")
    return root


def test_exact_utilization(children):
    out = load().slot_utilization(children, slots=2)
    assert out["children"] == 4
    assert out["busy_seconds"] == pytest.approx(47.0)
    assert out["span_seconds"] == pytest.approx(30.0)
    assert out["utilization"] == pytest.approx(47.0 / 60.0)


def test_concurrency(children):
    module = load()
    assert module.slot_utilization(children, slots=2)["max_concurrent"] == 2
    assert module.max_concurrent([(0, 10), (1, 9), (2, 8), (10, 11)]) == 3
    assert module.max_concurrent([(0, 1), (1, 2), (2, 3)]) == 1


def test_untimed_files_ignored(tmp_path):
    root = tmp_path / "children"
    child(root, "x", seconds=5.0)
    out = load().slot_utilization(root, slots=4)
    assert out["children"] == 0 and out["utilization"] is None and out["max_concurrent"] == 0


def test_cli_prints_json(children):
    done = subprocess.run([sys.executable, str(SCRIPT), str(children.parent), "--slots", "2"],
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["utilization"] == pytest.approx(47.0 / 60.0) and out["children"] == 4
