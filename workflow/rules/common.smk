# Helpers and input functions; the logic lives in the nasrl package.
import json
import os
import sys
from pathlib import Path

import yaml

from nasrl.layout import ResultsLayout, SampleFolder, batch_name, round_name
from nasrl.pipeline import async_steps, run_lock
from nasrl.search import journal as journals
from nasrl.settings import settings_files, validate_workflow_config

# The config is checked by the settings model (src/nasrl/settings/), the one description of
# every key, and every default is filled in here. A bad key stops the run with one line:
# sys.exit prints just the message, where an exception would add Snakemake's stack frames.
# `--config` values arrive as untyped text; the model types them (src/nasrl/settings/overrides.py).
try:
    SETTINGS = validate_workflow_config(config, workflow.config_settings.config)
except ValueError as err:
    sys.exit(f"invalid config: {err}")
SETTINGS_FILES = settings_files(SETTINGS)

EXPERIMENT = config["experiment"]
# Every results path: src/nasrl/layout.py.
LAYOUT = ResultsLayout.for_experiment(EXPERIMENT)
LOGS = f"logs/{EXPERIMENT}"
ROUNDS = config["search"]["rounds"]
# final.architectures set: a transfer, the named architectures retrained, no search run.
TRANSFER = SETTINGS.final.transfer
TOP_K = SETTINGS.final.ranks
STALENESS = config["search"]["staleness"]
# search.updates async: K replica chains of ROUNDS batches each, their updates journaled (async.smk).
ASYNC = config["search"]["updates"] == "async"
REPLICAS = config["search"]["replicas"]
JOURNAL = str(LAYOUT.journal)
# child.early_stopping: each round's children are stopped against the earlier rounds' curves.
EARLY_STOPPING = SETTINGS.child.early_stopping.enabled
TRACKING = config.get("tracking") or {}
TRACKING_STATE = str(LAYOUT.tracking_state)


# search.replay: the journal to follow, checked now against this search (one line if it is another's).
try:
    REPLAYED = (
        async_steps.replay_journal(SETTINGS.search, SETTINGS.child, LAYOUT.journal)
        if ASYNC
        else None
    )
except ValueError as err:
    sys.exit(f"invalid config: {err}")


# Jobs run their `nasrl` command in a warm-start server that has torch and Lightning imported
# (src/nasrl/warm/): a child's fixed cost drops from seconds to a fork. NASRL_WARM_START=0 in
# the environment turns it off; jobs inside a SLURM allocation always start a fresh process.
# The server belongs to this run: it exits when this process does (docs/security.md).
os.environ.setdefault("NASRL_WARM_START", "1")
os.environ.setdefault("NASRL_WARM_OWNER", str(os.getpid()))


# One run per experiment and folder (src/nasrl/pipeline/run_lock.py): a second `snakemake` or
# `dvc repro` stops here with one line naming the running one. onstart runs in the main
# process only, before the first job, and not for dry runs, reports or `--unlock`.
onstart:
    try:
        run_lock.acquire(EXPERIMENT)
    except run_lock.SearchRunning as err:
        sys.exit(str(err))


wildcard_constraints:
    round=r"\d{4}",
    key=r"[0-9a-f]{16}",
    section=r"search|child|runtime|final",
    step=r"\d{4}",
    replica=r"\d{3}",
    rank=r"\d+",
    point=r"\d+",


def settings_section(wildcards):
    """What settings/{section}.yaml holds (nasrl.settings.workflow.settings_files)."""
    return SETTINGS_FILES[wildcards.section]


def grid_size():
    """Number of points of the final retraining grid."""
    return len(SETTINGS.final.points())


def sample_dir(round_index):
    """A round's sample folder, once its checkpoint has run."""
    return checkpoints.sample_architectures.get(
        round=round_name(round_index)
    ).output.samples


def round_children(wildcards):
    """metrics.json of every distinct child sampled in this round."""
    with open(SampleFolder(sample_dir(wildcards.round)).sampled) as f:
        keys = sorted({json.loads(line)["key"] for line in f if line.strip()})
    return [str(LAYOUT.child_metrics(key)) for key in keys]


# Async: child key -> a batch sample folder holding it, and the folders read so far. Each
# folder is read once, so finding the children of 1,600 batches costs one pass, not one per child.
BATCH_OF_CHILD = {}
BATCHES_READ = set()


def first_sampled_batch(key):
    """A sample folder of a batch that sampled the child ``key`` (the architecture file is the same
    in every one: it is named by its content)."""
    if key not in BATCH_OF_CHILD:
        for folder in sorted(LAYOUT.batches_dir.glob("*/samples")):
            sampled = SampleFolder(folder).sampled
            if folder in BATCHES_READ or not sampled.exists():
                continue
            BATCHES_READ.add(folder)
            for line in sampled.read_text().splitlines():
                if line.strip():
                    BATCH_OF_CHILD.setdefault(json.loads(line)["key"], folder)
    if key not in BATCH_OF_CHILD:
        raise ValueError(f"child {key} was not sampled in any batch")
    return BATCH_OF_CHILD[key]


