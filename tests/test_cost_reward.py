"""MnasNet's cost-aware reward (``child.reward.cost``, nasrl.training.cost): the factor, its
settings and their one-line errors, the cost a child records, the Pareto front, and a search on
a synthetic table whose children it moves toward the target cost."""

import itertools
import json
import math

import pandas as pd
import pytest

from nasrl.errors import SettingsError
from nasrl.pipeline.pareto import pareto_front
from nasrl.settings import ChildConfig, child_key, validate_workflow_config
from nasrl.settings.child import CostConfig
from nasrl.training.cost import cost_aware_reward, cost_factor
from training_helpers import SMALL_CNN, digits_config
from workflow_helpers import SURROGATE, step_by_step


def cost(**values):
    return CostConfig.from_dict({"measure": "params", "target": 1e6, **values})


def test_the_soft_constraint_is_mnasnets_factor_on_both_sides_of_the_target():
    assert cost_factor(2e6, cost()) == pytest.approx(2 ** -0.07)  # Tan et al. 2019, Sec. 3: w = -0.07
    assert cost_factor(5e5, cost()) == pytest.approx(0.5 ** -0.07)  # cheaper than the target: a bonus
    assert cost_factor(1e6, cost()) == 1.0


def test_the_hard_constraint_leaves_children_within_the_target_alone():
    hard = cost(hard=True)
    assert cost_factor(5e5, hard) == 1.0 and cost_factor(1e6, hard) == 1.0
    assert cost_factor(2e6, hard) == pytest.approx(0.5)  # MnasNet's beta = -1 by default
    assert cost_factor(2e6, cost(hard=True, weight=-0.5)) == pytest.approx(2 ** -0.5)


def test_the_factor_scales_the_metric_before_the_papers_power():
    plain = 0.8 ** 3  # accuracy cubed, Sec. 4.1
    assert cost_aware_reward(plain, 2e6, cost(), 3.0) == pytest.approx((0.8 * 2 ** -0.07) ** 3)


def test_no_cost_leaves_the_child_key_as_it_was():
    arch = {"space": "tabular", "decisions": {"l0": "0"}}
    priced = ChildConfig.from_dict({"reward": {"cost": {"measure": "params", "target": 1e6}}})
    assert "cost" not in ChildConfig().result_dict()["reward"]
    assert child_key(arch, priced) != child_key(arch, ChildConfig())


def plan(child, tmp_path):
    """validate_workflow_config on a surrogate search of NAS-Bench-Macro with ``child`` merged in."""
    config = {"experiment": "cost", "search": {"space": "nas_bench_macro", "rounds": 1, "children_per_round": 2},
              "child": {"surrogate": SURROGATE, **child}, "tracking": {"enabled": False}}
    return validate_workflow_config(config)


@pytest.mark.parametrize("reward_cost, words", [
    ({"measure": "params", "target": 0}, ["child.reward.cost.target:", "> 0", "got 0"]),
    ({"measure": "params", "target": -5}, ["child.reward.cost.target:", "got -5"]),
    ({"measure": "size", "target": 1e6}, ["child.reward.cost.measure:", "'params', 'flops' or 'latency_ms'", "'size'"]),
    ({"measure": "params", "target": 1e6, "hard": True, "weight": 0.5},
     ["child.reward.cost.weight:", "hard constraint", "<= 0", "got 0.5"]),
    ({"measure": "latency_ms", "target": 3}, ["child.reward.cost.measure:", "surrogate", "params or flops"]),
    ({"measure": "params", "target": 1e6, "weight": "heavy"}, ["child.reward.cost.weight:", "'heavy'"]),
], ids=["zero target", "negative target", "unknown measure", "positive hard weight", "surrogate latency",
        "weight not a number"])
def test_bad_cost_settings_stop_the_plan_in_one_line(tmp_path, reward_cost, words):
    with pytest.raises(SettingsError) as err:
        plan({"reward": {"cost": reward_cost}}, tmp_path)
    line = str(err.value)
    assert "\n" not in line
    for word in words:
        assert word in line, line


