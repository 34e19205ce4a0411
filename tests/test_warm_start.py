"""Warm start (src/nasrl/warm/): a job's command runs in a worker forked from a server that has
torch and Lightning imported; to the job it is the same command: same output, same status,
and it dies with the job."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from nasrl.architecture import content_key
from nasrl.spaces.presets import preset_architecture

from warm_helpers import BIN, children_of, job_env, nasrl, remove_folder, server_processes, short_folder, sleeping_child


@pytest.fixture
def sockets():
    """A short folder of this test's own for the server's socket."""
    folder = short_folder()
    yield folder
    remove_folder(folder)


@pytest.fixture
def warm_env(sockets):
    """The environment of a workflow job, with the server's socket in this test's folder."""
    return job_env(sockets)


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
    client = subprocess.Popen([str(BIN / "nasrl"), *sleeping_child(tmp_path)], env=warm_env, cwd=tmp_path)
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