def first_sampled_round(key):
    """The first round whose samples hold the child ``key``."""
    for index in range(ROUNDS):
        if SampleFolder(sample_dir(index)).arch(key).exists():
            return index
    raise ValueError(f"child {key} was not sampled in any of the {ROUNDS} rounds")


def child_architecture(wildcards):
    """The architecture file of a child, from the first round that sampled it.

    ancient: the file's content is fixed by the child key, so a round sampled again (the
    search settings changed: more rounds, other replicas or staleness) rewrites an identical
    file, which must not make a trained child look out of date."""
    if ASYNC:
        folder = first_sampled_batch(wildcards.key)
    else:
        folder = sample_dir(first_sampled_round(wildcards.key))
    return ancient(str(SampleFolder(folder).arch(wildcards.key)))


def child_reference(wildcards):
    """The reference curves a child is stopped against (child.early_stopping on; none when off),
    those of the first round that sampled it: a child sampled again later reuses its first
    training and stopping decision, as an uninterrupted run does.

    ancient, as the architecture file: a reference rebuilt with the same rounds' rewards must
    not make a trained child look out of date."""
    if not EARLY_STOPPING:
        return []
    return ancient(str(LAYOUT.reference(first_sampled_round(wildcards.key))))


def reference_option(wildcards, input):
    return f" --reference {input.reference}" if input.reference else ""


def reference_rounds(wildcards):
    """The rewards tables a round's reference covers: rounds 0 .. round - 1 - staleness, those
    whose rewards exist when the round is sampled (nasrl.pipeline.reference)."""
    return [
        str(LAYOUT.rewards(index)) for index in range(int(wildcards.round) - STALENESS)
    ]


def tracking_start_args():
    """`nasrl track start` options from the config's tracking section."""
    if not TRACKING.get("enabled", True):
        return "--off"
    args = [
        "--registered-model",
        TRACKING.get("registered_model") or f"nasrl-{EXPERIMENT}",
    ]
    if TRACKING.get("uri"):
        args += ["--uri", TRACKING["uri"]]
    if not SETTINGS.tracking.child_diagrams:
        args.append("--no-child-diagrams")
    return " ".join(args)


def sampling_controller(wildcards):
    """The controller that samples this round: round - staleness (controller 0 for the first)."""
    return str(LAYOUT.controller(max(0, int(wildcards.round) - STALENESS)))


def previous_sampling_controller(wildcards):
    """The controller that sampled the round this update learns from."""
    return str(LAYOUT.controller(max(0, int(wildcards.round) - 1 - STALENESS)))


def previous_controller(wildcards):
    return str(LAYOUT.controller(int(wildcards.round) - 1))


def previous_rewards(wildcards):
    return str(LAYOUT.rewards(int(wildcards.round) - 1))


def batch_sampling_controller(wildcards):
    """Async: the controller that samples batch (step, replica): the one its replica's previous
    update produced, the newest when that update ended (the initial controller for step 0).
    """
    step = int(wildcards.step)
    if step == 0:
        return str(LAYOUT.controller(0))
    return str(LAYOUT.batch_controller(step - 1, wildcards.replica))


def batch_children(wildcards):
    """metrics.json of every distinct child of a batch."""
    folder = checkpoints.sample_batch.get(
        step=wildcards.step, replica=wildcards.replica
    ).output.samples
    with open(SampleFolder(folder).sampled) as f:
        keys = sorted({json.loads(line)["key"] for line in f if line.strip()})
    return [str(LAYOUT.child_metrics(key)) for key in keys]


def journal_order(wildcards):
    """The controller version an update must wait for, read from the journal when the DAG is
    planned: a batch the journal (this search's, or the replayed one) already holds is applied
    again onto the version before it; a new one waits for the newest version on record, so
    that the versions a killed run left are rebuilt first. ancient(): an order, not a content.
    """
    own = current_journal()
    journal = REPLAYED or own
    if journal is None:
        return []
    entry = journal.by_batch.get(batch_name(wildcards.step, wildcards.replica))
    version = entry.version - 1 if entry is not None else journal.newest
    batch = journal.batch_of(version)
    if batch is None:
        return []
    return [ancient(str(LAYOUT.batch_controller(*batch.split("-"))))]


# The journal as last read, with the size and time it had: read again only when it changed, so
# that planning 1,600 updates reads it once, not once per update.
JOURNAL_READ = {}


