"""`nasrl show` on a running search: children done of those planned, elapsed time, time left."""

import json

from nasrl.commands.progress import duration, progress_line
from nasrl.layout import ResultsLayout, SampleFolder


def running_search(tmp_path, finished: dict[str, tuple[float, float]], sampled: list[str]) -> ResultsLayout:
    """Round 0 sampled ``sampled`` (keys; a key twice is a repeat), ``finished`` children done
    with their (started_at, finished_at)."""
    layout = ResultsLayout(tmp_path / "results" / "x")
    folder = SampleFolder(layout.samples(0))
    folder.path.mkdir(parents=True)
    folder.sampled.write_text("".join(json.dumps({"round": 0, "index": i, "key": k}) + "\n"
                                      for i, k in enumerate(sampled)))
    for key, (start, end) in finished.items():
        layout.child_dir(key).mkdir(parents=True)
        layout.child_metrics(key).write_text(json.dumps({"status": "ok", "started_at": start, "finished_at": end}))
    return layout


def test_a_running_search_says_what_is_done_and_estimates_the_rest_at_its_pace(tmp_path):
    layout = running_search(tmp_path, {"a": (1000.0, 1010.0), "b": (1000.0, 1020.0)}, ["a", "b", "a", "c"])
    settings = {"rounds": 2, "replicas": 1, "children_per_round": 4}
    line = progress_line(layout, settings, now=1060.0)
    # 3 of 8 samples done (the repeat of "a" counts: its training is reused); 60 s so far, so
    # 60 / 3 x 5 = 100 s left
    assert line == ("children    3 of 8 done; 1 min 0 s since the first started; about 1 min 40 s left at the rate "
                    "so far (final runs after)")


def test_a_finished_search_gives_its_span_and_nothing_to_wait_for(tmp_path):
    layout = running_search(tmp_path, {"a": (1000.0, 1010.0), "b": (1005.0, 1090.0)}, ["a", "b"])
    line = progress_line(layout, {"rounds": 1, "replicas": 1, "children_per_round": 2}, now=5000.0)
    assert line == "children    2 of 2 done; 1 min 30 s from the first start to the last end"


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (7, 95, 3725)] == ["7 s", "1 min 35 s", "1 h 2 min"]


def test_show_on_a_search_whose_first_round_is_still_training(tmp_path):
    """Sampled, some children done, no round table yet: the progress, and no tables to show."""
    from nasrl.commands.show import show_search

    layout = running_search(tmp_path, {"a": (1000.0, 1010.0)}, ["a", "b"])
    layout.settings("search").parent.mkdir(parents=True)
    layout.settings("search").write_text("strategy: reinforce\nspace: cnn_v1\nseed: 0\nrounds: 2\nchildren_per_round: 2\n")
    shown = show_search(layout.root)
    assert "rounds      none finished yet" in shown and "children    1 of 4 done" in shown
    assert "best children" not in shown
