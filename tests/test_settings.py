"""The settings model (nasrl.settings): one-line errors, its agreement with config/README.md, the
child key and the split of result and runtime settings the workflow relies on."""

import re
import typing
from pathlib import Path

import pytest
import yaml

from nasrl.settings import (
    ChildConfig,
    FinalSettings,
    ReinforceConfig,
    SearchSettings,
    Section,
    WorkflowConfig,
    child_key,
    load_child_config,
    settings_files,
    validate_workflow_config,
)

REPO = Path(__file__).resolve().parents[1]
ARCH = {"space": "cnn", "layers": [{"filter_height": 3, "filter_width": 3, "num_filters": 8}]}
REQUIRED = object()


def leaves(model: type[Section], prefix: str = ""):
    """(dotted key, default) of every setting; an optional section is a key (default null) too."""
    for name, field in model.model_fields.items():
        key = prefix + name
        types = [t for t in typing.get_args(field.annotation) if t is not type(None)] or [field.annotation]
        section = next((t for t in types if isinstance(t, type) and issubclass(t, Section)), None)
        if section is None:
            yield key, REQUIRED if field.is_required() else field.get_default(call_default_factory=True)
            continue
        if field.get_default(call_default_factory=True) is None:
            yield key, None
        yield from leaves(section, key + ".")


def readme_defaults() -> dict[str, str]:
    """The key tables of config/README.md (its "Keys" section): dotted key -> its default cell."""
    keys = (REPO / "config" / "README.md").read_text().split("\n## Keys\n", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)*)` \| ([^|]+) \|", keys, re.MULTILINE)
    return {key: cell.strip() for key, cell in rows}


def test_every_key_is_in_the_config_readme_with_its_default():
    documented = readme_defaults()
    model = dict(leaves(WorkflowConfig))
    assert sorted(set(model) - set(documented)) == [], "keys missing from config/README.md"
    assert sorted(set(documented) - set(model)) == [], "config/README.md names keys the model lacks"
    for key, default in model.items():
        cell = documented[key]
        if default is REQUIRED:
            assert cell == "required", key
            continue
        value = yaml.safe_load(cell.strip("`"))
        if isinstance(default, float) and isinstance(value, str):
            value = float(value)  # YAML reads 1e-4 as a string
        assert value == default, f"{key}: config/README.md says {cell}, the model {default!r}"


@pytest.mark.parametrize("build, values, message", [
    (ChildConfig.from_dict, {"optimizer": {"lr": "fast"}},
     "child.optimizer.lr: Input should be a valid number, unable to parse string as a number, got 'fast'"),
    (ChildConfig.from_dict, {"epoch": 3}, "child: unknown key 'epoch'; expected one of ['accelerator', "),
    (ChildConfig.from_dict, {"lr_decay_at": [0.5, 2]},
     "child.lr_decay_at[1]: Input should be less than or equal to 1, got 2"),
    (ChildConfig.from_dict, {"threads": 0, "epochs": 0},
     "child.epochs: Input should be greater than or equal to 1, got 0 (and 1 more)"),
    (ChildConfig.from_dict, {"surrogate": {"tabel": "t.csv"}}, "child.surrogate: unknown key 'tabel'"),
    (SearchSettings.from_dict, {"space": "cnn_v1", "roundz": 8}, "search: unknown key 'roundz'; expected one of ["),
    (SearchSettings.from_dict, {"space": "cnn_v1", "replicas": 0},
     "search.replicas: Input should be greater than or equal to 1, got 0"),
    (SearchSettings.from_dict, {"space": "cnn_v1", "staleness": -1},
     "search.staleness: Input should be greater than or equal to 0"),
    (SearchSettings.from_dict, {"space": "cnn_v1", "strategy": "annealing"},
     "search.strategy: Input should be 'reinforce', 'random' or 'evolution', got 'annealing'"),
    (SearchSettings.from_dict, {"rounds": 2}, "search.space: Field required"),
    # a misspelt key is reported as unknown, not as its intended key missing
    (SearchSettings.from_dict, {"roundz": 2}, "search: unknown key 'roundz'; expected one of ['children_per_round', "),
    # the branches of a union, joined
    (SearchSettings.from_dict, {"space": 5},
     "search.space: Input should be a valid dictionary or a valid string, got 5"),
    (ReinforceConfig.from_dict, {"baseline_decay": 1.0},
     "search.controller.baseline_decay: Input should be less than 1, got 1.0"),
    (FinalSettings.from_dict, {"grid": {"momentum": [0.9]}}, "final.grid: unknown key 'momentum'"),
    (FinalSettings.from_dict, {"grid": {"lr": []}},
     "final.grid.lr: List should have at least 1 item after validation, not 0, got []"),
    (WorkflowConfig.from_dict, {"experiment": "x", "search": {"space": "cnn_v1"}, "mlflow": {}},
     "config: unknown key 'mlflow'"),
    # data of one's own is checked as the model its type names
    (ChildConfig.from_dict, {"dataset": {"type": "arrays", "pth": "d.npz"}},
     "child.dataset: unknown key 'pth'; expected one of ['digest', 'layout', "),
    (ChildConfig.from_dict, {"dataset": {"type": "arrays"}}, "child.dataset.path: Field required"),
    # a check across a section's keys is the section's own, not only the workflow's
    (ChildConfig.from_dict, {"epochs": 4, "early_stopping": {"enabled": True, "min_epochs": 4}},
     "child.early_stopping.min_epochs: expected an integer in [1, 3] (below child.epochs = 4), got 4"),
])
def test_a_bad_value_is_one_line_naming_the_key(build, values, message):
    with pytest.raises(ValueError) as err:
        build(values)
    text = str(err.value)
    assert text.startswith(message) and "\n" not in text


