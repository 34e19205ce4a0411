"""Training throughput of the Fig. 7 child with 1, 2 and 4 children sharing one GPU, and a child's start-up.

    python benchmarks/performance/gpu_throughput.py [--children 1 2 4] [--compile-children 1] [--seconds 20]
        [--train-images 16384] [--batch-size 64] [--json OUT]
    python benchmarks/performance/gpu_throughput.py --smoke     # a CPU check of the script, in seconds

For each count k of ``--children`` (then each of ``--compile-children`` with ``child.compile:
true``), k separate processes start at once, as k child jobs sharing a GPU would, and each
trains the 15-layer network of Zoph & Le (2017) Fig. 7 through ``nasrl train-child``'s code
path (``build_system`` and ``make_trainer``: on CUDA bf16 autocast, channels-last, cuDNN
autotuning, the data kept on the GPU) on CIFAR-10-shaped random data, batch 64, augmentation
on. Each process reports:

- its start-up, from the moment the parent starts it to the first training batch, split into
  the interpreter with its imports, CUDA initialisation (the first allocation on the GPU), the
  data set up, and the network, Trainer and Lightning's own set-up up to the first batch;
- its warm-up: from the first batch to batch 10 of its second epoch (cuDNN autotuning, one
  validation pass, and with torch.compile the compilation of the training and evaluation
  graphs);
- its training progress (batches done, the GPU synchronised every 10 batches) and its peak
  GPU memory (PyTorch's allocated and reserved peaks; the driver's per-process figure, with
  the CUDA context, where NVML gives it).

Throughput is measured while all k children are warm: from the moment the last one finished
its warm-up, for ``--seconds``, each child counting the batches it completes in that common
window (per-epoch validation passes of 512 images included). Per child and total images/s,
the peak memory and the start-up go to a table and to ``--json``.

``--smoke`` runs the same processes on the CPU with a 2-layer network and a few hundred
images, to check the script before spending GPU time.
"""

from __future__ import annotations

import time

