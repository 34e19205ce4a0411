"""`nasrl plan-cluster`: the candidates, a recommendation, one error line for bad input."""

import pytest

from nasrl.cli import main

SMALL = ["plan-cluster", "--slots", "16", "--children", "320", "--seeds", "2"]


def test_it_prints_the_candidates_and_recommends_an_in_order_one(capsys):
    assert main(SMALL) == 0
    out = capsys.readouterr().out
    assert "no-dependency limit" in out
    assert out.count("\nrounds ") >= 5 and "(not yet a workflow mode)" in out
    recommended = [line for line in out.splitlines() if line.startswith("recommended: ")]
    assert len(recommended) == 1 and "search.replicas:" in recommended[0] and "search.staleness:" in recommended[0]
    assert "async replicas would reach" in out


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
    assert "recommended: search.replicas: 1, search.staleness: 0" in capsys.readouterr().out
