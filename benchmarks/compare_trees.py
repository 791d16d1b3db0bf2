"""Two checkouts of tinyseq, one run: a recurrent training step in each, alternating.

    python benchmarks/compare_trees.py OLD NEW [--rounds 5] [--cases A,B,C,D] [--kernels auto|numpy]

OLD and NEW are directories that hold a ``tinyseq`` package (for an earlier
commit: ``mkdir /tmp/old && git archive REV tinyseq | tar -x -C /tmp/old``).
For each case of ``recurrent.py`` (same sizes, float32, input without
gradient), every round runs one fresh subprocess per tree, OLD then NEW; each
times training steps (clear the gradients, forward, ``out.sum().backward()``)
for about a second, at least 5, after a few warm-ups, and reports the median
of the faster half. Printed: the median over rounds of each tree's time, and
new/old (lower is better) overall and per round, whose spread shows how far
to trust it. Batch-1 cases (B) run with one BLAS thread, the others with
``--threads``. This compares trees with each other, not with PyTorch:
recurrent.py does that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from recurrent import CASES  # benchmarks/ is the script's own directory

# Run in a subprocess: argv = tree, case spec as JSON, benchmarks/. Prints the faster half of the step times.
_CHILD = r"""
import json, sys, time
import numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[3]]
import tinyseq as ts
from recurrent import _input
kind, kw, T, B, I, one_hot, H = json.loads(sys.argv[2])
ts.manual_seed(0)
model = getattr(ts.nn, kind)(I, H, **kw)
x = ts.tensor(_input(np, T, B, I, one_hot))
def step():
    model.zero_grad()
    model(x)[0].sum().backward()
for _ in range(3):
    step()
times = []
while len(times) < 5 or (sum(times) < 1.0 and len(times) < 2000):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps(times[: len(times) // 2]))
"""


def _time(tree, spec, threads, kernels):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), TINYSEQ_KERNELS=kernels)  # fmt: skip
    env.pop("PYTHONPATH", None)  # the tree comes first on sys.path, nothing else
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", _CHILD, tree, json.dumps(spec), here],
                         capture_output=True, text=True, env=env)  # fmt: skip
    if out.returncode:
        sys.exit(f"compare_trees: {tree}: {out.stderr.strip().splitlines()[-1]}")
    return statistics.median(json.loads(out.stdout))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="A,B,C,D", help="comma-separated case letters")
    parser.add_argument("--kernels", default="auto", choices=("auto", "numpy"),
                        help="TINYSEQ_KERNELS in both trees (a tree without the setting uses NumPy)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    for tree in (args.old, args.new):
        if not os.path.isdir(os.path.join(tree, "tinyseq")):
            parser.error(f"{tree} holds no tinyseq package")
    letters = set(args.cases.replace(" ", "").split(","))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"one training step, float32, kernels={args.kernels}, {args.rounds} rounds; load average {load:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'case':<12} {'old ms':>9} {'new ms':>9} {'new/old':>8}   per round")
    for case, spec in CASES.items():
        if case[0] not in letters:
            continue
        threads = 1 if case[0] == "B" else args.threads
        old, new = [], []
        for _ in range(args.rounds):
            old.append(_time(args.old, spec, threads, args.kernels))
            new.append(_time(args.new, spec, threads, args.kernels))
        o, n = statistics.median(old), statistics.median(new)
        rounds = " ".join(f"{b / a:.3f}" for a, b in zip(old, new))
        print(f"{case:<12} {o * 1e3:9.3f} {n * 1e3:9.3f} {n / o:8.3f}   {rounds}", flush=True)


if __name__ == "__main__":
    main()