def test_numbers_given_as_strings_are_read_as_numbers():
    search = SearchSettings.from_dict({"space": "cnn_v1", "rounds": "8", "controller": {"lr": "0.01"}})
    assert search.rounds == 8 and search.controller.lr == 0.01


def test_a_runtime_file_overrides_only_runtime_keys(tmp_path):
    (tmp_path / "child.yaml").write_text("dataset: digits\nepochs: 3\n")
    (tmp_path / "runtime.yaml").write_text("accelerator: cpu\nthreads: 2\n")
    config = load_child_config(tmp_path / "child.yaml", tmp_path / "runtime.yaml")
    assert (config.epochs, config.accelerator, config.threads) == (3, "cpu", 2)
    (tmp_path / "runtime.yaml").write_text("epochs: 5\n")
    with pytest.raises(ValueError, match=r"runtime.yaml: unknown key 'epochs'; expected one of \['accelerator'"):
        load_child_config(tmp_path / "child.yaml", tmp_path / "runtime.yaml")


def test_the_child_key_covers_the_result_not_where_it_runs():
    base = {"dataset": "digits", "seed": 0, "epochs": 2}
    key = child_key(ARCH, ChildConfig.from_dict(base))
    for runtime in ({"threads": 4}, {"accelerator": "gpu"}, {"threads": 1, "accelerator": "cpu"}, {"max_params": 10},
                    {"max_memory_gb": 0.5}, {"compile": True}, {"per_gpu": 4}):
        assert child_key(ARCH, ChildConfig.from_dict({**base, **runtime})) == key, runtime
    for result in ({"optimizer": {"lr": 0.05}}, {"seed": 1}, {"dataset": "cifar10"}, {"precision": "bf16-mixed"},
                   {"surrogate": {"table": "macro.csv"}}):
        assert child_key(ARCH, ChildConfig.from_dict({**base, **result})) != key, result


def tiny_config(**child) -> dict:
    return {"experiment": "tiny", "search": {"space": "cnn_v1", "rounds": 2},
            "child": {"dataset": "digits", "epochs": 1, **child}}


def test_the_workflow_config_gets_its_defaults_and_runtime_settings_a_file_of_their_own():
    config = tiny_config(threads=1)
    validate_workflow_config(config)
    assert config["search"]["strategy"] == "reinforce" and config["final"]["top_k"] == 2
    assert config["tracking"] == {"enabled": True, "uri": None, "registered_model": None, "child_diagrams": True}
    files = settings_files(WorkflowConfig.from_dict(config))
    assert files["runtime"] == {"accelerator": "auto", "threads": 1, "max_params": 10**9, "max_memory_gb": None,
                                "compile": False, "per_gpu": 1, "surrogate_timing_seed": None}
    assert not set(files["child"]) & set(ChildConfig.RUNTIME_KEYS)
    other = settings_files(WorkflowConfig.from_dict(tiny_config(threads=4, accelerator="gpu")))
    assert other["child"] == files["child"] and other["runtime"] != files["runtime"]


