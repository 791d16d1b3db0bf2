"""Recurrent layers, tinyseq vs PyTorch CPU: one training step, and peak memory.

    python benchmarks/recurrent.py [--threads N] [--runs 7] [--cases A,B,C,D] [--no-memory]

A training step is: clear the gradients, run the layer on a fixed input (which
needs no gradient), take ``out.sum()`` and backpropagate into every parameter.
Both libraries run float32 in this one process with the same thread count
(PyTorch's ``set_num_threads``, and the BLAS thread count through the usual
environment variables, set before NumPy loads); tinyseq loads PyTorch's
weights, so both compute the same function. Each time is the median of about
``--runs`` steps, taken in two rounds of warm-up plus timed steps per library
(a library's idle worker threads keep spinning for a while after parallel
work, so alternating every step would slow both). ratio = tinyseq / PyTorch
(lower is better).

BLAS floor: the matrix products alone of one tinyseq training step (see
``blas_floor``), timed through NumPy's BLAS in the same process; floor/torch
is how close to PyTorch any NumPy implementation of the layer could get before
it does a single elementwise operation.

Cases (the ones the recurrent layers are tuned for):
  A  LSTM, batch 32, seq 50, input 64, hidden 256
  B  min-char-rnn size: vanilla RNN and LSTM, batch 1, seq 25, one-hot input 65, hidden 100
  C  LSTM, batch 64, seq 100, input 512, hidden 512 (matrix-product bound)
  D  GRU and 2-layer bidirectional LSTM at A's sizes

Peak memory of case C, two ways:
  traced  tinyseq only: tracemalloc's peak during one step, above what was
          allocated before it (NumPy reports its array buffers to tracemalloc),
          with the recurrent layers' workspace emptied first, so that the step
          allocates every buffer it uses.
  rss     both: a fresh subprocess builds the model and input and runs a
          smaller warm-up step; then, while it runs one real step, a thread
          samples the resident set size (/proc/self/statm) every 0.2 ms; the
          number is the peak above the size before the step. PyTorch's
          allocator does not report to tracemalloc, so this is the
          like-for-like number (Linux only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _timing import set_threads  # benchmarks/ is the script's own directory

CASES = {
    # name: (kind, kwargs, T, B, I, one_hot)
    "A lstm": ("LSTM", {}, 50, 32, 64, False, 256),
    "B rnn": ("RNN", {}, 25, 1, 65, True, 100),
    "B lstm": ("LSTM", {}, 25, 1, 65, True, 100),
    "C lstm": ("LSTM", {}, 100, 64, 512, False, 512),
    "D gru": ("GRU", {}, 50, 32, 64, False, 256),
    "D bilstm x2": ("LSTM", {"num_layers": 2, "bidirectional": True}, 50, 32, 64, False, 256),
}


def _input(np, T, B, I, one_hot, seed=0):
    rng = np.random.default_rng(seed)
    if one_hot:
        x = np.zeros((T, B, I), dtype=np.float32)
        x[np.arange(T)[:, None], np.arange(B)[None, :], rng.integers(0, I, (T, B))] = 1
        return x
    return rng.standard_normal((T, B, I)).astype(np.float32)


def build(case, torch, ts, np):
    """-> (torch step, tinyseq step, tinyseq model) for one case."""
    kind, kw, T, B, I, one_hot, H = CASES[case]
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(I, H, **kw)
    ours = getattr(ts.nn, kind)(I, H, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = _input(np, T, B, I, one_hot)
    xt, xs = torch.from_numpy(x), ts.tensor(x)

    def step_torch():
        ref.zero_grad(set_to_none=True)
        out, _ = ref(xt)
        out.sum().backward()

    def step_ours():
        ours.zero_grad()
        out, _ = ours(xs)
        out.sum().backward()

    return step_torch, step_ours, ours


def time_case(case, torch, ts, np, runs):
    """Median seconds of (tinyseq, torch) steps; each library runs as one block, in
    two rounds, so that one library's idle worker threads (both spin for a while
    after parallel work) do not slow the other's every step."""
    step_torch, step_ours, _ = build(case, torch, ts, np)
    select = ts.ops.fused.kernels.select_cpu_kernels

    def step_numpy():  # the same step with the NumPy reference kernels
        select("numpy")
        step_ours()
        select("auto")

    fast = select("auto") == "fast"
    steps = (step_torch, step_ours) + ((step_numpy,) if fast else ())
    times = {step: [] for step in steps}
    for _ in range(2):
        for step in steps:
            for _ in range(2):
                step()
            for _ in range((runs + 1) // 2):
                t0 = time.perf_counter()
                step()
                times[step].append(time.perf_counter() - t0)
    median = statistics.median
    return median(times[step_ours]), median(times[step_torch]), (median(times[step_numpy]) if fast else None)


def blas_floor(case, np, runs):
    """Median seconds of just the matrix products one tinyseq training step of ``case``
    runs, through NumPy's BLAS on preallocated arrays: per layer and direction the
    input projection of all steps, T products h W_hh^T forward and T products
    dgates W_hh backward, dW_ih and dW_hh (and the input gradient of every layer
    but the first). No elementwise work, no graph: what any NumPy-based layer pays."""
    kind, kw, T, B, I, one_hot, H = CASES[case]
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind] * H
    D = 2 if kw.get("bidirectional") else 1
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    layers = []
    for k in range(kw.get("num_layers", 1)):
        width = I if k == 0 else D * H
        for _ in range(D):
            w_hh = arr(G, H)  # backward multiplies by W_hh, forward by a contiguous copy of W_hh^T
            layers.append((k, arr(T * B, width), arr(G, width), w_hh, np.ascontiguousarray(w_hh.T),
                           arr(T * B, G), arr(T * B, H)))  # fmt: skip
    h, rec, d, dh = arr(B, H), np.empty((B, G), np.float32), arr(B, G), np.empty((B, H), np.float32)

    def products():
        for k, x, w_ih, w_hh, w_hh_t, dg, hs in layers:
            x @ w_ih.T
            for _ in range(T):
                np.dot(h, w_hh_t, out=rec)
            for _ in range(T):
                np.dot(d, w_hh, out=dh)
            dg.T @ x
            dg.T @ hs
            if k:
                dg @ w_ih

    times = []
    for _ in range(2 + runs):
        t0 = time.perf_counter()
        products()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def traced_peak(case, torch, ts, np):
    import gc
    import tracemalloc

    _, step_ours, _ = build(case, torch, ts, np)
    step_ours()
    # The first step left its internal buffers in the layers' workspace for the next
    # one; drop them, so that the traced step allocates (and counts) all it uses.
    ts.nn.recurrent.sequence.workspace.clear()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step_ours()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def _current_rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_child(lib, case):
    """Run in a subprocess: print the peak growth (MiB) of resident memory during one
    training step, sampled every 0.2 ms by a thread (both libraries release the GIL
    in their heavy work)."""
    import threading

    import numpy as np
    import torch

    import tinyseq as ts

    kind, kw, T, B, I, one_hot, H = CASES[case]
    CASES["warm-up"] = (kind, kw, 4, 2, I, one_hot, H)
    pick = 0 if lib == "torch" else 1
    build("warm-up", torch, ts, np)[pick]()
    step = build(case, torch, ts, np)[pick]
    base = _current_rss_mib()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _current_rss_mib())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    step()
    done.set()
    sampler.join()
    print(max(peak[0], _current_rss_mib()) - base)


