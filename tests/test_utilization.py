"""benchmarks/performance/utilization.py on hand-made metrics.json files; benchmarks/performance/
simulate_utilization.py on small cases."""

import importlib.util
import json
import math
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


# ----- benchmarks/performance/simulate_utilization.py: the scheduling simulation ------------

SIMULATION = SCRIPT.with_name("simulate_utilization.py")


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("simulate_utilization", SIMULATION)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up by name
    spec.loader.exec_module(module)
    return module


def test_required_in_flight_inverts_little_bound(sim):
    sigma = sim.sigma_for(3.0, 8)
    for slots, n in ((64, 8), (256, 8), (256, 256)):
        need = sim.required_in_flight(slots, n, sigma)
        ratio = sim.expected_max_ratio(sigma, n) / math.exp(sigma ** 2 / 2)
        assert need / (slots * ratio) >= 0.9 > (need - 1) / (slots * ratio)
        assert sim.little_bound(slots, n, math.ceil(need / n) - 1, sigma) >= 0.9
    # the in-order window needs more: its slowest child is the slowest of the whole window
    window = sim.required_in_flight_window(256, sigma)
    assert window > sim.required_in_flight(256, 256, sigma)
    assert sim.window_estimate(256, window, sigma) >= 0.9 > sim.window_estimate(256, window - 8, sigma)


def test_mean_staleness(sim):
    assert sim.mean_staleness(1, 7) == 7
    assert sim.mean_staleness(4, 2) == 2 * 4 + 1.5
    # rounds 0, 1, 2 with s = 2: lags 0, 1, 2 (the first s rounds come from controller 0)
    assert sim.mean_staleness(1, 2, rounds=3) == pytest.approx(1.0)
    assert sim.mean_staleness(2, 1, rounds=4) == pytest.approx(0.75 * 2 + 0.5)


def test_small_rounds_fill_the_slots_without_a_tail(sim):
    """K = 1, m = 8, s = N/m - 1 keeps N children in flight; with near-equal durations the
    checkpoints of the s + 1 rounds complete independently and the slots stay full."""
    model = sim.Model(sigma=0.01)
    out = sim.simulate(32, 1, 8, 3, 200, model)
    assert out["utilization"] > 0.9 and out["max_rounds_training"] == 4
    assert out["peak_steps"] <= model.local_cores and out["in_flight"] == 32


def test_heavy_tail_holds_the_in_order_updates(sim):
    """One slow child holds every later update: K = 1 with a large s tracks the window
    estimate, far below the per-round Little bound."""
    heavy = sim.Model(sigma=sim.sigma_for(3.0, 8))
    out = sim.simulate(256, 1, 8, 127, 1600, heavy)
    assert out["bound"] == 1.0
    assert abs(out["utilization"] - out["window"]) < 0.1 and out["utilization"] < 0.6


def test_replans_block_the_scheduling_loop(sim):
    """Re-plans run one at a time and nothing is submitted meanwhile: with 60 s re-plans and
    1 s children, a round every 60 s at best, whatever the local cores and staleness."""
    model = sim.Model(median=1.0, sigma=0.01, step_seconds=1.0, step_per_child=0.0, replan_a=60.0,
                      replan_b=0.0, poll=0.0, local_cores=4)
    out = sim.simulate(64, 1, 8, 20, 30, model)
    assert out["search_hours"] * sim.HOUR >= 30 * 60.0
    assert out["replan_share"] > 0.9
    serial = sim.simulate(64, 1, 8, 20, 30, sim.replace(model, local_cores=1))
    assert serial["search_hours"] == pytest.approx(out["search_hours"], rel=0.05)


def test_measured_staleness_and_the_out_of_order_what_if(sim):
    """In round order the simulated staleness is the formula's; in completion order (the what-if)
    the mean stays near s, a slow child no longer holds the later updates, and the per-round
    Little bound is met."""
    heavy = sim.Model(sigma=sim.sigma_for(3.0, 8))
    in_order = sim.simulate(64, 2, 8, 3, 100, heavy)
    assert in_order["search_staleness"] == pytest.approx(sim.mean_staleness(2, 3, rounds=100))
    a = sim.simulate(64, 1, 8, 31, 800, heavy)
    b = sim.simulate(64, 1, 8, 31, 800, sim.replace(heavy, in_order=False))
    assert b["steady_utilization"] > a["steady_utilization"] + 0.15
    assert b["steady_utilization"] == pytest.approx(b["bound"], abs=0.05)
    assert abs(b["search_staleness"] - a["search_staleness"]) < 1.0 and b["max_staleness"] > a["max_staleness"]


def test_sigma_comparison_reproduces_the_assumed_tail_and_a_lighter_tail_keeps_slots_busier(sim):
    result = sim.sigma_comparison([0.45, 0.32])
    assert result["sigmas"]["assumed"] == pytest.approx(sim.sigma_for(3.0, 8))
    assert len(result["rows"]) == sum(len(s) for s in sim.SCALING_GRID.values())
    row = next(r for r in result["rows"] if (r["slots"], r["K"], r["s"]) == (8, 1, 0))
    heavy = sim.Model(sigma=result["sigmas"]["assumed"])
    assert row["assumed"] == sim.simulate(8, 1, 8, 0, sim.rounds_for(8), heavy)["utilization"]
    for r in result["rows"]:  # the same draws scaled by a smaller sigma: shorter stragglers
        assert r["assumed"] <= r["sigma 0.45"] <= r["sigma 0.32"], r
