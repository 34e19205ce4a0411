"""Warm start on a shared machine (docs/security.md): another user cannot take a job's command,
environment or files, nor make it clobber a file; a silent client delays nobody; workers die
with their job and with the server; a worker computes what a fresh process would."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasrl.architecture import content_key
from nasrl.spaces.presets import preset_architecture
from nasrl.warm import client, jobstate, runtime, server, version

from warm_helpers import (BIN, alive, children_of, job_env, launcher_code_version, nasrl, remove_folder,
                          server_processes, short_folder, sleeping_child)

OTHER_USER = "nasrl-test-other"
WARNING = "warm start off for this job"


@pytest.fixture
def shared_tmp():
    """A TMPDIR like /tmp: world-writable and sticky, so another user can get there first."""
    folder = short_folder(0o1777)
    yield folder
    remove_folder(folder)


@pytest.fixture(scope="module")
def other_user():
    """(uid, gid, python) of a second, unprivileged user; created when the tests run as root."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a second user")
    try:
        entry = pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(OTHER_USER)
    for python in (sys.executable, "/usr/bin/python3"):  # one the other user may run
        try:
            runs = subprocess.run([python, "-c", "pass"], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                                  capture_output=True).returncode == 0
        except OSError:
            runs = False
        if runs:
            return entry.pw_uid, entry.pw_gid, python
    pytest.skip("no Python the second user can run")


def as_other(other_user, code: str, *args: str, background: bool = False):
    uid, gid, python = other_user
    cmd = [python, "-c", code, *args]
    if background:
        return subprocess.Popen(cmd, user=uid, group=gid, extra_groups=[], stdout=subprocess.PIPE, text=True)
    return subprocess.run(cmd, user=uid, group=gid, extra_groups=[], check=True, capture_output=True, text=True)


# Another user gets to TMPDIR first: a folder of its own at the job's path, open to all, with a
# socket listening at the job's socket name (the version key is computable from file metadata)
# and symlinks at the lock and log names pointing at files of the job's owner.
SQUAT = r"""
import os, socket, sys
folder, name, victim, log = sys.argv[1:5]
os.mkdir(folder)
os.chmod(folder, 0o777)
os.symlink(victim, os.path.join(folder, name + ".start"))
os.symlink(victim, os.path.join(folder, name + ".log"))
listener = socket.socket(socket.AF_UNIX)
listener.bind(os.path.join(folder, name))
os.chmod(os.path.join(folder, name), 0o777)
listener.listen(8)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    with open(log, "ab") as out:
        out.write(b"connected:" + conn.recv(1 << 16) + b"\n")
    conn.close()
"""


def architecture(tmp_path: Path) -> tuple[Path, str]:
    arch = preset_architecture("cnn_figure7")[0]
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    return path, content_key(arch)


def test_a_folder_another_user_made_first_is_not_used_and_nothing_is_clobbered(tmp_path, shared_tmp, other_user):
    arch, key = architecture(tmp_path)
    victim = tmp_path / "precious.txt"
    victim.write_text("the owner's data\n")
    log = shared_tmp / "attacker.log"
    folder = shared_tmp / f"nasrl-warm-{os.getuid()}"
    attacker = as_other(other_user, SQUAT, str(folder), f"{launcher_code_version()}.sock", str(victim), str(log),
                        background=True)
    try:
        assert attacker.stdout.readline().strip() == "ready"
        job = nasrl("key", str(arch), env=job_env(shared_tmp), cwd=tmp_path)
    finally:
        attacker.kill()
        attacker.wait()
    assert job.returncode == 0 and job.stdout.strip() == key  # the job ran, in its own process
    assert job.stderr.count("\n") == 1 and WARNING in job.stderr and "belongs to uid" in job.stderr
    assert not log.exists()  # the squatter's socket heard nothing: no argv, no environment, no files
    assert victim.read_text() == "the owner's data\n"
    assert server_processes(shared_tmp) == []


def test_a_file_squatting_the_folder_path_turns_warm_start_off_with_one_line(tmp_path, shared_tmp, other_user):
    arch, key = architecture(tmp_path)
    as_other(other_user, "import sys; open(sys.argv[1], 'w').write('x')", str(shared_tmp / f"nasrl-warm-{os.getuid()}"))
    job = nasrl("key", str(arch), env=job_env(shared_tmp), cwd=tmp_path)
    assert job.returncode == 0 and job.stdout.strip() == key
    assert job.stderr.count("\n") == 1 and WARNING in job.stderr and "is not a folder" in job.stderr


