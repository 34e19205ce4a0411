"""What a child prints while it trains: one line per epoch in its log, a bar in a terminal."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nasrl.training.child import train_child
from nasrl.training.progress import epoch_line, show_progress_bar
from training_helpers import SMALL_CNN, digits_config

BIN = Path(sys.executable).parent
EPOCH_LINE = re.compile(r"^epoch (\d+)/3  lr \S+  train_loss \S+  train_acc \S+  val_loss \S+  val_acc (\S+)  (\d+\.\d\d) s$")


def test_a_child_prints_one_line_per_epoch_with_loss_metric_and_seconds(tmp_path, capsys):
    metrics = train_child(SMALL_CNN, digits_config(epochs=3, limit_train_batches=3), tmp_path)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    matches = [EPOCH_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == [1, 2, 3]
    with open(tmp_path / "curve.csv", newline="") as f:  # the lines say what curve.csv records
        curve = list(csv.DictReader(f))
    assert [f"{float(row['val_acc']):.4f}" for row in curve] == [m.group(2) for m in matches]
    # each epoch's seconds (training and validation) fit in the child's whole time
    assert 0 < sum(float(m.group(3)) for m in matches) < metrics["seconds"]


def test_epoch_lines_are_one_line_each():
    row = {"epoch": 2, "lr": 0.05, "train_loss": 0.41234, "val_ppl": 123.456}
    assert epoch_line(row, 4, 3.214) == "epoch 2/4  lr 0.05  train_loss 0.4123  val_ppl 123.4560  3.21 s"


def test_a_bar_only_in_a_terminal():
    assert not show_progress_bar(io.StringIO())
    main, other = os.openpty()
    try:
        with os.fdopen(main, "w", closefd=False) as terminal:
            assert show_progress_bar(terminal)
    finally:
        os.close(main)
        os.close(other)


def test_train_child_by_hand_in_a_terminal_shows_a_progress_bar(tmp_path):
    """`nasrl train-child` with its output on a terminal (a pseudo-terminal here) draws
    Lightning's bar; the same command with its output in a file (a workflow job) does not."""
    arch, config = tmp_path / "arch.json", tmp_path / "child.yaml"
    arch.write_text(json.dumps(SMALL_CNN))
    config.write_text(yaml.safe_dump({"dataset": "digits", "epochs": 1, "batch_size": 64, "threads": 1,
                                      "limit_train_batches": 3}))
    command = [str(BIN / "nasrl"), "train-child", "--arch", str(arch), "--config", str(config)]
    # The two runs at once: each spends most of its time importing torch and Lightning.
    logged = subprocess.Popen([*command, "--out", str(tmp_path / "file")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    main, terminal = os.openpty()
    try:
        process = subprocess.Popen([*command, "--out", str(tmp_path / "tty")], stdin=terminal, stdout=terminal,
                                   stderr=terminal)
        os.close(terminal)  # the child holds it now: reading ends when the child exits
        shown = read_all(main)  # read while it runs: a full terminal buffer would block it
        assert process.wait(timeout=300) == 0
    finally:
        os.close(main)
    bar = re.compile(r"Epoch 0\S* .*3/3")  # Lightning's bar (rich or tqdm) at the epoch's 3rd of 3 batches
    assert bar.search(shown) and "epoch 1/1  lr" in shown
    out, err = logged.communicate(timeout=300)
    assert logged.returncode == 0 and "epoch 1/1  lr" in out
    assert not bar.search(out + err)  # no bar redraws in a log file


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.e2e
def test_a_failing_jobs_error_is_on_the_screen_not_only_in_its_log(tmp_path):
    """profiles/default sets show-failed-logs: the job's log is printed under Snakemake's error."""
    from workflow_helpers import TINY, make_workdir, snakemake

    config = json.loads(json.dumps(TINY))
    config["child"].update(dataset="cifar10", data_dir=str(tmp_path / "no-cifar"))
    done = snakemake(make_workdir(tmp_path / "nodata", config), check=False)
    assert done.returncode != 0
    screen = done.stdout + done.stderr
    assert "nasrl prepare-data: error:" in screen and str(tmp_path / "no-cifar") in screen
