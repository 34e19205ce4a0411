"""The run lock: one live run per experiment and folder; a killed run's lock goes with it.
(Through `snakemake`, a second run refused while one runs: tests/test_faults.py.)"""

import os
import signal
import socket
import subprocess
import sys

import pytest

from nasrl.pipeline import run_lock

HOLD = ("import sys, time; from nasrl.pipeline import run_lock; run_lock.acquire('exp', sys.argv[1]); "
        "print('held', flush=True); time.sleep(600)")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of experiment 'exp' in tmp_path."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_run_is_refused_naming_the_live_one(tmp_path, holder):
    with pytest.raises(run_lock.SearchRunning) as refused:
        run_lock.acquire("exp", tmp_path)
    message = str(refused.value)
    assert f"PID {holder.pid} on {socket.gethostname()}" in message and "'exp'" in message
    assert "\n" not in message


def test_a_run_killed_with_sigkill_leaves_no_lock(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    path = run_lock.acquire("exp", tmp_path)  # the same command, restarted
    assert f'"pid": {os.getpid()}' in path.read_text()


def test_other_experiments_in_the_same_folder_run_side_by_side(tmp_path, holder):
    assert run_lock.acquire("other", tmp_path).name == "other.lock"
