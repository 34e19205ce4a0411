"""Bounded children: a child too large for the machine, or one whose process is killed, is
recorded as failed and the search goes on (nasrl.training.limits, nasrl.training.killed,
workflow/rules/children.smk).

- A CNN with a hundred thousand filters per layer (180 billion parameters) is recorded as
  ``too_large`` by a real ``nasrl train-child`` process, in seconds and without growing.
- A tiny search whose largest architectures are over ``child.max_params`` finishes, and those
  children count as failures everywhere (history, rounds.csv, MLflow, the final step).
- A child's training process SIGKILLed from outside mid-training (a surrogate child, which
  sleeps) is recorded as failed by its rule and the search finishes, in a warm-start worker
  and in a fresh process (as in a SLURM job); a run interrupted with Ctrl-C records nothing and
  resumes.
"""

import copy
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nasrl.cli import main
from nasrl.settings import ChildConfig
from nasrl.spaces.presets import preset_architecture
from nasrl.training import limits
from nasrl.training.limits import TooLargeError, check_size, device_memory_bytes, host_memory_bytes
from workflow_helpers import BIN, TINY, make_workdir, snakemake, surrogate_config

LIGHT_RSS_MB = 1500  # torch and Lightning imported, the digits loaded: about 600 MB


def cnn(filters: list[int], kernel: int = 3) -> dict:
    """A chain of conv layers, each reading the one before."""
    return {"space": "cnn", "max_pool_after": [], "layers": [
        {"filter_height": kernel, "filter_width": kernel, "stride_height": 1, "stride_width": 1, "num_filters": f,
         "inputs": [i - 1] if i else []} for i, f in enumerate(filters)]}