def current_journal():
    """This search's journal as planned: None when there is none yet, or when it belongs to other
    settings (start_journal writes a new one); a cut last line is left out."""
    try:
        stat = os.stat(JOURNAL)
    except FileNotFoundError:
        return None
    if JOURNAL_READ.get("stat") != (stat.st_size, stat.st_mtime_ns):
        try:
            journal = journals.read_journal(JOURNAL)
            journals.check_identity(
                journal,
                async_steps.identity(SETTINGS.search, SETTINGS.child),
                "journal",
            )
        except ValueError:
            journal = None
        JOURNAL_READ.update(stat=(stat.st_size, stat.st_mtime_ns), journal=journal)
    return JOURNAL_READ["journal"]


def history_tables():
    """The tables history.parquet is built from: each round's, or async each batch's."""
    if ASYNC:
        return [
            str(LAYOUT.batch_rewards(step, replica))
            for step in range(ROUNDS)
            for replica in range(REPLICAS)
        ]
    return [str(LAYOUT.rewards(index)) for index in range(ROUNDS)]


def final_runs(wildcards=None):
    return [
        str(LAYOUT.final_run_metrics(rank, point))
        for rank in range(TOP_K)
        for point in range(grid_size())
    ]


def final_run_dirs():
    return [str(Path(p).parent) for p in final_runs()]


def select_top_inputs(wildcards):
    """select_top reads the history, or for a transfer the settings naming the architectures."""
    if TRANSFER:
        return {
            "search": str(LAYOUT.settings("search")),
            "final": str(LAYOUT.settings("final")),
        }
    return {"history": str(LAYOUT.history)}


def select_top_args(wildcards, input):
    if TRANSFER:
        return f"--search {input.search} --final {input.final}"
    return f"--history {input.history} --k {TOP_K}"


def report_inputs(wildcards):
    """The history, and the search figure, which the report's tracking step logs with the search
    run (ancient: a figure redrawn with the random control later does not rerun the report,
    which would test the chosen network again)."""
    if TRANSFER:
        return {}
    return {"history": str(LAYOUT.history), "plot": ancient(str(LAYOUT.search_plot))}


def report_history_arg(wildcards, input):
    return "" if TRANSFER else f"--history {input.history}"


def control_history():
    """The random-search control's history (random-search/dvc.yaml: results/{experiment}-random/),
    drawn into the search figure when it exists; none for a search that is itself random.
    """
    control = ResultsLayout.for_experiment(f"{EXPERIMENT}-random").history
    if config["search"]["strategy"] == "random" or not control.exists():
        return []
    return [str(control)]


def control_option(wildcards, input):
    return f"--control {input.control}" if input.control else ""


def rounds_table_options(wildcards, input, output):
    """report-tables' rounds options: the rounds table and its page, for a search (not a transfer)."""
    if not input.rounds:
        return ""
    return f"--rounds {input.rounds} --rounds-page {output.rounds_page}"


def report_targets():
    """The files `snakemake --report report.html` shows (captions in workflow/report/)."""
    pages = [
        LAYOUT.final_grid,
        LAYOUT.report_page("final_grid"),
        LAYOUT.report_page("metrics"),
    ]
    if not TRANSFER:
        pages += [LAYOUT.search_plot, LAYOUT.report_page("rounds")]
    return [str(page) for page in pages]


def unfinished_search():
    """The default target's files still missing when Snakemake reports success.

    Snakemake can end a run right after a checkpoint (a round's sampling) with exit status 0
    and jobs left (snakemake/snakemake#823). Checked only for the default target: a run asked
    for other targets, or with --until / --omit-from, ends early on purpose."""
    dag = workflow.dag_settings
    if dag.targets or dag.until or dag.omit_from:
        return []
    return [
        path for path in final_targets() + report_targets() if not Path(path).exists()
    ]


def tracking_hint():
    """How to open this search's runs in the MLflow UI, printed when the run succeeds."""
    from nasrl.tracking.links import ui_hint

    return ui_hint(TRACKING_STATE) if Path(TRACKING_STATE).exists() else ""


def compared_inputs():
    """The files copied into results/compare/ for DVC: a transfer has no search, so no rounds."""
    files = {"metrics": str(LAYOUT.search_metrics)}
    if not TRANSFER:
        files.update(rewards=str(LAYOUT.reward_curve), rounds=str(LAYOUT.rounds_table))
    return files


def compared_outputs():
    return {name: str(LAYOUT.compared(name)) for name in compared_inputs()}


def final_targets():
    finals = [str(LAYOUT.search_metrics), str(LAYOUT.best), str(LAYOUT.best_diagram)]
    finals += list(compared_outputs().values())
    if TRANSFER:
        return finals
    if ASYNC:
        return finals + [str(LAYOUT.final_controller)]
    return finals + [str(LAYOUT.controller(ROUNDS))]
