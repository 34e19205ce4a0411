"""Property-based tests (Hypothesis): random and mutated architectures and config sections fed to
`nasrl validate`, `nasrl describe`, `nasrl train-child` and the settings model.

Whatever the input, each must give a result or its documented error (the command line: one line
on stderr and exit status 1; the settings: a ValueError of one line naming the key), never a
traceback, never a hang (Hypothesis' deadline, and a hard alarm), and never a file outside the
output folder it was given. The examples are derandomized and no example database is kept, so
every run (and CI) tries the same inputs.
"""

import contextlib
import copy
import io
import json
import os
import re
import signal
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.control import currently_in_test_context

from nasrl.cli import main
from nasrl.layout import ResultsLayout
from nasrl.settings import WorkflowConfig, validate_workflow_config
from nasrl.spaces.containing import validated
from nasrl.spaces.presets import preset_architecture, space_spec

SMALL_CNN = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": []},
    {"filter_height": 3, "filter_width": 1, "stride_height": 2, "stride_width": 2, "num_filters": 8, "inputs": [0]},
    {"filter_height": 1, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": [0, 1]},
]}
# The space SMALL_CNN lives in, as a YAML file (`validate --space FILE`).
SMALL_SPACE = {"type": "cnn", "filter_heights": [1, 3], "filter_widths": [1, 3], "strides": [1, 2],
               "num_filters": [8, 16], "always_connect_previous": False, "depth": {"start": 3, "step": 0}}
FIGURE5, _ = preset_architecture("rnn_figure5")  # base-2 cell (Fig. 5)
NAS_CELL, _ = preset_architecture("rnn_nas_cell")  # base-8 cell (Fig. 8)
FIGURE7, _ = preset_architecture("cnn_figure7")  # 15 layers (Fig. 7)

# Derandomized (a fixed sequence of examples) and no database: the same inputs in every run.
FUZZ = settings(derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ERROR_LINE = re.compile(r"nasrl [a-z-]+: error: [^\n]+\n\Z")
# A settings error starts with the dotted key it is about ("config" for the whole mapping).
KEY_ERROR = re.compile(r"^(config|[a-z_]+(\[\d+\])*(\.[a-z_]+(\[\d+\])*)*): \S")


# --- random JSON and mutations ------------------------------------------------------------

# Numbers stay small: a 70-filter layer is a mutation worth trying, a 10^9-filter one only
# measures how long allocating it takes.
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8), st.sampled_from(["cnn", "rnn_cell", "tabular", "add", "tanh", "relu"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                          max_size=4), max_leaves=12)


