"""`nasrl plan-cluster`: the candidates, a recommendation of either mode as the search settings to
write, one error line for bad input."""

import math
import re

import pytest

from nasrl.cli import main
from nasrl.planning.candidates import NEAR_BEST, Candidate, Summary, recommend
from nasrl.settings import SearchSettings

SMALL = ["plan-cluster", "--slots", "16", "--children", "320", "--seeds", "2"]


def plan(capsys, slots: int, children: int, seeds: int = 2, *extra: str) -> list[str]:
    assert main(["plan-cluster", "--slots", str(slots), "--children", str(children), "--seeds", str(seeds),
                 *extra]) == 0
    return capsys.readouterr().out.splitlines()


def settings_of(line: str, m: int = 8) -> SearchSettings:
    """The `search.key: value` pairs a recommendation prints, as the search settings they make."""
    keys = dict(re.findall(r"search\.(\w+): (\w+)", line.split(" (")[0]))
    values = {key: value if key == "updates" else int(value) for key, value in keys.items()}
    return SearchSettings.from_dict({"space": "cifar10-paper", "children_per_round": m, **values})


def line_with(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_it_prints_the_candidates_of_both_modes_and_recommends_settings_to_write(capsys):
    lines = plan(capsys, 16, 320)
    out = "\n".join(lines)
    assert "no-dependency limit" in out and "not yet" not in out
    assert sum(line.startswith("rounds ") for line in lines) >= 5
    assert sum(line.startswith("async ") for line in lines) == 3
    recommended = line_with(lines, "recommended: ")
    # Here async K = 8 ties the rounds' 20% from the initial controller and their staleness loses
    assert recommended.startswith("recommended: search.updates: rounds, search.replicas: 2, search.staleness: 3, "
                                  "search.rounds: 20 (20 rounds of 16, 320 children): ")
    search = settings_of(recommended)
    assert (search.updates, search.replicas, search.staleness, search.rounds) == ("rounds", 2, 3, 20)
    assert not any(line.startswith("  in order, reproducible") for line in lines)  # the pick is in order already
    assert "in order with at most 2N/C = 10% from the initial controller: K = 1, s = 3" in out


def test_at_64_slots_async_keeps_them_busy_with_the_least_from_the_initial_controller(capsys):
    """12,800 one-hour children: async K m = 4N (50 batches per replica) keeps 94.5% of the slots
    busy with 2% from the initial controller; the busiest rounds, as busy, put 8% there (s + 1
    rounds of 128 or more in flight)."""
    lines = plan(capsys, 64, 12800)
    recommended = line_with(lines, "recommended: ")
    assert recommended.startswith("recommended: search.updates: async, search.replicas: 32, search.staleness: 0, "
                                  "search.rounds: 50 (50 steps of 8 per replica, 12,800 children): ")
    assert "96% of the limit; 2% of the children from the initial controller" in recommended
    search = settings_of(recommended)
    assert (search.updates, search.replicas, search.staleness, search.rounds) == ("async", 32, 0, 50)
    assert search.replicas * search.rounds * search.children_per_round == 12800
    row = line_with(lines, "async      32 ")
    assert row.split()[2:4] == ["256", "94.5%"]  # K m = 256 in flight, the utilization the line prints
    assert "94.5% of the slots busy" in recommended
    # the in-order alternative, reproducible from the seed alone, as settings too
    in_order = line_with(lines, "  in order, reproducible from the seed alone: ")
    search = settings_of(in_order.split(": ", 1)[1])
    assert (search.updates, search.replicas, search.staleness, search.rounds) == ("rounds", 16, 7, 100)
    assert "(100 rounds of 128, 12,800 children): 94.4% of the slots busy" in in_order
    assert line_with(lines, "  async needs child.early_stopping off")


def test_at_the_paper_s_800_slots_async_is_recommended(capsys):
    """Zoph & Le's 800 GPUs, 12,800 children of m = 8: only async K m = 4N comes within 2 points
    of the best; the in-order pick samples half the search from the initial controller."""
    lines = plan(capsys, 800, 12800)
    recommended = line_with(lines, "recommended: ")
    assert recommended.startswith("recommended: search.updates: async, search.replicas: 400, search.staleness: 0, "
                                  "search.rounds: 4 (4 steps of 8 per replica, 12,800 children): ")
    assert "25% of the children from the initial controller" in recommended
    in_order = line_with(lines, "  in order, reproducible from the seed alone: ")
    assert ("search.updates: rounds, search.replicas: 100, search.staleness: 7, search.rounds: 16 "
            "(16 rounds of 800, 12,800 children)") in in_order
    assert "50% of the children from the initial controller" in in_order
    assert line_with(lines, "  in order with at most 2N/C = 12% from the initial controller: K = 4, s = 49")


def summary(mode: str, K: int, s: int | None, utilization: float, initial: float, staleness: float) -> Summary:
    return Summary(candidate=Candidate(mode, K, s), seeds=1, children=100, utilization=utilization,
                   utilization_sd=0.0, limit=1.0, limit_sd=0.0, mean_staleness=staleness,
                   max_staleness=int(staleness), initial_share=initial)


def test_the_rule_weighs_both_modes_alike():
    busy_rounds = summary("rounds", 1, 7, 0.95, 0.08, 7)
    near_async = summary("async", 4, None, 0.95 - NEAR_BEST + 0.001, 0.04, 3)
    far_async = summary("async", 2, None, 0.95 - NEAR_BEST - 0.001, 0.02, 1)
    assert recommend([busy_rounds, near_async, far_async]) is near_async  # within 2 points: less initial
    assert recommend([busy_rounds, far_async]) is busy_rounds              # 2 points behind: the slots first
    assert recommend([busy_rounds, near_async], "rounds") is busy_rounds
    # the same initial share: the fresher updates, then rounds before async
    fresh_async = summary("async", 8, None, 0.95, 0.08, 5)
    assert recommend([busy_rounds, fresh_async]) is fresh_async
    twin_async = summary("async", 8, None, 0.96, 0.08, 7)
    assert recommend([twin_async, busy_rounds]) is busy_rounds


@pytest.mark.parametrize("extra, words", [
    (["--slots", "0"], "--slots must be a positive"),
    (["--children", "8"], "--children must be at least --slots (16)"),
    (["--sigma", "0"], "--sigma must be"),
    (["--median-hours", "-1"], "--median-hours must be"),
    (["--children-per-replica", "0"], "--children-per-replica must be"),
    (["--seeds", "0"], "--seeds must be"),
    (["--job-cap", "4"], "--job-cap must be 0"),
    (["--children", "10000000"], "--children must be at most"),
])
def test_bad_input_is_one_line(capsys, extra, words):
    assert main(SMALL + extra) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nasrl plan-cluster: error: ") and words in err


def test_a_value_that_is_no_number_is_argparse_s_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plan-cluster", "--slots", "many", "--children", "100"])
    assert stop.value.code == 2


def test_a_search_barely_larger_than_the_slots_still_gets_a_recommendation(capsys):
    """Whole rounds of 8 overshoot 12 children by a third: K = 1 stays a candidate all the same."""
    assert main(["plan-cluster", "--slots", "10", "--children", "12", "--seeds", "2"]) == 0
    assert "recommended: search.updates: rounds, search.replicas: 1, search.staleness: 0, search.rounds: 2 " \
           in capsys.readouterr().out


def test_async_candidates_train_whole_chains_close_to_the_children_asked():
    """K m about N, 2N, 4N, then the fewest chains of that length: never a chain's batches more
    than C (K = 512 chains of 4 would train 16,384 of 12,800 and beat the 12,800-child limit)."""
    from nasrl.planning.candidates import async_replicas

    assert async_replicas(1024, 12800, 8) == [124, 229, 400]
    assert async_replicas(400, 20000, 10) == [40, 80, 154]
    for slots, children, m in ((64, 12800, 8), (256, 12800, 8), (1024, 12800, 8), (800, 12800, 8), (400, 20000, 10)):
        for K in async_replicas(slots, children, m):
            steps = math.ceil(children / (K * m))
            assert children <= K * steps * m < children + steps * m
