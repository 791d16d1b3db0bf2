"""Per-op overhead on small tensors, tinyseq vs PyTorch CPU, in microseconds.

    python benchmarks/ops.py [--threads 1] [--reps 2000] [--runs 7] [--clock wall|cpu]

Each case runs one op (forward only, then forward + backward into leaf
gradients) on tensors small enough that the arithmetic is negligible, so the
time is the framework's bookkeeping. Both libraries run in this process with
the same thread count, taking turns run by run; each number is the median over
``--runs`` runs of ``--reps`` calls. The ratio column is tinyseq / PyTorch
(lower is better). ``--clock cpu`` counts this process's CPU time instead of
wall time: on a machine shared with other work it is far steadier.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinyseq as ts


def _run(fn, reps: int, clock=time.perf_counter) -> float:
    """Microseconds per call of ``fn`` over ``reps`` back-to-back calls."""
    t0 = clock()
    for _ in range(reps):
        fn()
    return (clock() - t0) / reps * 1e6


def _time_pair(ours, theirs, reps: int, runs: int, clock=time.perf_counter):
    """Median microseconds per call of each, over ``runs`` runs; the two libraries
    take turns run by run, so a busy machine slows both alike."""
    fns = [f for f in (ours, theirs) if f is not None]
    for f in fns:
        for _ in range(max(reps // 10, 10)):
            f()
    samples = [[] for _ in fns]
    for _ in range(runs):
        for f, out in zip(fns, samples):
            out.append(_run(f, reps, clock))
    medians = [statistics.median(s) for s in samples]
    return medians[0], (medians[1] if theirs is not None else None)


def _cases(lib, shape_elem=(8, 8), shape_mm=(16, 16)):
    """name -> (forward, forward+backward) closures for ``lib`` (tinyseq or torch)."""
    rng = np.random.default_rng(0)

    def leaf(shape):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)

    def plain(shape):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32))

    out = {}

    def add_case(name, inputs, op):
        leaves = [t for t in inputs if t.requires_grad]
        g = lib.ones(op(*inputs).shape)

        def fwd():
            op(*inputs)

        def fwd_bwd():
            for t in leaves:
                t.grad = None
            op(*inputs).backward(g)

        out[name] = (fwd, fwd_bwd)

    one = (1,)
    add_case("add (1,)", [leaf(one), leaf(one)], lambda a, b: a + b)
    add_case(f"add {shape_elem}", [leaf(shape_elem), leaf(shape_elem)], lambda a, b: a + b)
    add_case(f"mul {shape_elem}", [leaf(shape_elem), leaf(shape_elem)], lambda a, b: a * b)
    add_case(f"mul {shape_elem} by 2.0", [leaf(shape_elem)], lambda a: a * 2.0)
    add_case(f"add {shape_elem} + const", [leaf(shape_elem), plain(shape_elem)], lambda a, b: a + b)
    add_case(f"tanh {shape_elem}", [leaf(shape_elem)], lambda a: a.tanh())
    add_case(f"sigmoid {shape_elem}", [leaf(shape_elem)], lambda a: a.sigmoid())
    add_case(f"sum {shape_elem}", [leaf(shape_elem)], lambda a: a.sum())
    add_case(f"bias add {shape_elem} + {shape_elem[-1:]}", [leaf(shape_elem), leaf(shape_elem[-1:])],
             lambda a, b: a + b)
    add_case(f"matmul {shape_mm} @ {shape_mm}", [leaf(shape_mm), leaf(shape_mm)], lambda a, b: a @ b)
    add_case(f"getitem {shape_elem}[1:3]", [leaf(shape_elem)], lambda a: a[1:3])
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: time.perf_counter; cpu: this process's CPU time, steadier on a busy machine")
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)

    ours = _cases(ts)
    theirs = _cases(torch) if torch is not None else {}
    header = f"{'op':<30} {'pass':<9} {'tinyseq us':>11} {'torch us':>10} {'ratio':>7}"
    print(f"per-op overhead, float32, {args.threads} thread(s), median of {args.runs} x {args.reps} calls, "
          f"{args.clock} clock")
    print(header)
    print("-" * len(header))
    ratios = []
    for name, (fwd, both) in ours.items():
        for label, k in (("fwd", 0), ("fwd+bwd", 1)):
            ref_fn = theirs[name][k] if name in theirs else None
            us, ref = _time_pair((fwd, both)[k], ref_fn, args.reps, args.runs, clock)
            if ref is not None:
                ratios.append(us / ref)
                print(f"{name:<30} {label:<9} {us:>11.2f} {ref:>10.2f} {us / ref:>6.2f}x")
            else:
                print(f"{name:<30} {label:<9} {us:>11.2f} {'-':>10} {'-':>7}")
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(f"{'geometric mean ratio':<41} {'':>11} {'':>10} {geo:>6.2f}x")


if __name__ == "__main__":
    main()