# A request as the client sends it, by another user who found the socket open.
INTRUDE = r"""
import json, os, socket, struct, sys
path, target = sys.argv[1:3]
request = json.dumps({"argv": ["draw", "cnn_figure7", "-o", target], "cwd": "/", "env": {}, "umask": 0,
                      "path": [], "affinity": None, "rlimits": {}}).encode()
conn = socket.socket(socket.AF_UNIX)
conn.connect(path)
try:
    socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
    print(repr(conn.recv(1)), flush=True)
except OSError:  # the server hung up first
    print(repr(b""), flush=True)
"""


def test_the_server_serves_no_other_user_even_through_an_open_socket(tmp_path, other_user):
    sockets = short_folder()
    try:
        arch, _ = architecture(tmp_path)
        assert nasrl("key", str(arch), env=job_env(sockets), cwd=tmp_path).returncode == 0  # starts the server
        (path,) = (sockets / f"nasrl-warm-{os.getuid()}").glob("*.sock")
        sockets.chmod(0o755)  # mistakes that let others reach the socket
        path.parent.chmod(0o755)
        path.chmod(0o777)
        target = tmp_path / "drawn-for-another-user.svg"
        tmp_path.chmod(0o777)
        reply = as_other(other_user, INTRUDE, str(path), str(target))
        assert reply.stdout.strip() == "b''"  # closed without accepting
        time.sleep(1.0)
        assert not target.exists()
        (server_pid,) = server_processes(sockets)
        assert children_of(server_pid) == []
    finally:
        remove_folder(sockets)


def test_a_client_refuses_a_server_of_another_user(tmp_path, other_user):
    sockets = short_folder(0o1777)
    try:
        path = sockets / "listen.sock"
        listener = as_other(other_user, r"""
import os, socket, sys
listener = socket.socket(socket.AF_UNIX)
listener.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
listener.listen(1)
print("ready", flush=True)
listener.accept()
""", str(path), background=True)
        assert listener.stdout.readline().strip() == "ready"
        with pytest.raises(runtime.Untrusted, match="served by uid"):
            client.connect(path)
        listener.kill()
        listener.wait()
    finally:
        remove_folder(sockets)


def test_the_runtime_folder_is_checked_and_files_in_it_never_followed(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    made = runtime.folder()
    assert made == tmp_path / f"nasrl-warm-{os.getuid()}" and (made.stat().st_mode & 0o777) == 0o700
    made.chmod(0o755)
    with pytest.raises(runtime.Untrusted, match="mode 0755; expected 0700"):
        runtime.folder()
    made.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    made.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(runtime.Untrusted, match="not a folder"):
        runtime.folder()
    made.unlink()
    made.mkdir(mode=0o700)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep\n")
    (made / "x.sock.start").symlink_to(precious)
    with pytest.raises(runtime.Untrusted, match="cannot open"):
        runtime.open_private(made / "x.sock.start", os.O_WRONLY)
    assert precious.read_text() == "keep\n"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "elsewhere"))
    assert runtime.folder() == tmp_path / "elsewhere" / "nasrl-warm"


def test_a_full_disk_under_the_runtime_folder_runs_the_job_here_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("NASRL_WARM_START", "1")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    folder = short_folder()  # a socket's address must fit: pytest's tmp_path may be too long
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr("tempfile.tempdir", None)
    real_open = os.open

    def full(path, flags, mode=0o777, **kw):
        if str(path).endswith(".log"):
            raise OSError(28, "No space left on device")
        return real_open(path, flags, mode, **kw)

    try:
        monkeypatch.setattr(os, "open", full)
        assert client.forward(["presets"]) is None
        monkeypatch.setattr(os, "open", real_open)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and WARNING in err and "No space left on device" in err
    finally:
        remove_folder(folder)


def test_the_version_key_changes_with_an_installed_package(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "numpy-2.0.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    before = version.code_version()
    (site / "numpy-2.0.0.dist-info").rename(site / "numpy-2.1.0.dist-info")
    assert version.code_version() != before
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])  # PYTHONPATH or another launcher folder
    assert version.code_version() != before