def test_a_surrogate_table_without_the_measures_column_stops_the_plan(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("arch,test_acc_seed0\n00000000,50\n")
    with pytest.raises(SettingsError, match=r"child\.reward\.cost\.measure: .* no 'flops' column"):
        plan({"surrogate": {**SURROGATE, "table": str(table)},
              "reward": {"cost": {"measure": "flops", "target": 1e7}}}, tmp_path)


def test_the_pareto_front_keeps_the_children_no_other_beats_on_both():
    history = pd.DataFrame({
        "round": 0, "index": range(6), "arch_key": list("abcdea"), "status": ["ok"] * 5 + ["ok"],
        "metric": "val_acc", "cost": [1, 2, 3, 2, 4, 1], "val": [0.5, 0.7, 0.7, 0.6, 0.9, 0.5],
    })
    history.loc[4, "status"] = "failed"  # the best and dearest failed: not a candidate
    assert list(pareto_front(history)["arch_key"]) == ["a", "b"]  # c costs more for 0.7, d is beaten by b


def test_a_child_records_its_flops_and_the_priced_reward(tmp_path):
    from nasrl.models.flops import cnn_flops
    from nasrl.training.child import train_child

    config = digits_config(epochs=1, limit_train_batches=2,
                           reward={"cost": {"measure": "flops", "target": 1e5, "hard": True}})
    metrics = train_child(SMALL_CNN, config, tmp_path)
    assert metrics["status"] == "ok"
    assert metrics["cost"] == cnn_flops(SMALL_CNN, 1, 8, 10)  # torch's count of one 8x8 digit
    assert metrics["cost_measure"] == "flops" and metrics["cost_target"] == 1e5
    factor = (metrics["cost"] / 1e5) ** -1 if metrics["cost"] > 1e5 else 1.0
    assert metrics["reward"] == pytest.approx(metrics["plain_reward"] * factor ** 3)
    assert metrics["plain_reward"] == pytest.approx(metrics["best_val"] ** 3)


def test_latency_is_the_median_of_timed_passes(monkeypatch):
    from nasrl.training import cost_measure

    ticks = iter([0.0, 0.001, 1.0, 1.002, 2.0, 2.010, 3.0, 3.003])  # passes of 1, 2, 10 and 3 ms
    monkeypatch.setattr(cost_measure, "perf_counter", lambda: next(ticks))
    calls = []
    torch = pytest.importorskip("torch")
    milliseconds = cost_measure.latency_ms(lambda x: calls.append(x.shape), torch.zeros(2, 3), passes=3, warmup=1,
                                           bf16=False)
    assert milliseconds == pytest.approx(3.0)  # the warm-up's 1 ms is left out; the median of 2, 10, 3
    assert calls == [(2, 3)] * 4


# --- a search on a synthetic table --------------------------------------------------------------

TARGET = 1e6


def synthetic_table(path):
    """81 architectures (4 layers x 4 widths): 2e5 parameters per width step above 2e5, and an
    accuracy that rises with size and saturates (90 - 50 exp(-2 params / 1e6)): the bigger the
    better, so the paper's reward drives the search to the largest children."""
    rows = []
    for combo in itertools.product(range(4), repeat=4):
        params = 2e5 * (1 + sum(combo))  # 2e5 .. 2.6e6
        rows.append({"arch": "".join(map(str, combo)), "acc": 90 - 50 * math.exp(-2 * params / TARGET),
                     "params": params})
    pd.DataFrame(rows).to_csv(path, index=False)


def search(table, reward_cost, root, monkeypatch) -> pd.DataFrame:
    space = {"type": "tabular", "key": "{l0}{l1}{l2}{l3}",
             "decisions": [{"name": f"l{i}", "choices": ["0", "1", "2", "3"]} for i in range(4)]}
    config = {"search": {"space": space, "strategy": "reinforce", "seed": 0, "rounds": 10, "children_per_round": 8,
                         "controller": {"lr": 0.05}},
              "child": {"seed": 0, "surrogate": {"table": str(table), "key_column": "arch",
                                                 "key_template": "{l0}{l1}{l2}{l3}", "reward_column": "acc"},
                        **({"reward": {"cost": reward_cost}} if reward_cost else {})}}
    history = step_by_step(config, root, monkeypatch)
    sizes = pd.read_csv(table, dtype={"arch": str}).set_index("arch")["params"]
    history["size"] = [sizes["".join(json.loads(a)["decisions"][f"l{i}"] for i in range(4))] for a in history["arch"]]
    return history


def test_the_cost_aware_reward_moves_a_searchs_children_toward_the_target(tmp_path, monkeypatch):
    synthetic_table(tmp_path / "table.csv")
    runs = {name: search(tmp_path / "table.csv", reward_cost, tmp_path / name, monkeypatch) for name, reward_cost in [
        ("plain", None), ("soft", {"measure": "params", "target": TARGET}),
        ("hard", {"measure": "params", "target": TARGET, "hard": True})]}
    late = {name: float(h.loc[h["round"] >= 7, "size"].median()) for name, h in runs.items()}
    first = float(runs["plain"].loc[runs["plain"]["round"] == 0, "size"].median())  # the same samples in each
    assert late["plain"] > first and late["plain"] >= 2.0 * TARGET  # the paper's reward: bigger is better
    assert late["soft"] < late["plain"]  # MnasNet's soft constraint pulls toward the target...
    assert 0.6 * TARGET <= late["hard"] <= 1.4 * TARGET  # ...and the hard one holds the search at it
    hard = runs["hard"]
    assert "cost" in hard and (hard["cost"] == hard["size"]).all()  # the history records each child's cost
    assert (hard["plain_reward"] >= hard["reward"]).all()  # a hard constraint only ever takes away


# --- the final choice within the budget, the figure and nasrl show -------------------------------

def test_the_final_step_can_choose_the_best_network_within_the_budget(tmp_path):
    from nasrl.io import write_json
    from nasrl.pipeline.final import report, retrain
    from nasrl.settings import FinalSettings

    synthetic_table(tmp_path / "table.csv")
    surrogate = {"table": str(tmp_path / "table.csv"), "key_column": "arch", "key_template": "{l0}{l1}{l2}{l3}",
                 "reward_column": "acc"}
    child = ChildConfig.from_dict({"surrogate": surrogate, "reward": {"cost": {"measure": "params", "target": TARGET}}})
    archs = [{"space": "tabular", "decisions": {"l0": d, "l1": "3", "l2": "3", "l3": "3"}} for d in "30"]  # 2.6e6, 2e6
    archs.append({"space": "tabular", "decisions": {"l0": "1", "l1": "1", "l2": "1", "l3": "1"}})  # 1e6: the target
    write_json(tmp_path / "top.json", [{"rank": i, "arch_key": str(i), "arch": a, "reward": None, "val": None,
                                        "round": 0, "index": i} for i, a in enumerate(archs)])
    chosen = {}
    for within in (False, True):
        final = FinalSettings.from_dict({"top_k": 3, "within_budget": within})
        runs = [tmp_path / f"{within}" / str(rank) for rank in range(3)]
        for rank, run in enumerate(runs):
            retrain(tmp_path / "top.json", rank, 0, child, final, run)
        report(tmp_path / "top.json", runs, None, "cost", tmp_path / f"best{within}.json", tmp_path / "m.json")
        chosen[within] = json.loads((tmp_path / f"best{within}.json").read_text())
    assert chosen[False]["rank"] == 0 and chosen[False]["cost"] == 2.6e6  # the most accurate, over the budget
    assert chosen[True]["rank"] == 2 and chosen[True]["cost"] == TARGET and chosen[True]["budget"] == TARGET


def test_final_within_budget_needs_a_cost(tmp_path):
    from nasrl.pipeline.final import retrain
    from nasrl.settings import FinalSettings

    with pytest.raises(SettingsError, match="final.within_budget: .* expected child.reward.cost"):
        retrain(tmp_path / "top.json", 0, 0, ChildConfig(), FinalSettings.from_dict({"within_budget": True}), tmp_path)


def test_the_figure_and_nasrl_show_draw_the_front_only_with_a_cost(tmp_path, monkeypatch):
    from matplotlib.image import imread

    from nasrl.commands.show import front_lines
    from nasrl.layout import ResultsLayout
    from nasrl.pipeline.pareto import pareto_front
    from nasrl.pipeline.plots import plot_search

    synthetic_table(tmp_path / "table.csv")
    for name, reward_cost in (("plain", None), ("hard", {"measure": "params", "target": TARGET, "hard": True})):
        history = search(tmp_path / "table.csv", reward_cost, tmp_path / name, monkeypatch)
        history["strategy"] = "reinforce"
        plot_search(history.drop(columns="size"), tmp_path / f"{name}.png")
    assert imread(tmp_path / "hard.png").shape[0] > imread(tmp_path / "plain.png").shape[0]  # the front's panel
    lines = front_lines(history, ResultsLayout(tmp_path / "results"))
    front = pareto_front(history)
    assert lines[0].startswith(f"Pareto front, acc against params (target 1e+06): {len(front)} of ")
    marked = [line for line in lines[1].splitlines() if line.lstrip().startswith("*")]
    best = history.loc[history["reward"].idxmax(), "arch_key"]
    assert len(marked) == 1 and best in marked[0]  # no final choice yet: the best reward is marked


def test_mlflow_gets_the_cost_and_the_plain_reward_only_with_a_cost():
    from nasrl.tracking.record import summary_metrics

    plain = {"status": "ok", "reward": 0.5, "metric": "val_acc", "best_val": 0.8, "params": 1000}
    priced = {**plain, "reward": 0.4, "plain_reward": 0.5, "cost": 2.5, "cost_measure": "latency_ms"}
    assert not {"plain_reward", "cost_latency_ms"} & set(summary_metrics(plain))
    assert summary_metrics(priced) == {**summary_metrics(plain), "reward": 0.4, "plain_reward": 0.5,
                                            "cost_latency_ms": 2.5}