def paths(value, prefix=()):
    """Every place in a JSON value: () for the value itself, then keys and indices."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from paths(item, prefix + (key,))


def at(value, path):
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated(draw, base, steps=3):
    """``base`` after 1..steps edits: a number nudged, a value replaced or removed, a key or item added.

    Nudges keep most of the structure, so a good share of the results still pass and get trained.
    """
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, steps))):
        numbers = [p for p in paths(value) if p and type(at(value, p)) is int]
        edit = draw(st.sampled_from(["nudge", "nudge", "replace", "remove", "add"]))
        path = draw(st.sampled_from(numbers if edit == "nudge" and numbers else list(paths(value))))
        target = at(value, path)
        if edit == "nudge" and type(target) is int and path:
            at(value, path[:-1])[path[-1]] = target + draw(st.sampled_from([-2, -1, 1, 2]))
        elif edit == "remove" and path:
            del at(value, path[:-1])[path[-1]]
        elif edit == "add" and isinstance(target, dict):
            target[draw(st.text(max_size=12) | st.sampled_from(sorted(target) or ["x"]))] = draw(JSON)
        elif edit == "add" and isinstance(target, list):
            target.append(copy.deepcopy(draw(st.sampled_from(target))) if target and draw(st.booleans()) else draw(JSON))
        elif path:
            at(value, path[:-1])[path[-1]] = draw(JSON)
        else:
            value = draw(JSON)
    return value


# --- running a command ---------------------------------------------------------------------


class Hang(BaseException):
    """Not an Exception: train_child records any Exception as a failed child, and must not hide this."""


@contextlib.contextmanager
def within(seconds: float):
    """Fail the example if it runs longer than ``seconds`` (a hang would never reach a deadline)."""
    def hung(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def tree(folder: Path) -> set[str]:
    """Every path under ``folder``: the command runs there, so a relative path it writes shows up."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_cli(folder: Path, *argv: str, seconds: float = 30) -> tuple[int, str, str]:
    """``nasrl ARGV`` in-process in ``folder``: exit status, stdout, stderr; any exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), within(seconds):
        code = main(list(argv))
    assert code in (0, 1), code
    if currently_in_test_context():
        event(f"{argv[0]} exit {code}")  # --hypothesis-show-statistics: how many inputs passed
    if code:
        assert ERROR_LINE.match(err.getvalue()), err.getvalue()
    return code, out.getvalue(), err.getvalue()


def write_arch(folder: Path, arch) -> str:
    # json.dumps writes NaN and Infinity, which Python's JSON reader reads back: worth feeding too.
    (folder / "arch.json").write_text(json.dumps(arch))
    return "arch.json"


# --- architectures: validate, describe, train-child ---------------------------------------

ARCHS_AND_SPACES = [(SMALL_CNN, "space.yaml"), (FIGURE7, "cnn_v1"), (FIGURE5, "rnn_base2"), (NAS_CELL, "rnn_base8")]


@settings(FUZZ, max_examples=200, deadline=timedelta(seconds=5))
@given(st.data())
def test_validate_gives_a_key_or_one_error_line_for_any_architecture(data):
    base, space = data.draw(st.sampled_from(ARCHS_AND_SPACES))
    arch = data.draw(mutated(base))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "space.yaml").write_text(yaml.safe_dump(SMALL_SPACE))
        name = write_arch(folder, arch)
        before = tree(folder)
        code, out, _ = run_cli(folder, "validate", "--space", space, name, seconds=10)
        assert tree(folder) == before
    if code == 0:
        assert set(json.loads(out)) == {"key", "space", "decisions"}


def test_the_unmutated_architectures_are_valid():
    """The fuzzing starts from architectures that pass, so its mutations probe the edge of valid."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "space.yaml").write_text(yaml.safe_dump(SMALL_SPACE))
        for arch, space in ARCHS_AND_SPACES:
            assert run_cli(folder, "validate", "--space", space, write_arch(folder, arch))[0] == 0, space


@settings(FUZZ, max_examples=60, deadline=timedelta(seconds=10))
@given(st.data())
def test_describe_gives_a_summary_or_one_error_line_for_any_architecture(data):
    arch = data.draw(mutated(data.draw(st.sampled_from([SMALL_CNN, FIGURE5, NAS_CELL]))))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = write_arch(folder, arch)
        code, out, _ = run_cli(folder, "describe", "--json", name, seconds=20)
        assert tree(folder) == {name}
    if code == 0:
        assert json.loads(out)["space"] in ("cnn", "rnn_cell")


CHILD_CONFIGS = {  # one epoch of two batches: the property is about inputs, not learning
    "cnn": {"dataset": "digits", "epochs": 1, "batch_size": 32, "limit_train_batches": 2, "threads": 1},
    "rnn_cell": {"dataset": "pydoc_topics", "epochs": 1, "batch_size": 8, "limit_train_batches": 2, "threads": 1,
                 "language_model": {"embedding_size": 8, "hidden_size": 8, "bptt": 5}},
}


def train_child_in(folder: Path, arch, config: dict) -> tuple[int, dict | None]:
    """`nasrl train-child` in ``folder`` with output folder ``out``; (exit status, metrics.json or None)."""
    (folder / "child.yaml").write_text(yaml.safe_dump({"child": config}))
    name = write_arch(folder, arch)
    before = tree(folder)
    code, out, _ = run_cli(folder, "train-child", "--arch", name, "--config", "child.yaml", "--out", "out", seconds=120)
    written = tree(folder) - before
    assert all(path == "out" or path.startswith("out/") for path in written), sorted(written)
    metrics_file = folder / "out" / "metrics.json"
    if code:
        assert not metrics_file.exists()  # the malformed input is reported, not trained
        return code, None
    metrics = json.loads(metrics_file.read_text())
    assert json.loads(out.strip().splitlines()[-1])["status"] == metrics["status"]
    return code, metrics