def test_a_silent_connection_does_not_delay_another_job(tmp_path):
    sockets = short_folder()
    try:
        arch, key = architecture(tmp_path)
        env = job_env(sockets)
        assert nasrl("key", str(arch), env=env, cwd=tmp_path).returncode == 0  # starts the server
        (path,) = (sockets / f"nasrl-warm-{os.getuid()}").glob("*.sock")
        silent = socket.socket(socket.AF_UNIX)
        silent.connect(str(path))  # and sends nothing
        started = time.monotonic()
        job = nasrl("key", str(arch), env=env, cwd=tmp_path, timeout=60)
        took = time.monotonic() - started
        assert job.returncode == 0 and job.stdout.strip() == key and job.stderr == ""
        assert took < server.REQUEST_SECONDS  # served before the silent client's deadline
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):  # still connected: the job did not wait for it to go
            silent.recv(1)
        silent.close()
    finally:
        remove_folder(sockets)


def wait_for_workers(server_folder: Path, count: int, clients) -> tuple[int, list[int]]:
    deadline = time.time() + 300
    while True:
        servers = server_processes(server_folder)
        workers = children_of(servers[0]) if len(servers) == 1 else []
        if len(workers) == count:
            return servers[0], workers
        assert time.time() < deadline and all(c.poll() is None for c in clients), "workers did not start"
        time.sleep(0.1)


def test_a_group_sigkill_of_warm_jobs_leaves_no_worker_to_write_afterwards(tmp_path):
    """Eight jobs in one process group, as Snakemake starts them, killed together."""
    sockets = short_folder()
    try:
        env = job_env(sockets)
        jobs = []
        for i in range(8):
            folder = tmp_path / f"job{i}"
            folder.mkdir()
            jobs.append(folder)
        script = " & ".join(f"{BIN / 'nasrl'} {' '.join(sleeping_child(f))}" for f in jobs) + " & wait"
        group = subprocess.Popen(["bash", "-c", script], env=env, cwd=tmp_path, start_new_session=True)
        _, workers = wait_for_workers(sockets, 8, [group])
        os.killpg(group.pid, signal.SIGKILL)
        killed = time.monotonic()
        group.wait()
        while any(alive(w) for w in workers):
            assert time.monotonic() - killed < 5, "a worker outlived its job"
            time.sleep(0.01)
        assert not any((f / "child" / "metrics.json").exists() for f in jobs)
    finally:
        remove_folder(sockets)


def test_a_killed_server_leaves_no_worker_running(tmp_path):
    sockets = short_folder()
    try:
        job = subprocess.Popen([str(BIN / "nasrl"), *sleeping_child(tmp_path)], env=job_env(sockets), cwd=tmp_path,
                               stderr=subprocess.PIPE, text=True)
        server_pid, (worker,) = wait_for_workers(sockets, 1, [job])
        os.kill(server_pid, signal.SIGKILL)
        assert job.wait(timeout=30) == 1
        assert "warm-start server ended before the command did" in job.stderr.read()
        deadline = time.monotonic() + 5
        while alive(worker):
            assert time.monotonic() < deadline, "a worker outlived its server"
            time.sleep(0.01)
        assert not (tmp_path / "child" / "metrics.json").exists()
    finally:
        remove_folder(sockets)


