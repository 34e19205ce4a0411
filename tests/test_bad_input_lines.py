"""Inputs that once ended in a traceback, an OSError or a full memory: each is now one error
line naming what was wrong and what is accepted, with a non-zero exit status.

Every case runs the installed `nasrl` command (or `snakemake` for a config value) as a user
would, in a fresh process without the warm-start server.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nasrl.tracking.state import SearchRun

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NASRL_WARM_START": "0", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

CNN = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 24, "inputs": []},
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 36, "inputs": [0]},
]}
# The verbs that read an architecture argument, with what each needs besides it.
ARCH_VERBS = [["describe"], ["describe", "--json"], ["validate", "--space", "cnn_v1"], ["key"]]


def nasrl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "nasrl", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def one_error_line(done: subprocess.CompletedProcess, *words: str) -> str:
    """The one line on stderr of a command that failed, holding every one of ``words``."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and done.stderr.endswith("\n"), done.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.e2e
def test_an_experiment_name_too_long_for_a_folder_stops_the_plan_in_one_line(tmp_path):
    """300 characters passed the name's pattern and then failed to make results/{experiment}/
    with an OSError in the middle of Snakemake's parsing; the settings model now limits it."""
    done = subprocess.run(["snakemake", "-n", "--workflow-profile", "none", "--snakefile", str(REPO / "Snakefile"),
                           "--configfile", str(REPO / "config" / "config.yaml"), "--config", "experiment=" + "a" * 300],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    line = one_error_line(done, "invalid config: experiment:", "at most 200 characters", "got 300 characters")
    assert "a" * 100 not in line  # the length is what is wrong, not the 300 characters themselves
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("verb", ARCH_VERBS, ids=" ".join)
def test_an_architecture_nested_100000_deep_is_one_line(tmp_path, verb):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    one_error_line(nasrl(*verb, "deep.json", cwd=tmp_path), "deep.json", "too deeply", "at most 100 levels")


def test_an_architecture_nested_deeper_than_the_limit_but_readable_is_one_line(tmp_path):
    """Deep enough to pass the JSON reader, too deep for code that walks the value."""
    (tmp_path / "deep.json").write_text(json.dumps({**CNN, "extra": json.loads("[" * 500 + "]" * 500)}))
    one_error_line(nasrl("key", "deep.json", cwd=tmp_path), "nested more than 100 levels", "at most 100 levels")


@pytest.mark.parametrize("verb", ARCH_VERBS, ids=" ".join)
def test_a_number_beyond_the_float_range_is_named_by_its_place(tmp_path, verb):
    """1e400 reads as infinity: the line names the field and that a finite number is expected."""
    text = json.dumps(CNN).replace('"num_filters": 36', '"num_filters": 1e400')
    (tmp_path / "wide.json").write_text(text)
    one_error_line(nasrl(*verb, "wide.json", cwd=tmp_path), "wide.json", "layers[1].num_filters", "out of range",
                   "expected a finite number")


def test_nan_is_named_by_its_place(tmp_path):
    (tmp_path / "nan.json").write_text(json.dumps(CNN).replace('"num_filters": 24', '"num_filters": NaN'))
    one_error_line(nasrl("key", "nan.json", cwd=tmp_path), "layers[0].num_filters is NaN", "expected a finite number")


@pytest.mark.parametrize("args", [["describe", "/dev/zero"], ["validate", "--space", "/dev/zero", "cnn_figure7"],
                                  ["describe", "cnn_figure7", "--config", "/dev/zero"]],
                         ids=" ".join)
def test_an_endless_input_is_read_up_to_a_cap(tmp_path, args):
    """/dev/zero was read until the memory ran out."""
    one_error_line(nasrl(*args, cwd=tmp_path), "/dev/zero", "larger than 8 MiB", "expected a small JSON or YAML")


def test_a_binary_file_is_one_line(tmp_path):
    (tmp_path / "arch.json").write_bytes(bytes(range(256)))
    one_error_line(nasrl("describe", "arch.json", cwd=tmp_path), "not UTF-8 text", "expected a JSON or YAML")


def test_track_sync_on_a_store_that_is_not_a_database_is_one_line_and_keeps_the_file(tmp_path):
    results = tmp_path / "results" / "exp"
    state = results / "tracking" / "search.json"
    SearchRun(experiment="exp", results="results/exp", uri="sqlite:///mlflow.db", run_id="0" * 32,
              experiment_id="1", root=str(tmp_path)).save(state)
    garbage = os.urandom(64 * 1024)
    (tmp_path / "mlflow.db").write_bytes(garbage)
    before = state.read_bytes()
    done = nasrl("track", "sync", "--results", "results/exp", cwd=tmp_path)
    one_error_line(done, "mlflow.db", "not a database", "expected a SQLite database written by MLflow")
    assert (tmp_path / "mlflow.db").read_bytes() == garbage and state.read_bytes() == before  # nothing lost


def test_track_repair_of_a_server_is_one_line(tmp_path):
    one_error_line(nasrl("track", "repair", "--uri", "http://127.0.0.1:5000", cwd=tmp_path),
                   "only a SQLite store", "sqlite:///FILE")


@pytest.mark.parametrize("verb", [["describe", "--json"], ["describe"], ["presets"]], ids=" ".join)
def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path, verb):
    """`nasrl describe X --json | head -c 100`: the reader closes the pipe before the command
    writes. The command ends as other tools do, with status 141 (SIGPIPE) and no traceback."""
    args = [*verb, "cnn_figure7"] if verb[0] == "describe" else verb
    process = subprocess.Popen([BIN / "nasrl", *args], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # before the command has imported anything, let alone written
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 141
    assert stderr == ""


COST_CASES = [  # child.reward.cost (MnasNet's cost-aware reward): each mistake named at plan time
    ({"measure": "params", "target": 0}, False, ["child.reward.cost.target:", "budget > 0", "got 0"]),
    ({"measure": "bytes", "target": 1e6}, False, ["child.reward.cost.measure:", "'latency_ms'", "got 'bytes'"]),
    ({"measure": "params", "target": 1e6, "hard": True, "weight": 0.07}, False,
     ["child.reward.cost.weight:", "hard constraint", "expected a weight <= 0", "got 0.07"]),
    ({"measure": "latency_ms", "target": 2}, True, ["child.reward.cost.measure:", "surrogate", "got 'latency_ms'"]),
]


@pytest.mark.e2e
def test_a_bad_cost_aware_reward_stops_the_plan_in_one_line(tmp_path):
    """A target of 0 or below, an unknown measure, a positive weight with a hard constraint, and
    latency asked of surrogate children: `snakemake -n` stops with one line each, nothing run."""
    for cost, surrogate, words in COST_CASES:
        child = {"reward": {"cost": cost}}
        if surrogate:
            child["surrogate"] = {"table": "nasrl:nas-bench-macro-cifar10.csv",
                                  "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}", "reward_column": "test_acc_seed0"}
        (tmp_path / "cost.yaml").write_text(json.dumps({"child": child}))  # JSON is YAML
        done = subprocess.run(["snakemake", "-n", "--workflow-profile", "none", "--snakefile", str(REPO / "Snakefile"),
                               "--configfile", str(REPO / "config" / "config.yaml"), str(tmp_path / "cost.yaml")],
                              cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
        one_error_line(done, "invalid config:", *words)
    assert not (tmp_path / "results").exists()
