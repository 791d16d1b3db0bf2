"""Timing and thread settings shared by the benchmark scripts."""

import os
import statistics
import sys
import time


def set_threads(n: int) -> None:
    """Give every BLAS/OpenMP pool ``n`` threads; takes effect only before numpy is imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if "numpy" in sys.modules:
        print("note: numpy was imported before the thread count was set", file=sys.stderr)


def interleaved_medians(fns, runs: int, clock=time.perf_counter) -> list:
    """Median milliseconds per call of each of ``fns`` after two warm-up calls each,
    interleaved run by run so that load from other processes lands on all of them alike."""
    for fn in fns:
        for _ in range(2):
            fn()
    samples = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, samples):
            t0 = clock()
            fn()
            out.append((clock() - t0) * 1e3)
    return [statistics.median(s) for s in samples]