PROCESS_START = time.time()  # before the heavy imports: the worker's interpreter is up

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
SYNC_EVERY = 10  # batches between GPU synchronisations (progress records)
SMALL = {"space": "cnn", "max_pool_after": [], "layers": [
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": []},
    {"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1, "num_filters": 8, "inputs": [0]},
]}


# --------------------------------------------------------------------------------------------
# one child process


def worker(args) -> None:
    imported_at = None
    import pytorch_lightning as pl
    import torch

    sys.path.insert(0, str(HERE.parent))  # benchmarks/common.py
    from common import RandomCifarShaped
    from nasrl.settings import ChildConfig
    from nasrl.spaces.presets import preset_architecture
    from nasrl.training.child import build_system, make_trainer, quiet_lightning

    imported_at = time.time()
    cuda = torch.cuda.is_available() and not args.smoke
    if cuda:
        torch.cuda.init()
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
    else:
        torch.set_num_threads(1)
    cuda_at = time.time()
    quiet_lightning()
    config = ChildConfig.from_dict({
        "dataset": "cifar10", "epochs": 1000, "batch_size": args.batch_size, "seed": args.index,
        "accelerator": "gpu" if cuda else "cpu", "compile": args.compile,
    })
    datamodule = RandomCifarShaped(train=args.train_images, val=args.val_images, batch_size=config.batch_size,
                                   seed=args.index, augment=True)
    datamodule.setup("fit")
    data_at = time.time()
    arch = SMALL if args.smoke else preset_architecture("cnn_figure7")[0]
    system = build_system(arch, config, datamodule)
    group = Path(args.group)

    class Meter(pl.Callback):
        def __init__(self):
            self.first_batch = self.batch10 = self.ready = self.stop_at = None
            self.records: list[tuple[float, int]] = []
            self.done = 0

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if self.first_batch is None:
                self.first_batch = time.time()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.done += 1
            if self.done % SYNC_EVERY and not (self.ready is None and trainer.current_epoch >= 1
                                               and batch_idx + 1 >= args.skip):
                return
            if cuda:
                torch.cuda.synchronize()
            now = time.time()
            self.records.append((now, self.done))
            if self.batch10 is None and self.done >= SYNC_EVERY:
                self.batch10 = now
            if self.ready is None and trainer.current_epoch >= 1 and batch_idx + 1 >= args.skip:
                self.ready = now
                (group / f"ready-{args.index}").write_text(repr(now))
            if self.ready is not None and self.stop_at is None:
                marks = [group / f"ready-{i}" for i in range(args.group_size)]
                if all(m.exists() for m in marks):
                    self.stop_at = max(float(m.read_text() or 0) for m in marks) + args.seconds
            if (self.stop_at is not None and now >= self.stop_at) or now - PROCESS_START > args.timeout:
                trainer.should_stop = True

    meter = Meter()
    trainer = make_trainer(config, Path(tempfile.mkdtemp(prefix="nasrl-gpu-")), [meter])
    trainer.fit(system, datamodule=datamodule)
    memory = {}
    if cuda:
        memory = {"allocated_peak_gb": torch.cuda.max_memory_allocated() / 2**30,
                  "reserved_peak_gb": torch.cuda.max_memory_reserved() / 2**30}
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == os.getpid() and proc.usedGpuMemory:
                    memory["process_gb"] = proc.usedGpuMemory / 2**30
        except Exception as err:  # NVML absent or not allowed in this container: PyTorch's figures remain
            memory["nvml"] = f"{type(err).__name__}: {err}"
    result = {
        "index": args.index, "compile": args.compile, "spawned": args.spawned, "process_start": PROCESS_START,
        "imported": imported_at, "cuda_ready": cuda_at, "data_ready": data_at, "first_batch": meter.first_batch,
        "batch10": meter.batch10, "ready": meter.ready, "stop_at": meter.stop_at, "records": meter.records,
        "batch_size": config.batch_size, "precision": str(trainer.precision), "memory": memory,
        "device": torch.cuda.get_device_name(0) if cuda else "CPU", "torch": torch.__version__,
        "params": sum(p.numel() for p in system.model.parameters()),
    }
    (group / f"result-{args.index}.json").write_text(json.dumps(result))


# --------------------------------------------------------------------------------------------
# the parent: k children at once, then the common window


def batches_at(records: list[tuple[float, int]], t: float) -> float:
    """Batches done at time t, linear between the synchronised records."""
    for (t0, b0), (t1, b1) in zip(records, records[1:]):
        if t0 <= t <= t1:
            return b0 + (b1 - b0) * (t - t0) / (t1 - t0) if t1 > t0 else b1
    return float(records[-1][1] if t > records[-1][0] else records[0][1])


def run_group(args, k: int, compile: bool) -> dict:
    group = Path(tempfile.mkdtemp(prefix=f"nasrl-gpu-{k}-"))
    began = time.time()
    procs = []
    for i in range(k):
        spawned = time.time()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--index", str(i), "--group", str(group),
               "--group-size", str(k), "--spawned", repr(spawned), "--seconds", str(args.seconds),
               "--train-images", str(args.train_images), "--val-images", str(args.val_images),
               "--batch-size", str(args.batch_size), "--skip", str(args.skip), "--timeout", str(args.timeout)]
        cmd += ["--compile"] * compile + ["--smoke"] * args.smoke
        procs.append(subprocess.Popen(cmd, stdout=open(group / f"log-{i}.txt", "w"), stderr=subprocess.STDOUT))
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, began + args.timeout + 60 - time.time())))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    results = []
    for i, code in enumerate(codes):
        path = group / f"result-{i}.json"
        if code or not path.exists():
            tail = (group / f"log-{i}.txt").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"child {i} of {k} failed (exit {code}):\n{tail}")
        results.append(json.loads(path.read_text()))
        if results[-1]["ready"] is None:
            raise RuntimeError(f"child {i} of {k} was not warm after --timeout {args.timeout:g} s")
    start = max(r["ready"] for r in results)
    end = min(r["records"][-1][0] for r in results)
    overlap = end - start
    rates = []
    for r in results:
        if overlap > 1.0:
            done = batches_at(r["records"], end) - batches_at(r["records"], start)
            rates.append(done * r["batch_size"] / overlap)
        else:  # no common window (a child finished before another was warm): its own rate
            t0, b0 = next((t, b) for t, b in r["records"] if t >= r["ready"])
            t1, b1 = r["records"][-1]
            rates.append((b1 - b0) * r["batch_size"] / (t1 - t0) if t1 > t0 else float("nan"))
    startup = [{
        "to_first_batch": r["first_batch"] - r["spawned"],
        "interpreter": r["process_start"] - r["spawned"], "imports": r["imported"] - r["process_start"],
        "cuda_init": r["cuda_ready"] - r["imported"], "data": r["data_ready"] - r["cuda_ready"],
        "model_trainer_setup": r["first_batch"] - r["data_ready"],
        "first_10_batches": r["batch10"] - r["first_batch"], "warmup": r["ready"] - r["first_batch"],
    } for r in results]
    return {"children": k, "compile": compile, "window_seconds": overlap, "common_window": overlap > 1.0,
            "images_per_s": rates, "total_images_per_s": sum(rates), "startup": startup,
            "memory": [r["memory"] for r in results], "device": results[0]["device"], "torch": results[0]["torch"],
            "precision": results[0]["precision"], "params": results[0]["params"],
            "batch_size": results[0]["batch_size"], "wall_seconds": time.time() - began}


