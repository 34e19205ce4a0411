#!/usr/bin/env bash
# The GPU measurements in one run (about 6 minutes on an H200): the Fig. 7 child's throughput
# with 1, 2 and 4 children per GPU and its start-up (benchmarks/performance/gpu_throughput.py), then the
# durations of controller-drawn children of the paper's CNN space on CIFAR-shaped random data
# (benchmarks/performance/child_durations.py --cifar-shaped). Every output goes to $OUT (default ./gpu-out).
#
#   bash benchmarks/performance/gpu_session.sh
#
# Python: $PYTHON if set, else the first of .venv/bin/python and python3 whose torch sees a CUDA
# GPU. nasrl is read from src/ (no install: the machine's Python need not match the project's
# pins). Of nasrl's dependencies, the training path needs torch, pytorch-lightning, numpy, PyYAML
# and pydantic; where pydantic is missing and nothing can be downloaded, its wheels (and those of
# pydantic-core, annotated-types, typing-inspection, typing-extensions, for that Python) are
# installed from .whl/ into /tmp/site. Extra flags: THROUGHPUT_ARGS, DURATION_ARGS. SMOKE=1 runs
# the same steps on the CPU with tiny sizes (a check of this script, about 2 minutes).
set -u
cd "$(dirname "$0")/../.."  # the repository root
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
began=$(date +%s)

PY=""
for candidate in "${PYTHON:-}" .venv/bin/python python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() or sys.argv[1] == "1" else 1)' \
        "${SMOKE:-0}" 2>/dev/null; then
        PY=$candidate
        break
    fi
done
if [ -z "$PY" ]; then
    echo "no Python here has a torch that sees a CUDA GPU" | tee "$OUT/env.txt"
    exit 1
fi
if ! "$PY" -c 'import pydantic' 2>/dev/null; then
    if ls .whl/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
            || exit 1
        export PYTHONPATH="/tmp/site:$PYTHONPATH"
    else
        echo "$PY has no pydantic and .whl/ holds no wheels" | tee "$OUT/env.txt"
        exit 1
    fi
fi
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
    echo "nproc $(nproc)"
    "$PY" -c 'import sys, torch, pytorch_lightning as pl, pydantic; print(sys.executable, sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "lightning", pl.__version__, "pydantic", pydantic.VERSION)'
} 2>&1 | tee "$OUT/env.txt"
"$PY" -c 'import nasrl.training.child, nasrl.search.registry' || exit 1

set -o pipefail
if [ "${SMOKE:-0}" = 1 ]; then
    THROUGHPUT_ARGS="--smoke --compile-children ${THROUGHPUT_ARGS:-}"
    DURATION_ARGS="--children 4 --depths 2 3 --train-images 128 ${DURATION_ARGS:-}"
fi
timeout 250 "$PY" benchmarks/performance/gpu_throughput.py --json "$OUT/gpu_throughput.json" ${THROUGHPUT_ARGS:-} 2>&1 \
    | tee "$OUT/gpu_throughput.txt"
echo "gpu_throughput.py: exit $?, $(( $(date +%s) - began )) s so far"
timeout 130 "$PY" benchmarks/performance/child_durations.py --cifar-shaped --max-seconds 95 --json "$OUT/child_durations_gpu.json" \
    ${DURATION_ARGS:-} 2>&1 | grep -v '^epoch ' | tee "$OUT/child_durations_gpu.txt"
echo "child_durations.py: exit $?, $(( $(date +%s) - began )) s in all"
