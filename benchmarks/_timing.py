"""Timing shared by the benchmark scripts."""

import statistics
import time


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