@pytest.mark.e2e
def test_changing_where_children_run_rewrites_only_the_runtime_settings(tmp_path):
    """Through `snakemake`: only the settings files are built (seconds), and the rules that train
    take the runtime file as an ancient() input, so their children are not out of date."""
    from workflow_helpers import make_workdir, snakemake

    workdir = make_workdir(tmp_path / "run", tiny_config(threads=1))
    settings = workdir / "results" / "tiny" / "settings"
    targets = [f"results/tiny/settings/{name}.yaml" for name in ("child", "runtime")]
    snakemake(workdir, *targets)
    child_mtime = (settings / "child.yaml").stat().st_mtime_ns
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(tiny_config(threads=2, accelerator="cpu")))
    snakemake(workdir, *targets)
    assert (settings / "child.yaml").stat().st_mtime_ns == child_mtime
    assert yaml.safe_load((settings / "runtime.yaml").read_text()) == {
        "accelerator": "cpu", "threads": 2, "max_params": 10**9, "max_memory_gb": None, "compile": False,
        "per_gpu": 1, "surrogate_timing_seed": None}
    for rules in ("children.smk", "final.smk"):
        text = (REPO / "workflow" / "rules" / rules).read_text()
        assert 'runtime=ancient(str(LAYOUT.settings("runtime")))' in text and "--runtime {input.runtime}" in text


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "../etc"])
def test_an_experiment_name_must_be_one_folder_inside_results(name):
    with pytest.raises(ValueError, match=r"^experiment: String should match pattern .*, got "):
        validate_workflow_config({"experiment": name, "search": {"space": "cnn_v1"}})
    assert validate_workflow_config({"experiment": "run-2.b_1", "search": {"space": "cnn_v1"}})


# --- values from the command line, closed sets, and the checks made when the workflow plans ---


def command_line(**sections) -> dict:
    """Sections as `snakemake --config 'NAME=JSON'` hands them over: YAML's base loader, all text."""
    import json

    return {name: yaml.load(json.dumps(value), Loader=yaml.BaseLoader) for name, value in sections.items()}


def test_command_line_values_mean_what_they_would_in_the_config_file():
    """Issue #14: `--config 'search={"rounds": 8}'` arrives as {"rounds": "8"}; nulls as "null"."""
    from nasrl.settings.overrides import type_overrides

    text = command_line(search={"rounds": 8, "controller": {"lr": None, "temperature": "~", "unique_samples": True},
                                "space": {"type": "cnn", "num_filters": [8, 16], "depth": {"start": 2}}},
                        child={"precision": None, "data_dir": None, "threads": 2, "augment": False,
                               "lr_decay_at": [0.25, 0.5], "optimizer": {"nesterov": True}},
                        final={"grid": {"lr": [0.1, 0.05]}})
    assert text["search"]["rounds"] == "8" and text["child"]["precision"] == "null"  # what Snakemake gives
    typed = type_overrides(WorkflowConfig, {**text, "experiment": "007"})
    assert typed["experiment"] == "007"  # a text key keeps its text
    assert typed["search"]["space"] == {"type": "cnn", "num_filters": [8, 16], "depth": {"start": 2}}
    config = {"experiment": "cli", "search": {"space": "cnn_v1", "rounds": 2}, "child": {"precision": "bf16-mixed"}}
    for name, section in text.items():  # Snakemake's merge of --config into the config file
        config[name] = {**config.get(name, {}), **section}
    settings = validate_workflow_config(config, text)
    controller = settings.search.controller
    assert (settings.search.rounds, controller.lr, controller.temperature, controller.unique_samples) == \
        (8, None, None, "minibatch")  # true: a validator within the field's type reads it
    assert settings.search.space["num_filters"] == [8, 16]
    child = settings.child
    assert (child.precision, child.data_dir, child.threads, child.augment, child.lr_decay_at, child.optimizer.nesterov) \
        == (None, None, 2, False, [0.25, 0.5], True)
    assert settings.final.grid.lr == [0.1, 0.05] and config["search"]["rounds"] == 8  # filled in, in place


def test_a_section_that_is_not_a_mapping_on_the_command_line_shows_the_supported_form():
    text = {"search": '{"rounds": 8'}  # an unclosed brace: Snakemake passes the text on
    with pytest.raises(ValueError) as err:
        validate_workflow_config({"experiment": "cli", **text}, text)
    assert str(err.value).startswith("search: expected a mapping, got '{\"rounds\": 8'; on the command line a section "
                                     "is one YAML or JSON mapping: --config 'search={\"name\": value}'")


