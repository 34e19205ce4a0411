"""Warm start (src/nasrl/warm/): a job's command runs in a worker forked from a server that has
torch and Lightning imported; to the job it is the same command: same output, same status,
and it dies with the job."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nasrl.architecture import content_key
from nasrl.spaces.presets import preset_architecture

BIN = Path(sys.executable).parent
TABLE = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "nas-bench-macro-cifar10.csv"


def parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def server_processes(folder: Path) -> list[int]:
    """PIDs of the warm-start server of this test (its socket lies in ``folder``); its
    workers, forks that share its command line, are not counted."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(folder) in (proc / "cmdline").read_text():
                found.add(int(proc.name))
        except OSError:
            continue
    return sorted(pid for pid in found if parent(pid) not in found)


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and parent(int(p.name)) == pid]


@pytest.fixture
def sockets():
    """A short folder of this test's own for the server's socket (a Unix socket's address
    holds at most 107 bytes: pytest's folders can be too deep)."""
    folder = Path(tempfile.mkdtemp(prefix="nw", dir="/tmp"))
    yield folder
    for pid in server_processes(folder):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def warm_env(sockets):
    """The environment of a workflow job, with the server's socket in this test's folder."""
    env = {**os.environ, "NASRL_WARM_START": "1", "TMPDIR": str(sockets)}
    env.pop("SLURM_JOB_ID", None)
    return env


def nasrl(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nasrl"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_warm_command_prints_and_exits_as_a_fresh_process(tmp_path, sockets, warm_env):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(preset_architecture("cnn_figure7")[0]))
    cold = nasrl("key", str(arch), env={**warm_env, "NASRL_WARM_START": "0"}, cwd=tmp_path)
    warm = nasrl("key", "arch.json", env=warm_env, cwd=tmp_path)  # relative: the client's folder
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)
    assert warm.stdout.strip() == content_key(preset_architecture("cnn_figure7")[0])
    assert len(server_processes(sockets)) == 1  # it was the server's worker that ran it
    missing = nasrl("key", "missing.json", env=warm_env, cwd=tmp_path)
    assert missing.returncode != 0 and missing.returncode == nasrl(
        "key", "missing.json", env={**warm_env, "NASRL_WARM_START": "0"}, cwd=tmp_path).returncode
    assert "missing.json" in missing.stderr


def test_a_killed_job_takes_its_worker_with_it(tmp_path, sockets, warm_env):
    """A surrogate child that sleeps; its client killed with SIGKILL: the worker dies too and
    writes nothing."""
    config = tmp_path / "child.yaml"
    config.write_text(json.dumps({"surrogate": {
        "table": str(TABLE), "key_column": "arch", "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}",
        "reward_column": "test_acc_seed0", "seconds_column": "flops", "seconds_per_unit": 1e-5}}))
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"space": "tabular", "decisions": {f"l{i}": "0" for i in range(8)}}))
    client = subprocess.Popen([str(BIN / "nasrl"), "train-child", "--arch", str(arch), "--config", str(config),
                               "--out", str(tmp_path / "child")], env=warm_env, cwd=tmp_path)
    deadline = time.time() + 300
    while not any(children_of(pid) for pid in server_processes(sockets)):
        assert time.time() < deadline and client.poll() is None, "no worker started"
        time.sleep(0.1)
    (server,) = server_processes(sockets)
    (worker,) = children_of(server)
    client.kill()
    client.wait()
    deadline = time.time() + 10
    while Path(f"/proc/{worker}").exists() and worker in children_of(server):
        assert time.time() < deadline, "the worker outlived its job"
        time.sleep(0.1)
    assert not (tmp_path / "child" / "metrics.json").exists()


def test_outside_the_workflow_or_inside_slurm_commands_run_in_process(tmp_path, sockets, warm_env):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(preset_architecture("cnn_figure7")[0]))
    for env in ({k: v for k, v in warm_env.items() if k != "NASRL_WARM_START"}, {**warm_env, "SLURM_JOB_ID": "7"}):
        assert nasrl("key", str(arch), env=env, cwd=tmp_path).returncode == 0
    assert server_processes(sockets) == []


def test_a_warm_command_writes_files_with_its_jobs_permissions(tmp_path, warm_env):
    """The worker takes its client's umask: results are as readable as a fresh process makes them."""
    modes = {}
    for umask in (0o077, 0o002):  # the first client starts the server with the stricter one
        out = tmp_path / f"fig{umask:o}.svg"
        subprocess.run([str(BIN / "nasrl"), "draw", "cnn_figure7", "-o", str(out)], env=warm_env, cwd=tmp_path,
                       check=True, capture_output=True, timeout=300, preexec_fn=lambda u=umask: os.umask(u))
        modes[umask] = out.stat().st_mode & 0o777
    assert modes == {0o077: 0o600, 0o002: 0o664}
