"""The `nasrl` command: a workflow job's command goes to the warm-start server, any other
runs here (nasrl.cli)."""

from __future__ import annotations

import sys

from nasrl.warm.client import forward


def main() -> None:
    argv = sys.argv[1:]
    code = forward(argv)
    if code is None:
        from nasrl.cli import main as run_here

        code = run_here(argv)
    sys.exit(code)