@pytest.mark.parametrize("sections, message", [
    ({"child": {"dataset": "mnist"}}, "child.dataset: expected one of ['cifar10', 'digits', 'ptb', 'ptb_char', "
                                      "'pydoc_topics', 'pydoc_topics_char'] or a mapping with type arrays | image_folder | "
                                      "module | text, got 'mnist'"),
    ({"child": {"accelerator": "tpu-v9"}}, "child.accelerator: Input should be 'auto', 'cpu', 'gpu', 'cuda', 'mps' "
                                           "or 'tpu', got 'tpu-v9'"),
    ({"child": {"precision": "fp8"}}, "child.precision: Input should be '16-mixed', 'bf16-mixed', "),
    ({"search": {"space": "cnn_v9"}}, "search.space: 'cnn_v9' is neither a preset (cnn_v1, "),
    ({"search": {"space": {"type": "cnn", "num_filters": []}}}, "search.space: cnn space.num_filters: expected a "
                                                                "non-empty list, got []"),
    ({"search": {"space": {"type": ["cnn"]}}}, "search.space: search space spec.type: ['cnn'] is not one of "),
    ({"child": {"dataset": "ptb"}}, "child.dataset: 'ptb' is text data, but a cnn space needs image data; expected "
                                    "one of ['cifar10', 'digits']"),
    ({"search": {"space": "rnn_base8"}}, "child.dataset: 'digits' is image data, but a rnn_cell space needs text data"),
    ({"search": {"space": "nas_bench_macro"}}, "search.space: a tabular space has no network to train; its children "
                                               "need child.surrogate"),
])
def test_datasets_enumerations_and_the_space_are_checked_when_the_workflow_plans(sections, message):
    config = {"experiment": "plan", "search": {"space": "cnn_v1"}, "child": {"dataset": "digits"}}
    for name, section in sections.items():
        config[name] = {**config[name], **section}
    with pytest.raises(ValueError) as err:
        validate_workflow_config(config)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


def test_what_the_plan_accepts():
    def plan(**sections):
        return validate_workflow_config({"experiment": "plan", **sections})

    assert plan(search={"space": "nas_bench_macro"}, child={"surrogate": {"table": "macro.csv"}}).child.surrogate
    assert plan(search={"space": "rnn_base8"}, child={"dataset": "ptb", "data_dir": "data/ptb"}).child.dataset == "ptb"
    assert plan(search={"space": "cnn_v1"}, child={"precision": 16}).child.precision == "16"  # YAML gives a number


def test_the_closed_sets_agree_with_the_data_modules_the_training_code_and_lightning():
    from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT
    from pytorch_lightning.accelerators import AcceleratorRegistry

    from nasrl.data import DataError, make_datamodule
    from nasrl.data_kinds import DATASET_KINDS
    from nasrl.settings import choices

    assert set(typing.get_args(choices.Dataset)) == set(DATASET_KINDS)
    for name in DATASET_KINDS:  # every name the settings accept is one the data modules know
        try:
            make_datamodule(name)
        except DataError as err:
            assert "needs data_dir" in str(err), err
    assert set(typing.get_args(choices.Accelerator)) == set(AcceleratorRegistry.available_accelerators()) | {"auto", "gpu"}
    lightning = {str(value) for literal in typing.get_args(_PRECISION_INPUT) for value in typing.get_args(literal)}
    assert set(typing.get_args(typing.get_args(choices.Precision)[0])) == lightning


@pytest.mark.e2e
def test_nested_numbers_and_nulls_work_through_snakemake_config(tmp_path):
    """`snakemake --config 'search={"rounds": 3}'` (only the settings files are built: seconds)."""
    from workflow_helpers import make_workdir, snakemake

    workdir = make_workdir(tmp_path / "run", tiny_config(threads=1, precision="bf16-mixed"))
    settings = workdir / "results" / "tiny" / "settings"
    snakemake(workdir, "--config", 'search={"rounds": 3, "controller": {"lr": null}}',
              'child={"precision": null, "threads": 2}', "--",
              *[f"results/tiny/settings/{name}.yaml" for name in ("search", "child", "runtime")])
    search, child, runtime = (yaml.safe_load((settings / f"{name}.yaml").read_text())
                              for name in ("search", "child", "runtime"))
    assert search["rounds"] == 3 and search["controller"]["lr"] is None and search["space"] == "cnn_v1"
    assert child["precision"] is None and child["epochs"] == 1 and runtime["threads"] == 2


@pytest.mark.e2e
def test_a_bad_value_stops_snakemake_in_at_most_three_lines(tmp_path):
    from workflow_helpers import make_workdir, snakemake

    workdir = make_workdir(tmp_path / "run", tiny_config())
    done = snakemake(workdir, "--dry-run", "--config", 'child={"dataset": "mnist"}', check=False)
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert "invalid config: child.dataset: expected one of ['cifar10', 'digits', 'ptb', 'ptb_char', 'pydoc_topics', " \
           "'pydoc_topics_char'] or a mapping with type arrays | image_folder | module | text, got 'mnist'" in output
    assert len(output) <= 3, output  # Snakemake's profile and config notes, then the one error line
