#!/usr/bin/env bash
# Every GPU check in one command, from the repository root, installing nothing:
#
#     bash benchmarks/gpu_check.sh
#
# 1. records the card, driver and library versions;
# 2. runs tests/devices/test_gpu.py: every op and layer on the GPU against the CPU
#    (float64 tight, float32 ~1e-5), the fused CUDA kernels against the array
#    code, a training run on both devices (pytest when installed, else the
#    file runs itself);
# 3. runs benchmarks/gpu.py: problems A, C, E and ConvLSTM against PyTorch
#    CUDA, tinyseq's GPU against its CPU on C, and a host-time profile of the
#    fixed cost per time step (gpu_profile.txt);
# 4. checks the nccl backend of ts.distributed (when mpi4py is installed:
#    pip install "tinyseq[distributed]"): tests/distributed/test_distributed_gpu.py on 1
#    rank (and 2 with 2 GPUs), the NCCL adapter's CPU tests, and
#    benchmarks/distributed.py --device cuda;
# 5. runs each example's `--device cuda --smoke` while time is left;
# 6. prints a summary table last.
#
# Logs and results go to $OUT if set, else ./gpu_results/. Python is $PYTHON
# (default python3); the repository is put on PYTHONPATH, so no install is
# needed. Each stage has a time limit; the whole run stays under 8 minutes.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_results}"
mkdir -p "$OUT"
PY="$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')" || { echo "no ${PYTHON:-python3}"; exit 2; }
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
start=$(date +%s)

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    else
        echo "card: nvidia-smi not found"
    fi
    "$PY" - <<'EOF' 2>&1
import sys
print("python", sys.version.split()[0])
for name in ("numpy", "cupy", "torch", "pytest"):
    try:
        m = __import__(name)
        extra = ""
        if name == "cupy":
            extra = f" (CUDA runtime {m.cuda.runtime.runtimeGetVersion()}, {m.cuda.runtime.getDeviceCount()} GPU(s))"
        if name == "torch":
            extra = f" (CUDA {m.version.cuda}, available: {m.cuda.is_available()})"
        print(name, m.__version__ + extra)
    except Exception as e:
        print(name, "unavailable:", type(e).__name__, e)
EOF
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== tests/devices/test_gpu.py"
if "$PY" -c "import pytest" >/dev/null 2>&1; then
    timeout 240 "$PY" -m pytest -rs -p no:cacheprovider tests/devices/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log"
else
    timeout 240 "$PY" tests/devices/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log"
fi
tests_rc=${PIPESTATUS[0]}
echo "tests exit code: $tests_rc" | tee -a "$OUT/gpu_tests.log"

echo "== benchmarks/gpu.py"
timeout 150 "$PY" benchmarks/gpu.py --json "$OUT/gpu_bench.json" --profile "$OUT/gpu_profile.txt" "$@" 2>&1 \
    | tee "$OUT/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}

echo "== distributed: the nccl backend"
dist_rc=0
if ! "$PY" -c "import mpi4py" >/dev/null 2>&1; then
    echo "mpi4py not installed: skipped (pip install \"tinyseq[distributed]\")" | tee "$OUT/distributed_tests.log"
elif ! nccl_error=$("$PY" -c "from tinyseq_gpu.nccl import import_nccl; import_nccl()" 2>&1); then
    echo "no NCCL for CuPy: skipped ($(echo "$nccl_error" | tail -n 1))" | tee "$OUT/distributed_tests.log"
else
    gpus=$("$PY" -c "import tinyseq as ts; print(ts.cuda.device_count())" 2>/dev/null || echo 0)
    sizes=1
    [ "${gpus:-0}" -ge 2 ] && sizes=1,2
    if "$PY" -c "import pytest" >/dev/null 2>&1; then
        timeout 120 "$PY" -m pytest -rs -p no:cacheprovider tests/distributed/test_distributed_gpu.py tests/distributed/test_distributed.py \
            2>&1 | tee "$OUT/distributed_tests.log"
        dist_rc=${PIPESTATUS[0]}
    else
        mpiexec="$(dirname "$PY")/mpiexec"
        [ -x "$mpiexec" ] || mpiexec=mpiexec
        timeout 120 "$mpiexec" -n 1 "$PY" tests/distributed/distributed_worker.py nccl "$OUT/nccl.json" 2>&1 \
            | tee "$OUT/distributed_tests.log"
        dist_rc=${PIPESTATUS[0]}
        cat "$OUT/nccl.json" 2>/dev/null
    fi
    timeout 90 "$PY" benchmarks/distributed.py --device cuda --sizes "$sizes" --json "$OUT/distributed_bench.json" \
        2>&1 | tee "$OUT/distributed_bench.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || dist_rc=1
fi
echo "distributed exit code: $dist_rc" | tee -a "$OUT/distributed_tests.log"

echo "== examples: --device cuda --smoke (while time is left)"
: >"$OUT/examples.log"
scratch=$(mktemp -d)  # the examples' own output files stay out of $OUT
for script in examples/[!_]*.py; do
    [ "${GPU_CHECK_EXAMPLES:-1}" = 1 ] || break  # 0: skip them (the CPU dry run covers them elsewhere)
    "$PY" "$script" --help 2>/dev/null | grep -q -- "--smoke" || continue
    if [ $(($(date +%s) - start)) -gt 400 ]; then
        echo "$script: not run (time budget spent)" | tee -a "$OUT/examples.log"
        continue
    fi
    t0=$(date +%s)
    if (cd "$scratch" && timeout 40 "$PY" "$OLDPWD/$script" --device cuda --smoke >"$scratch/run.log" 2>&1); then
        verdict=ok
    else
        verdict="FAILED (exit $?): $(tail -n 3 "$scratch/run.log" | tr '\n' ' ')"
    fi
    echo "$script: $verdict ($(($(date +%s) - t0)) s)" | tee -a "$OUT/examples.log"
done
rm -rf "$scratch"

"$PY" benchmarks/gpu.py --summary "$OUT"
echo "tests exit code $tests_rc, benchmark exit code $bench_rc, distributed exit code $dist_rc," \
    "$(($(date +%s) - start)) s in all; results in $OUT"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$dist_rc" -eq 0 ]