@settings(FUZZ, max_examples=30, deadline=timedelta(seconds=60))
@given(st.data())
def test_train_child_trains_or_records_a_failure_or_rejects_the_file_in_one_line(data):
    base = data.draw(st.sampled_from([SMALL_CNN, SMALL_CNN, FIGURE5]))
    arch = data.draw(mutated(base, steps=1))
    config = CHILD_CONFIGS[base["space"]]
    with tempfile.TemporaryDirectory() as tmp:
        code, metrics = train_child_in(Path(tmp), arch, config)
    try:  # well-formed = what `nasrl describe` accepts: the smallest space of its type holds it
        validated(copy.deepcopy(arch))
        well_formed = True
    except ValueError:
        well_formed = False
    assert code == (0 if well_formed else 1)  # a malformed file is never trained, a well-formed one always
    if code == 0:
        event(f"child {metrics['status']}")
        assert metrics["status"] in ("ok", "failed", "diverged")


def test_a_malformed_architecture_exits_1_in_one_line_and_a_failing_child_exits_0():
    """Issue #14: a CNN layer without num_filters is the caller's error; a child that diverges
    is a result (its status and the failure reward), and the search goes on."""
    malformed = copy.deepcopy(SMALL_CNN)
    del malformed["layers"][1]["num_filters"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "child.yaml").write_text(yaml.safe_dump({"child": CHILD_CONFIGS["cnn"]}))
        code, _, err = run_cli(folder, "train-child", "--arch", write_arch(folder, malformed), "--config", "child.yaml",
                               "--out", "out")
        assert code == 1 and err == "nasrl train-child: error: architecture.layers[1].num_filters: missing\n"
        assert not (folder / "out").exists()
    diverging = {**CHILD_CONFIGS["cnn"], "optimizer": {"lr": 1e30}, "failure_reward": -1.0}
    with tempfile.TemporaryDirectory() as tmp:
        code, metrics = train_child_in(Path(tmp), SMALL_CNN, diverging)
    assert code == 0 and metrics["status"] == "diverged" and metrics["reward"] == -1.0


# --- config sections: the settings model ---------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12).filter(
    lambda s: s not in ("null", "Null", "NULL", "~"))  # the spellings of null mean null on the command line
POSITIVE = st.floats(1e-8, 1e3, allow_nan=False)
FRACTION = st.floats(0, 1, allow_nan=False)


def optional(strategy):
    return st.none() | strategy


@st.composite
def valid_sections(draw) -> dict:
    """A valid config's sections, as a config file gives them (typed values)."""
    search = {"seed": draw(st.integers(0, 2**31)), "rounds": draw(st.integers(1, 50)),
              "children_per_round": draw(st.integers(1, 16)), "staleness": draw(st.integers(0, 3)),
              "strategy": draw(st.sampled_from(["reinforce", "random"])),
              "controller": {"lr": draw(optional(POSITIVE)), "baseline_decay": draw(st.floats(0, 0.99)),
                             "temperature": draw(optional(POSITIVE))}}
    child = {"dataset": draw(st.sampled_from(["digits", "cifar10"])), "data_dir": draw(optional(TEXT)),
             "epochs": draw(st.integers(1, 100)), "seed": draw(st.integers(-5, 5)),
             "optimizer": {"lr": draw(POSITIVE), "nesterov": draw(st.booleans())},
             "lr_decay_at": draw(st.lists(FRACTION, max_size=3)), "augment": draw(optional(st.booleans())),
             "precision": draw(optional(st.sampled_from(["bf16-mixed", "32-true", "16", "64"]))),
             "accelerator": draw(st.sampled_from(["auto", "cpu", "gpu"])), "threads": draw(optional(st.integers(1, 8))),
             "reward": {"power": draw(optional(st.floats(0.5, 4)))}}
    final = {"top_k": draw(st.integers(1, 5)), "epochs": draw(optional(st.integers(1, 9))),
             "grid": {"lr": draw(optional(st.lists(POSITIVE, min_size=1, max_size=3))),
                      "lr_decay_at": draw(optional(st.lists(st.lists(FRACTION, max_size=2), min_size=1, max_size=2)))}}
    tracking = {"enabled": draw(st.booleans()), "uri": draw(optional(TEXT))}
    return {"search": search, "child": child, "final": final, "tracking": tracking}