def test_a_worker_takes_its_jobs_state_not_the_servers(tmp_path, monkeypatch):
    """The server's process set a temporary folder, a thread count, a random state, an import
    path and a folder of its own; a worker of a job has the job's."""
    import random

    import numpy as np
    import torch

    baseline = jobstate.ServerBaseline()
    job_tmp = tmp_path / "job-tmp"
    job_tmp.mkdir()
    request = {"argv": [], "cwd": str(tmp_path), "umask": 0o027, "env": {"TMPDIR": str(job_tmp), "OMP_NUM_THREADS": "3"},
               "path": ["/job/launcher", *sys.path[1:]], "affinity": sorted(os.sched_getaffinity(0)), "rlimits": {}}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server's state, then the worker's change
        try:
            import tempfile
            tempfile.tempdir = "/server-tmp"
            torch.set_num_threads(1)
            torch.rand(5)
            random.seed(0)
            np.random.seed(0)
            jobstate.become_job(request, baseline, {})
            seen = {"tmp": tempfile.gettempdir(), "threads": torch.get_num_threads(), "cwd": os.getcwd(),
                    "path0": sys.path[0], "umask": os.umask(0), "torch": torch.rand(3).tolist(),
                    "python": random.random(), "numpy": float(np.random.random())}
            os.write(write, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        seen = json.loads(pipe.read())
    torch.set_rng_state(baseline.torch_rng)
    random.seed(0)
    np.random.seed(0)
    assert seen["tmp"] == str(job_tmp) and seen["cwd"] == str(tmp_path) and seen["path0"] == "/job/launcher"
    assert seen["threads"] == 3 and seen["umask"] == 0o027
    assert seen["torch"] == torch.rand(3).tolist()  # as right after the imports
    assert seen["python"] != random.random() and seen["numpy"] != float(np.random.random())  # not the server's seed
    assert jobstate.torch_threads({}, 7) == 7 and jobstate.torch_threads({"OMP_NUM_THREADS": "2"}, 7) == 2
    assert jobstate.torch_threads({"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "4"}, 7) == 4


DIGITS_CHILD = {"dataset": "digits", "epochs": 2, "batch_size": 64, "seed": 3}


def test_warm_and_cold_children_train_identically_with_threads_unset_and_tmpdir_set(tmp_path):
    """The first job starts the server with one thread and a TMPDIR of its own; a second job with
    neither gets its own defaults, so it trains exactly as a fresh process does."""
    sockets = short_folder()
    try:
        arch = tmp_path / "arch.json"
        arch.write_text(json.dumps({"space": "cnn", "layers": [
            {"filter_height": 3, "filter_width": 3, "num_filters": 8, "stride_height": 1, "stride_width": 1, "inputs": []},
            {"filter_height": 3, "filter_width": 3, "num_filters": 8, "stride_height": 1, "stride_width": 1, "inputs": [0]}],
            "max_pool_after": []}))
        config = tmp_path / "child.yaml"
        config.write_text(json.dumps(DIGITS_CHILD))
        first_tmp, job_tmp = tmp_path / "first-tmp", tmp_path / "job-tmp"
        first_tmp.mkdir()
        job_tmp.mkdir()
        base = {**job_env(first_tmp), "XDG_RUNTIME_DIR": str(sockets)}  # one server for both jobs
        starter = {**base, "OMP_NUM_THREADS": "1"}
        assert nasrl("key", str(arch), env=starter, cwd=tmp_path).returncode == 0  # starts the server
        runs = {}
        for name, warm in (("warm", "1"), ("cold", "0")):
            env = {**base, "NASRL_WARM_START": warm, "TMPDIR": str(job_tmp)}
            env.pop("OMP_NUM_THREADS", None)
            done = nasrl("train-child", "--arch", str(arch), "--config", str(config), "--out", str(tmp_path / name),
                         env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            metrics = json.loads((tmp_path / name / "metrics.json").read_text())
            runs[name] = ({k: v for k, v in metrics.items() if "seconds" not in k and not k.endswith("_at")},
                          (tmp_path / name / "curve.csv").read_text())
        found = server_processes(sockets)
        assert len(found) == 1, [(p, Path(f"/proc/{p}/status").read_text()[:400], Path(f"/proc/{p}/cmdline").read_text()) for p in found]
        assert runs["warm"] == runs["cold"]
    finally:
        remove_folder(sockets)


def test_the_server_ends_with_the_workflow_run_that_owns_it_and_leaves_no_files(tmp_path):
    sockets = short_folder()
    run = subprocess.Popen(["sleep", "300"])  # stands for the `snakemake` process (common.smk)
    try:
        arch, key = architecture(tmp_path)
        job = nasrl("key", str(arch), env={**job_env(sockets), "NASRL_WARM_OWNER": str(run.pid)}, cwd=tmp_path)
        assert job.returncode == 0 and job.stdout.strip() == key
        (server_pid,) = server_processes(sockets)
        folder = sockets / f"nasrl-warm-{os.getuid()}"
        assert [p.name for p in folder.glob("*.sock")] == [f"{launcher_code_version()}-{run.pid}.sock"]
        run.kill()
        run.wait()
        deadline = time.monotonic() + 10
        while alive(server_pid):
            assert time.monotonic() < deadline, "the server outlived its workflow run"
            time.sleep(0.05)
        assert list(folder.iterdir()) == []
    finally:
        run.kill()
        remove_folder(sockets)