def train_child_process(tmp_path: Path, arch: dict, child: dict) -> tuple[dict, float, float]:
    """``nasrl train-child`` as its own process: (metrics.json, seconds, peak RSS in MB)."""
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"dataset": "digits", "epochs": 1, **child}))
    env = {k: v for k, v in os.environ.items() if k != "NASRL_WARM_START"}
    started = time.monotonic()
    process = subprocess.Popen([f"{BIN}/nasrl", "train-child", "--arch", str(tmp_path / "arch.json"),
                                "--config", str(tmp_path / "child.yaml"), "--out", str(tmp_path / "out")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # this process's own peak RSS (KiB on Linux)
    assert os.waitstatus_to_exitcode(status) == 0, output.decode()[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    return metrics, time.monotonic() - started, usage.ru_maxrss / 1024


def test_a_child_with_180_billion_parameters_is_too_large_at_once_and_small(tmp_path):
    metrics, seconds, rss_mb = train_child_process(tmp_path, cnn([100_000] * 3), {"failure_reward": -0.5})
    assert metrics["status"] == "too_large" and metrics["reward"] == -0.5 and metrics["epochs"] == 0
    assert metrics["params"] == 180_002_500_010  # the network's own count, from the meta device
    assert metrics["error"] == "too large: 180,002,500,010 parameters, over child.max_params = 1,000,000,000"
    assert not (tmp_path / "out" / "model.pt").exists()
    # 720 GB of weights alone; the process stays at its imports' size.
    assert rss_mb < LIGHT_RSS_MB and seconds < 120, (rss_mb, seconds)


def test_a_child_under_max_params_but_over_max_memory_gb_is_too_large(tmp_path):
    # 26M parameters, but 2 million 8x8 maps per image: about 100 GB of activations per batch.
    metrics, _, rss_mb = train_child_process(tmp_path, cnn([2_000_000], kernel=1), {"max_memory_gb": 4})
    assert metrics["status"] == "too_large" and metrics["params"] == 26_000_010
    assert metrics["error"].startswith("too large: an estimated ")
    assert metrics["error"].endswith(" GB to train (26,000,010 parameters, batch [64, 1, 8, 8]), "
                                     "over child.max_memory_gb = 4.0 GB")
    needed = float(metrics["error"].split("an estimated ")[1].split(" GB")[0].replace(",", ""))
    assert needed > 64 * 2_000_000 * 8 * 8 * 4 / 1e9  # at least the conv outputs the backward pass keeps
    assert rss_mb < LIGHT_RSS_MB


def test_a_weight_too_large_to_count_is_too_large_not_a_crash():
    config = ChildConfig.from_dict({"dataset": "digits"})
    with pytest.raises(TooLargeError, match=r"^more parameters than torch can count \(.*overflow.*\), "
                                            r"over child\.max_params = 1,000,000,000$"):
        check_size(cnn([10**9, 10**9]), {"in_channels": 1, "num_classes": 10, "bn_eps": 1e-5}, (64, 1, 8, 8), config)


def test_a_language_model_over_the_memory_limit_is_too_large():
    arch = preset_architecture("rnn_nas_cell")[0]
    lm = {"vocab_size": 10_000, "num_layers": 2, "dropout": 0.5, "embedding_dropout": 0.1, "tie_weights": False,
          "recurrent_dropout": 0.0, "init_range": None}
    config = ChildConfig.from_dict({"dataset": "ptb", "max_memory_gb": 2})
    # Zaremba et al.'s medium sizes fit; 4,000 units (600M parameters, 9.5 GB of weights,
    # gradients and optimizer state) do not.
    assert check_size(arch, {**lm, "embedding_size": 650, "hidden_size": 650}, (20, 35), config) > 0
    with pytest.raises(TooLargeError, match=r"^an estimated [\d,.]+ GB to train \([\d,]+ parameters, "
                                            r"batch \[20, 35\]\), over child\.max_memory_gb = 2\.0 GB$"):
        check_size(arch, {**lm, "embedding_size": 4000, "hidden_size": 4000}, (20, 35), config)


def test_the_default_max_params_passes_the_papers_largest_network():
    """Table 1's 37.4M network (the v3 reference with 40 more filters per layer) on CIFAR-10
    batches: under the default max_params, and about 7 GB to train by the estimate."""
    arch = preset_architecture("cnn_v3_reference_plus40")[0]
    config = ChildConfig.from_dict({"dataset": "cifar10", "max_memory_gb": 8})
    assert config.max_params == 10**9
    args = {"in_channels": 3, "num_classes": 10, "bn_eps": 1e-5}
    assert check_size(arch, args, (64, 3, 32, 32), config) == 35_710_010
    with pytest.raises(TooLargeError, match=r"^an estimated 7\.0 GB to train"):
        check_size(arch, args, (64, 3, 32, 32), config.model_copy(update={"max_memory_gb": 6}))


def test_the_default_memory_limit_is_the_ram_the_process_may_use(tmp_path, monkeypatch):
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < host_memory_bytes() <= physical and device_memory_bytes("cpu") == host_memory_bytes()
    # A SLURM job's cgroup (v2): the job's --mem of 2 GiB binds its step, whose own limit is "max".
    (tmp_path / "proc").write_text("0::/system.slice/job_7/step_0\n")
    step = tmp_path / "cgroup" / "system.slice" / "job_7" / "step_0"
    step.mkdir(parents=True)
    (step / "memory.max").write_text("max\n")
    (step.parent / "memory.max").write_text(f"{2 << 30}\n")
    monkeypatch.setattr(limits, "PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(limits, "CGROUP_ROOT", tmp_path / "cgroup")
    assert limits.cgroup_limits() == [2 << 30]
    assert host_memory_bytes() == min(physical, 2 << 30)


@pytest.mark.parametrize("values, message", [
    ({"max_params": 0}, "child.max_params: Input should be greater than or equal to 1, got 0"),
    ({"max_memory_gb": 0}, "child.max_memory_gb: Input should be greater than 0, got 0"),
    ({"max_memory_gb": -2.5}, "child.max_memory_gb: Input should be greater than 0, got -2.5"),
])
def test_a_limit_that_is_not_positive_is_one_error_line(tmp_path, capsys, values, message):
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"dataset": "digits", **values}))
    (tmp_path / "arch.json").write_text(json.dumps(cnn([4])))
    code = main(["train-child", "--arch", str(tmp_path / "arch.json"), "--config", str(tmp_path / "child.yaml"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and err == f"nasrl train-child: error: {tmp_path / 'child.yaml'}: {message}\n"
    assert not (tmp_path / "out").exists()


# --- whole searches through `snakemake` ------------------------------------------------------


def read_history(workdir: Path, experiment: str) -> pd.DataFrame:
    return pd.read_parquet(workdir / "results" / experiment / "history.parquet")


@pytest.mark.e2e
def test_a_search_with_children_over_max_params_finishes_and_counts_them_as_failed(tmp_path):
    # TINY's 4 architectures have 246, 434, 438 and 770 parameters: the two with 8 filters in
    # the second layer are over 437.
    config = copy.deepcopy(TINY)
    config["child"].update(max_params=437, failure_reward=-0.25)
    workdir = make_workdir(tmp_path / "run", config)
    snakemake(workdir)
    results = workdir / "results" / "tiny"
    table = read_history(workdir, "tiny")
    large = table[table["status"] == "too_large"]
    assert 0 < len(large) < len(table) and set(table["status"]) == {"ok", "too_large"}
    assert (large["params"] > 437).all() and (table.loc[table["status"] == "ok", "params"] <= 437).all()
    assert (large["reward"] == -0.25).all() and large["val"].isna().all()
    for key in large["key"]:
        metrics = json.loads((results / "children" / key / "metrics.json").read_text())
        assert metrics["error"].endswith(" parameters, over child.max_params = 437")
    rounds = pd.read_csv(results / "rounds.csv")
    assert rounds["failed"].sum() == len(large)
    headline = json.loads((results / "metrics.json").read_text())
    assert headline["failed_children"] == large["key"].nunique()
    top = json.loads((results / "final" / "top.json").read_text())
    assert top and not {t["arch_key"] for t in top} & set(large["arch_key"])
    assert json.loads((results / "final" / "best.json").read_text())["status"] == "ok"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.`nasrl.status` = 'too_large'")
    assert {r.data.tags["nasrl.key"] for r in runs} == set(large["key"])
    assert {r.info.status for r in runs} == {"FAILED"}


# Surrogate children that sleep 8 s or so (FLOPs x 1.5e-7 s): long enough to be killed mid-way.
SLEEPY = surrogate_config(rounds=1, m=2, replicas=1, staleness=0, seconds_column="flops", seconds_per_unit=1.5e-7)
SLEEPY["child"]["failure_reward"] = -0.125


def start_search(workdir: Path, warm: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", NASRL_WARM_START=warm)
    return subprocess.Popen([f"{BIN}/snakemake", "--cores", "2"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def training_process(workdir: Path, warm: str, timeout: float = 300) -> tuple[int, str]:
    """(pid, child key) of a process training a child: the one whose output goes to the child's
    log. In a warm start that is the worker forked from the server (whose command line is the
    server's), not the `nasrl train-child` client that waits for it; in a fresh process, the
    `nasrl train-child` process itself."""
    logs = str(workdir / "logs" / "scale" / "children") + os.sep
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                output = os.readlink(proc / "fd" / "1")
                command = (proc / "cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if output.startswith(logs) and output.endswith(".log") and \
                    (b"train-child" in command) == (warm == "0") and b"child-killed" not in command:
                return int(proc.name), Path(output).stem
        time.sleep(0.1)
    raise AssertionError("no child started training")


@pytest.mark.parametrize("warm", ["1", "0"], ids=["warm-start", "fresh-process"])
@pytest.mark.e2e
def test_a_child_killed_mid_training_is_recorded_as_failed_and_the_search_finishes(tmp_path, warm):
    workdir = make_workdir(tmp_path / "run", SLEEPY)
    search = start_search(workdir, warm)
    pid, key = training_process(workdir, warm)
    time.sleep(1.0)  # inside its sleep: the surrogate's table is read within a fraction of that
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer sends
    output, _ = search.communicate(timeout=900)
    assert search.returncode == 0, output.decode()[-4000:]
    results = workdir / "results" / "scale"
    metrics = json.loads((results / "children" / key / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["reward"] == -0.125
    assert metrics["error"] == "killed by signal 9 (SIGKILL)" and metrics["key"] == key
    assert "killed by signal 9" in (workdir / "logs" / "scale" / "children" / f"{key}.log").read_text()
    table = read_history(workdir, "scale")
    killed = table[table["key"] == key]
    assert len(killed) >= 1 and (killed["status"] == "failed").all() and (killed["reward"] == -0.125).all()
    assert (table.loc[table["key"] != key, "status"] == "ok").all()
    assert json.loads((results / "final" / "best.json").read_text())["status"] == "ok"


@pytest.mark.e2e
def test_a_search_interrupted_with_ctrl_c_records_no_child_as_failed_and_resumes(tmp_path):
    workdir = make_workdir(tmp_path / "run", SLEEPY)
    search = start_search(workdir, "1")
    training_process(workdir, "1")
    time.sleep(1.0)
    os.killpg(search.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    output, _ = search.communicate(timeout=300)
    assert search.returncode != 0, output.decode()[-4000:]
    children = workdir / "results" / "scale" / "children"
    for path in children.glob("*/metrics.json"):
        assert json.loads(path.read_text())["status"] == "ok", path
    snakemake(workdir)
    table = read_history(workdir, "scale")
    assert (table["status"] == "ok").all() and len(table) == 2
