"""Conv2d forward and forward+backward, tinyseq vs PyTorch CPU.

    python benchmarks/conv.py [--threads 2] [--runs 9] [--large]

Default case: a 32x16x32x32 float32 input, 16 -> 32 channels, 3x3 kernel,
padding 1 (the reference case). ``--large`` adds an (80, 17, 64, 64) input with
64 output channels, the shape of a ConvLSTM's input-to-state convolution over
all T*B frames (there the frames need no gradient, only the weights do).
Both libraries run in this process on the same weights with the same thread
count (the BLAS thread variables are set before numpy loads). Each number is
the median of ``--runs`` runs after two warm-up runs, interleaved run by run;
ratio = tinyseq / PyTorch.
"""

from __future__ import annotations

import argparse
import os

from _timing import interleaved_medians, set_threads  # benchmarks/ is the script's own directory


def _steps(lib, x_np, w_np, b_np, padding, input_grad):
    """(forward, forward+backward, (x, w, b)) of one conv2d in ``lib`` (tinyseq or torch),
    on its own copies of the arrays."""
    x = lib.tensor(x_np, requires_grad=input_grad)
    w, b = lib.tensor(w_np, requires_grad=True), lib.tensor(b_np, requires_grad=True)
    conv = lib.nn.functional.conv2d

    def fwd():
        with lib.no_grad():
            conv(x, w, b, padding=padding)

    def step():
        x.grad = w.grad = b.grad = None
        conv(x, w, b, padding=padding).sum().backward()

    return fwd, step, (x, w, b)


def _case(ts, torch, np, shape, out_channels, kernel, padding, input_grad):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype(np.float32)
    w_np = (rng.standard_normal((out_channels, shape[1], kernel, kernel)) * 0.1).astype(np.float32)
    b_np = rng.standard_normal(out_channels).astype(np.float32)
    ours_fwd, ours_step, (x, w, _) = _steps(ts, x_np, w_np, b_np, padding, input_grad)
    fns = {"forward": [ours_fwd], "forward+backward": [ours_step]}
    if torch is not None:
        theirs_fwd, theirs_step, (px, pw, _) = _steps(torch, x_np, w_np, b_np, padding, input_grad)
        ours_step()
        theirs_step()
        # the same computation on both sides, or the comparison means nothing
        np.testing.assert_allclose(w.grad.numpy(), pw.grad.numpy(), rtol=1e-3, atol=1e-2)
        if input_grad:
            np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-3, atol=1e-3)
        fns["forward"].append(theirs_fwd)
        fns["forward+backward"].append(theirs_step)
    return fns


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--large", action="store_true", help="add the (80, 17, 64, 64) -> 64 channels case")
    args = parser.parse_args(argv)
    set_threads(args.threads)

    import numpy as np

    import tinyseq as ts

    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None

    cases = [("32x16x32x32, 16->32, 3x3, pad 1", (32, 16, 32, 32), 32, 3, 1, True)]
    if args.large:
        cases.append(("80x17x64x64, 17->64, 3x3, same, no input grad", (80, 17, 64, 64), 64, 3, "same", False))
    print(f"Conv2d float32, {args.threads} thread(s), median of {args.runs} runs")
    header = f"{'case':<48} {'pass':<16} {'tinyseq ms':>11} {'torch ms':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for label, shape, out_channels, kernel, padding, input_grad in cases:
        fns = _case(ts, torch, np, shape, out_channels, kernel, padding, input_grad)
        for name, pair in fns.items():
            times = interleaved_medians(pair, args.runs)
            if len(times) == 1:
                print(f"{label:<48} {name:<16} {times[0]:>11.1f} {'-':>10} {'-':>7}")
            else:
                ms, ref = times
                print(f"{label:<48} {name:<16} {ms:>11.1f} {ref:>10.1f} {ms / ref:>6.2f}x")


if __name__ == "__main__":
    main()