def rss_peak(lib, case, threads):
    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); " \
           f"import recurrent; recurrent.set_threads({threads}); recurrent._rss_child({lib!r}, {case!r})"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", default="A,B,C,D", help="comma-separated case letters")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    set_threads(args.threads)

    import numpy as np
    import torch

    import tinyseq as ts

    torch.set_num_threads(args.threads)
    letters = set(args.cases.replace(" ", "").split(","))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"recurrent layers, one training step (forward + backward), float32, {args.threads} thread(s), "
          f"median of {args.runs}; load average {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    if load > os.cpu_count():
        print("(a busy machine: multi-threaded BLAS suffers most; --threads 1 gives steadier ratios)")
    kernels = ts.ops.fused.kernels.select_cpu_kernels()
    print(f"tinyseq: {kernels} cell kernels" + (" (the numpy column: the same steps with TINYSEQ_KERNELS=numpy)"
                                                if kernels == "fast" else ""))  # fmt: skip
    header = f"{'case':<14} {'tinyseq ms':>11} {'torch ms':>10} {'ratio':>7}"
    if kernels == "fast":
        header += f"   {'numpy ms':>9} {'ratio':>7}"
    header += f"   {'BLAS floor ms':>13} {'floor/torch':>11}"
    print(header)
    print("-" * len(header))
    for case in CASES:
        if case[0] not in letters:
            continue
        ours, ref, slow = time_case(case, torch, ts, np, args.runs)
        floor = blas_floor(case, np, args.runs)
        line = f"{case:<14} {ours * 1e3:>11.2f} {ref * 1e3:>10.2f} {ours / ref:>6.2f}x   "
        if kernels == "fast":
            line += f"{slow * 1e3:>9.2f} {slow / ref:>6.2f}x   " if slow else ""
        print(line + f"{floor * 1e3:>13.2f} {floor / ref:>10.2f}x")
    if not args.no_memory and "C" in letters:
        print()
        print("peak memory of one training step, case C (MiB)")
        traced = traced_peak("C lstm", torch, ts, np)
        ours, ref = rss_peak("tinyseq", "C lstm", args.threads), rss_peak("torch", "C lstm", args.threads)
        print(f"{'tinyseq traced':<16} {traced:>8.1f}")
        print(f"{'tinyseq rss':<16} {ours:>8.1f}")
        print(f"{'torch rss':<16} {ref:>8.1f}   ratio {ours / ref:.2f}x")


if __name__ == "__main__":
    main()
