"""A single-node SLURM cluster on this machine, with fake GPUs, for the tests and by hand.

    .venv/bin/python tests/slurm/cluster.py up DIR      start it; prints the SLURM_CONF to export
    .venv/bin/python tests/slurm/cluster.py down DIR    stop the daemons that `up` started

Needs root and apt (Debian): it installs slurmctld, slurmd, slurm-client and munge when they
are missing, starts munged as the munge user unless one already answers, and runs slurmctld
and slurmd in the foreground (there is no systemd to start them). The node has two fake GPUs,
each divided into two shards (gres/shard), and at least 8 CPUs whatever the machine has.
Config, state, logs and the fake GPU devices all live in DIR. /etc/slurm/slurm.conf is a link
to DIR's config while the cluster runs: the plugin's job step drops SLURM_CONF before calling
srun inside a job, so the default path is the one every SLURM command can find. A real config
there is never replaced.
"""

import getpass
import json
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILE = HERE.parents[1] / "slurm" / "config.yaml"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
COMMANDS = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged", "munge"]
DESELECT = 'deselect these tests with -m "not slurm"'
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class ClusterUnavailable(RuntimeError):
    """The machine cannot host the test cluster (not root, no apt, a daemon does not start)."""


def profile_partition() -> str:
    """The partition the cluster profile submits to: the test cluster offers exactly that one."""
    import yaml  # here, so that `cluster.py down` needs no third-party module

    return yaml.safe_load(PROFILE.read_text())["default-resources"]["slurm_partition"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages() -> None:
    """Install the Debian packages once; about 10 s on a fresh machine."""
    if all(shutil.which(c) for c in COMMANDS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterUnavailable(
            f"the SLURM tests start a one-node SLURM cluster and need root and apt-get to install "
            f"{' '.join(PACKAGES)} (or those packages already installed); {DESELECT}")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise ClusterUnavailable(f"`{' '.join(install)}` failed: {done.stderr[-1500:]}; {DESELECT}")


def node_hardware(cpus: int | None = None) -> tuple[str, int]:
    """CPUs and topology as slurmd sees them, and RealMemory. With `cpus` above the machine's
    count, the node offers that many (one socket, one thread per core): slurm.conf sets
    config_overrides, so slurmd accepts a node described larger than it is."""
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    fields = dict(item.split("=", 1) for item in line.split())
    memory = int(fields.pop("RealMemory"))
    fields.pop("NodeName")
    if cpus and cpus > int(fields["CPUs"]):
        fields = {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": cpus, "ThreadsPerCore": 1}
    return " ".join(f"{k}={v}" for k, v in fields.items()), memory


class Cluster:
    """slurmctld + slurmd (+ munged when none runs) started from a scratch folder."""

    def __init__(self, scratch: Path, partition: str = "gpu", gpu_type: str = "fake", gpus: int = 2,
                 shards_per_gpu: int = 2, cpus: int = 8):
        """`cpus`: the node offers at least this many CPUs, whatever the machine has, so that as
        many jobs as the GPU shards allow can run at once on a 2-core machine (they mostly sleep)."""
        self.scratch = Path(scratch).resolve()
        self.partition, self.gpu_type, self.gpus = partition, gpu_type, gpus
        self.shards_per_gpu, self.cpus = shards_per_gpu, cpus
        self.conf = self.scratch / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *command: str, check: bool = True) -> str:
        """A SLURM client command against this cluster; its stdout."""
        done = subprocess.run(command, capture_output=True, text=True, env=self.env)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, timeout: float = 60) -> "Cluster":
        if os.geteuid() != 0:
            raise ClusterUnavailable(
                f"the SLURM tests start a one-node SLURM cluster as root (slurmd runs jobs as any "
                f"user); run them as root or {DESELECT}")
        ensure_packages()
        try:
            self.write_config()
            self.link_config()
            self.start_munge()
            self.spawn("slurmctld", "slurmctld", "-D", "-f", str(self.conf))
            self.spawn("slurmd", "slurmd", "-D", "-f", str(self.conf))
            self.wait_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def write_config(self) -> None:
        for folder in ("state", "spool", "dev"):
            (self.scratch / folder).mkdir(parents=True, exist_ok=True)
        for index in range(self.gpus):  # major 1, minor 3: /dev/null's device numbers
            device = self.scratch / "dev" / f"nvidia{index}"
            if not device.exists():
                os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))
        hardware, memory = node_hardware(self.cpus)
        host = socket.gethostname().split(".")[0]
        values = dict(host=host, ctld_port=free_port(), slurmd_port=free_port(),
                      scratch=self.scratch, hardware=hardware, memory=memory, partition=self.partition,
                      gpu_type=self.gpu_type, gpus=self.gpus, last_gpu=self.gpus - 1,
                      shards=self.gpus * self.shards_per_gpu, shard_lines=self.shard_lines(host))
        for name in ("slurm.conf", "gres.conf"):
            template = string.Template((HERE / f"{name}.in").read_text())
            (self.scratch / name).write_text(template.substitute(values))

    def shard_lines(self, host: str) -> str:
        """gres.conf lines giving each fake GPU its shards: one line per device, since a shard
        line names the device it divides and Count is that device's number of shards."""
        return "\n".join(f"NodeName={host} Name=shard Count={self.shards_per_gpu} File={self.scratch}/dev/nvidia{index}"
                         for index in range(self.gpus))

    def link_config(self) -> None:
        if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
            raise ClusterUnavailable(f"{SYSTEM_CONF} holds a real SLURM configuration, which the test cluster "
                                     f"would have to replace; {DESELECT}")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.unlink(missing_ok=True)  # a link left by a test cluster that was killed
        SYSTEM_CONF.symlink_to(self.conf)

    def unlink_config(self) -> None:
        if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.readlink() == self.conf:
            SYSTEM_CONF.unlink()

    def start_munge(self) -> None:
        """munged must run as the munge user, with its socket folder owned by it."""
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # one already answers: use it, and leave it running afterwards
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        self.spawn("munged", "munged", "--foreground", user="munge", group="munge", extra_groups=[])
        deadline = time.time() + 10
        while subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
            self.check_alive()
            if time.time() > deadline:
                raise ClusterUnavailable(f"munged did not answer within 10 s; {DESELECT}")
            time.sleep(0.2)

    def spawn(self, name: str, *command: str, **popen) -> None:
        log = open(self.scratch / f"{name}.out", "ab")
        # Own session: a Ctrl-C in the terminal that started the tests does not reach the daemons
        # before stop() cancels the jobs they run.
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                                start_new_session=True, **popen)
        self.save_pids()

    def save_pids(self) -> None:
        pids = {name: p.pid for name, p in self.processes.items()}
        (self.scratch / "pids.json").write_text(json.dumps(pids))

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.scratch / f"{name}.log").read_text()[-1500:] if (self.scratch / f"{name}.log").exists() else ""
                out = (self.scratch / f"{name}.out").read_text()[-1500:]
                raise ClusterUnavailable(f"{name} exited with {process.returncode}:\n{out}\n{log}")

    def wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while True:
            self.check_alive()
            state = self.run("sinfo", "-h", "-N", "-o", "%t", check=False).strip()
            if state == "idle":
                return
            if time.time() > deadline:
                raise ClusterUnavailable(f"the node is '{state}', not idle, after {timeout:.0f} s; see {self.scratch}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel this cluster's jobs, then end exactly the daemons started here, newest first."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            self.run("scancel", f"--user={getpass.getuser()}", check=False)
            deadline = time.time() + 30
            while time.time() < deadline and self.run("squeue", "-h", check=False).strip():
                time.sleep(0.5)
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.save_pids()
        self.unlink_config()


def stop_by_pid_file(scratch: Path) -> None:
    """`down` for a cluster started by `up` in another process: its daemons by their recorded ids."""
    pids = json.loads((scratch / "pids.json").read_text())
    env = {**os.environ, "SLURM_CONF": str(scratch / "slurm.conf")}
    subprocess.run(["scancel", f"--user={getpass.getuser()}"], env=env, capture_output=True)
    time.sleep(2)
    for name, pid in reversed(list(pids.items())):
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and name.encode() in cmdline.read_bytes():  # not a reused id
            os.kill(pid, signal.SIGTERM)
    (scratch / "pids.json").write_text("{}")
    Cluster(scratch).unlink_config()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: cluster.py up|down DIR", file=sys.stderr)
        return 2
    scratch = Path(argv[1]).resolve()
    if argv[0] == "down":
        stop_by_pid_file(scratch)
        return 0
    try:
        Cluster(scratch, partition=profile_partition()).start()
    except ClusterUnavailable as error:
        print(f"cluster.py: error: {error}", file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={scratch / 'slurm.conf'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