def config_file(**sections) -> dict:
    return {"experiment": "fuzz", "search": {"space": "cnn_v1"}, **sections}


# Space specs (the default config's, and shipped ones of each type): their mutations reach the
# spaces' own checks, which the plan runs.
DEFAULT_SPACE = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())["search"][
    "space"]
SPACE_SPECS = ["cnn_v1", DEFAULT_SPACE, space_spec("cnn_v3"), space_spec("rnn_base8"), space_spec("nas_bench_macro")]


def snakemake_merge(config: dict, overrides: dict) -> dict:
    """What Snakemake does with --config: mappings merged key by key into the config file's."""
    merged = copy.deepcopy(config)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = snakemake_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def as_command_line(section: dict):
    """A section as `snakemake --config 'NAME=JSON'` hands it over: YAML's base loader, all text.
    (Written as typed: JSON's ASCII escapes would split a character beyond U+FFFF in two for YAML.)"""
    return yaml.load(json.dumps(section, ensure_ascii=False), Loader=yaml.BaseLoader)


@settings(FUZZ, max_examples=150, deadline=timedelta(seconds=5))
@given(valid_sections(), st.sets(st.sampled_from(["search", "child", "final", "tracking"]), min_size=1))
def test_sections_given_on_the_command_line_mean_what_they_mean_in_the_config_file(sections, overridden):
    """`--config 'search={"rounds": 8}'` equals `search: {rounds: 8}` in config.yaml, nulls included."""
    typed = {name: sections[name] for name in overridden}
    from_file = validate_workflow_config(snakemake_merge(config_file(), typed))
    text = {name: as_command_line(value) for name, value in typed.items()}
    from_command_line = validate_workflow_config(snakemake_merge(config_file(), text), text)
    assert from_command_line.model_dump() == from_file.model_dump()


def assert_one_line_naming_a_key(err: ValueError) -> None:
    message = str(err)
    assert "\n" not in message and KEY_ERROR.match(message), message


@settings(FUZZ, max_examples=200, deadline=timedelta(seconds=5))
@given(st.data())
def test_a_mutated_config_is_valid_or_one_error_line_naming_the_key(data):
    sections = data.draw(valid_sections())
    sections["search"]["space"] = data.draw(st.sampled_from(SPACE_SPECS))
    config = data.draw(mutated(config_file(**sections), steps=3))
    with within(10):
        try:
            validate_workflow_config(config) if isinstance(config, dict) else WorkflowConfig.from_dict(config)
            event("config valid")
        except ValueError as err:
            assert_one_line_naming_a_key(err)
            event("config rejected")


@settings(FUZZ, max_examples=150, deadline=timedelta(seconds=5))
@given(st.dictionaries(st.sampled_from(["search", "child", "final", "tracking", "experiment", "extra"]),
                       st.recursive(st.text(max_size=20), lambda inner: st.dictionaries(
                           st.sampled_from(["rounds", "space", "dataset", "lr", "grid", "precision", "threads", "x"]),
                           inner, max_size=3) | st.lists(inner, max_size=3), max_leaves=8), max_size=3))
def test_any_command_line_text_is_valid_or_one_error_line_naming_the_key(overrides):
    """Arbitrary `--config NAME=TEXT` values (Snakemake hands over text, mappings and lists)."""
    with within(10):
        try:
            validate_workflow_config(snakemake_merge(config_file(), overrides), overrides)
            event("config valid")
        except ValueError as err:
            assert_one_line_naming_a_key(err)
            event("config rejected")


@settings(FUZZ, max_examples=300, deadline=timedelta(seconds=2))
@given(st.text(max_size=12) | st.sampled_from([".", "..", "...", "./a", "a/..", "/etc", "~", "a\\b", ".a", "a.", "-"]))
def test_an_accepted_experiment_name_is_one_folder_inside_results(name):
    try:
        validate_workflow_config({"experiment": name, "search": {"space": "cnn_v1"}})
    except ValueError as err:
        assert str(err).startswith("experiment: ")
        return
    # One folder directly inside results/, whatever the platform's path rules make of the name.
    root = ResultsLayout.for_experiment(name).root
    assert os.path.dirname(os.path.normpath(root)) == "results" and root.name == name

