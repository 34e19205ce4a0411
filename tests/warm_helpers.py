"""Helpers of the warm-start tests: find a test's server and its workers, run `nasrl` as a job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
TABLE = Path(__file__).resolve().parents[1] / "src" / "nasrl" / "tables" / "nas-bench-macro-cifar10.csv"


def parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def server_processes(folder: Path) -> list[int]:
    """PIDs of the warm-start server whose socket lies in ``folder``; its workers, forks that
    share its command line, are not counted."""
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


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def short_folder(mode: int = 0o700) -> Path:
    """A folder with a short path (a Unix socket's address holds at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="nw", dir="/tmp"))
    folder.chmod(mode)
    return folder


def remove_folder(folder: Path) -> None:
    for pid in server_processes(folder):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def job_env(tmpdir: Path) -> dict[str, str]:
    """The environment of a workflow job, its warm-start folder under ``tmpdir``."""
    env = {**os.environ, "NASRL_WARM_START": "1", "TMPDIR": str(tmpdir)}
    for name in ("SLURM_JOB_ID", "XDG_RUNTIME_DIR", "NASRL_WARM_OWNER"):
        env.pop(name, None)
    return env


def nasrl(*args: str, env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nasrl"), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def sleeping_child(folder: Path, seconds_per_unit: float = 1e-5) -> list[str]:
    """`nasrl train-child` arguments of a surrogate child that sleeps (77 s at the default
    rate) and then writes ``folder/child/metrics.json``."""
    config = folder / "child.yaml"
    config.write_text(json.dumps({"surrogate": {
        "table": str(TABLE), "key_column": "arch", "key_template": "{l0}{l1}{l2}{l3}{l4}{l5}{l6}{l7}",
        "reward_column": "test_acc_seed0", "seconds_column": "flops", "seconds_per_unit": seconds_per_unit}}))
    arch = folder / "arch.json"
    arch.write_text(json.dumps({"space": "tabular", "decisions": {f"l{i}": "0" for i in range(8)}}))
    return ["train-child", "--arch", str(arch), "--config", str(config), "--out", str(folder / "child")]


def launcher_code_version() -> str:
    """The version key as the `nasrl` launcher computes it (its import path starts with bin/)."""
    code = f"import sys; sys.path[0] = {str(BIN)!r}; from nasrl.warm.version import code_version; print(code_version())"
    interpreter = (BIN / "nasrl").read_text().splitlines()[0].removeprefix("#!")  # the launcher's own
    return subprocess.run([interpreter, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
