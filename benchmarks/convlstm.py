"""ConvLSTM training step, tinyseq vs the same model written with PyTorch CPU ops.

    python benchmarks/convlstm.py [--threads 2] [--runs 7] [--batch 8] [--size 64] [--steps 10]
                                  [--in-channels 1] [--cpu-time] [--quick] [--profile]

One forward + backward of a one-layer ConvLSTM (1 -> 16 hidden channels, 3x3
kernel) over a (T, B, 1, H, W) float32 clip, loss = mean of the outputs.
PyTorch has no ConvLSTM, so its side is the textbook loop: per step one
torch conv2d over cat([x_t, h]) and the gate arithmetic. Both run in this
process on the same weights with the same thread count (the BLAS thread
variables are set before numpy loads). Each number is the median of
``--runs`` timed runs after two warm-up runs, the two libraries taking turns
run by run; ratio = tinyseq / PyTorch. Two more rows time tinyseq variants
against the same PyTorch step: the gate arithmetic composed from primitive
ops instead of the fused node, and the other way of convolving the frames
(all steps in one call, or per step; the layer picks by frame channels).

On a busy machine, wall times of multi-threaded runs swing wildly (threads
wait for each other while descheduled); ``--cpu-time --threads 1`` is steady.
"""

from __future__ import annotations

import argparse
import os
import time

from _timing import interleaved_medians, set_threads  # benchmarks/ is the script's own directory


def _tinyseq_step(ts, x_np, weight, bias, hidden, kernel, fused=True, hoist=None):
    """(forward, forward+backward, model); ``hoist`` True/False forces how the
    frames are convolved (all steps at once / per step over cat([x_t, h]))."""
    from tinyseq.nn.recurrent import conv as conv_recurrent

    model = ts.nn.ConvLSTM(x_np.shape[2], hidden, kernel, fused=fused)
    model.load_state_dict({"weight_l0": weight, "bias_l0": bias})
    x = ts.tensor(x_np)
    threshold = {None: conv_recurrent.HOIST_MIN_COLUMNS, True: 0, False: 1 << 62}[hoist]

    def run(fn):
        def call():
            default, conv_recurrent.HOIST_MIN_COLUMNS = conv_recurrent.HOIST_MIN_COLUMNS, threshold
            try:
                fn()
            finally:
                conv_recurrent.HOIST_MIN_COLUMNS = default

        return call

    def forward():
        with ts.no_grad():
            model(x)

    def step():
        model.zero_grad()
        out, _ = model(x)
        out.mean().backward()

    return run(forward), run(step), model


def _torch_step(torch, x_np, weight, bias, hidden):
    F = torch.nn.functional
    w = torch.tensor(weight, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    x = torch.tensor(x_np)
    T, B, _, H, W = x.shape

    def run():
        h = c = x.new_zeros(B, hidden, H, W)
        outs = []
        for t in range(T):
            i, f, g, o = F.conv2d(torch.cat([x[t], h], 1), w, b, padding="same").chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs)

    def forward():
        with torch.no_grad():
            run()

    def step():
        w.grad = b.grad = None
        run().mean().backward()

    return forward, step, (w, b)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU time instead of wall time (steadier on a busy machine; "
                        "counts every thread's time, so use it with --threads 1)")
    parser.add_argument("--quick", action="store_true", help="only the default model, not the variants")
    parser.add_argument("--profile", action="store_true", help="print where tinyseq's step spends its time")
    args = parser.parse_args(argv)
    set_threads(args.threads)

    import numpy as np

    import tinyseq as ts

    rng = np.random.default_rng(0)
    T, B, C, S, hid, k = args.steps, args.batch, args.in_channels, args.size, args.hidden, args.kernel
    x = rng.standard_normal((T, B, C, S, S)).astype(np.float32)
    bound = 1 / np.sqrt((C + hid) * k * k)
    weight = rng.uniform(-bound, bound, (4 * hid, C + hid, k, k)).astype(np.float32)
    bias = rng.uniform(-bound, bound, (4 * hid,)).astype(np.float32)

    ours_fwd, ours_step, model = _tinyseq_step(ts, x, weight, bias, hid, k)
    try:
        import torch
    except ImportError:
        torch = None

    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"ConvLSTM {C} -> {hid} channels, kernel {k}, batch {B}, {S}x{S}, T={T}, float32, "
          f"{args.threads} thread(s), median of {args.runs} runs, {'CPU' if args.cpu_time else 'wall'} time")
    header = f"{'pass':<48} {'tinyseq ms':>11} {'torch ms':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    if torch is not None:
        torch.set_num_threads(args.threads)
        theirs_fwd, theirs_step, (tw, tb) = _torch_step(torch, x, weight, bias, hid)
        ours_step()
        theirs_step()
        # same model, same numbers: a benchmark of two different computations would mean nothing
        np.testing.assert_allclose(model.weight_l0.grad.numpy(), tw.grad.numpy(), rtol=1e-3, atol=1e-5)
    from tinyseq.nn.recurrent import conv as conv_recurrent

    hoisted = C * k * k >= conv_recurrent.HOIST_MIN_COLUMNS
    other = "per step over cat([x_t, h])" if hoisted else "all steps at once"
    rows = [
        ("forward", ours_fwd, theirs_fwd if torch else None),
        ("forward+backward", ours_step, theirs_step if torch else None),
    ]
    if not args.quick:
        rows += [
            ("forward+backward, gates composed (fused=False)",
             _tinyseq_step(ts, x, weight, bias, hid, k, fused=False)[1], theirs_step if torch else None),
            (f"forward+backward, frames {other}",
             _tinyseq_step(ts, x, weight, bias, hid, k, hoist=not hoisted)[1], theirs_step if torch else None),
        ]  # fmt: skip
    for label, ours, theirs in rows:
        if theirs is None:
            (ms,) = interleaved_medians([ours], args.runs, clock)
            print(f"{label:<48} {ms:>11.1f} {'-':>10} {'-':>7}")
            continue
        ms, ref = interleaved_medians([ours, theirs], args.runs, clock)
        print(f"{label:<48} {ms:>11.1f} {ref:>10.1f} {ms / ref:>6.2f}x")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            ours_step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