def table(rows: list[dict]) -> str:
    head = ("| children on the GPU | torch.compile | images/s per child (median) | images/s total | window s "
            "| peak GPU memory per child, GB (allocated / reserved / process) | start to first batch, s (median; max) "
            "| of which imports / CUDA init / data / set-up | warm-up s (first 10 batches) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s = r["startup"]
        med = lambda key: statistics.median(x[key] for x in s)  # noqa: E731
        mem = r["memory"]
        alloc = max((m.get("allocated_peak_gb", 0) for m in mem), default=0)
        res = max((m.get("reserved_peak_gb", 0) for m in mem), default=0)
        proc = [m["process_gb"] for m in mem if "process_gb" in m]
        lines.append(
            f"| {r['children']} | {'on' if r['compile'] else 'off'} | {statistics.median(r['images_per_s']):,.0f} "
            f"| {r['total_images_per_s']:,.0f} | {r['window_seconds']:.1f}{'' if r['common_window'] else ' (none)'} "
            f"| {alloc:.2f} / {res:.2f} / {f'{max(proc):.2f}' if proc else 'n.a.'} ")
        lines[-1] += (f"| {med('to_first_batch'):.1f}; {max(x['to_first_batch'] for x in s):.1f} "
                      f"| {med('imports'):.1f} / {med('cuda_init'):.1f} / {med('data'):.1f} "
                      f"/ {med('model_trainer_setup'):.1f} | {med('warmup'):.1f} ({med('first_10_batches'):.1f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, nargs="*", default=[1, 2, 4], help="children per GPU to measure")
    parser.add_argument("--compile-children", type=int, nargs="*", default=[1],
                        help="the same with child.compile: true (none: skip)")
    parser.add_argument("--seconds", type=float, default=20.0, help="common measuring window")
    parser.add_argument("--train-images", type=int, default=16384)
    parser.add_argument("--val-images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip", type=int, default=10, help="batches into the second epoch before a child is warm")
    parser.add_argument("--timeout", type=float, default=150.0,
                        help="a child stops training this many seconds after its start, measured or not")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--smoke", action="store_true", help="CPU check: 2-layer network, 256 images, 2 s windows")
    # a child process
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--group-size", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=PROCESS_START, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.smoke:
        args.train_images, args.val_images, args.batch_size, args.seconds, args.skip = 256, 64, 32, 2.0, 2
        args.children = [c for c in args.children if c <= 2] or [1]
        args.compile_children = [c for c in args.compile_children if c <= 1]
    began = time.time()
    rows = []
    failed = []
    for k, compile in [(k, False) for k in args.children] + [(k, True) for k in args.compile_children]:
        try:
            rows.append(run_group(args, k, compile))
        except RuntimeError as err:  # one failed group (say, torch.compile) leaves the others' figures
            failed.append({"children": k, "compile": compile, "error": str(err)})
            print(f"{k} children, compile {'on' if compile else 'off'}: FAILED\n{err}", flush=True)
            continue
        r = rows[-1]
        print(f"{k} children, compile {'on' if compile else 'off'}: {r['total_images_per_s']:,.0f} images/s total "
              f"({', '.join(f'{x:,.0f}' for x in r['images_per_s'])}), window {r['window_seconds']:.1f} s, "
              f"{r['wall_seconds']:.0f} s", flush=True)
        if args.json:  # after each group: a run cut short keeps what it measured
            Path(args.json).write_text(json.dumps({"argv": sys.argv, "rows": rows, "failed": failed}, indent=1))
    if not rows:
        sys.exit("every group failed")
    r = rows[0]
    print(f"\nFig. 7 network ({r['params']:,} parameters)" if not args.smoke else "\n2-layer check network",
          f"on {r['device']}, torch {r['torch']}, precision {r['precision']}, batch {r['batch_size']}, "
          f"{args.train_images} training images; {time.time() - began:.0f} s\n")
    print(table(rows))


if __name__ == "__main__":
    main()
