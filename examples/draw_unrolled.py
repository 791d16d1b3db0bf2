"""Draw recurrent networks unrolled in time, and how gradients flow back through them.

Writes, to --out (default runs/draw_unrolled/), an SVG and a PNG of each of

    rnn_{cell,op}        vanilla RNN, 4 steps
    lstm_{cell,op}       LSTM, 4 steps (op: each step as its gate equations)
    gru_{cell,op}        GRU, 4 steps
    lstm2bi_{cell,op}    2-layer bidirectional LSTM, 4 steps
    convlstm_{cell,op}   ConvLSTM on 8x8 frames, 4 steps
    rnn_long_grad        a vanilla RNN over a long sequence, steps coloured by gradient norm
    lstm_backward        the backward pass of the LSTM (gradient flow, edges reversed)

and gradient_flow.png: |dL/dh_t| against t for a vanilla RNN and an LSTM on a
long sequence (T=100) whose loss reads only the last state. The RNN's
gradient vanishes geometrically going back in time; the LSTM's cell state
carries it much further.

With --html it writes instead vanishing_gradient.html, an interactive page
(ts.viz.html) of a vanilla RNN and an LSTM over T=50 steps (--html-steps)
whose loss reads only the last state: hover a step for its values and
gradient, switch to "backward" and press play to watch the gradient wave run
from the last step to the first, fading in the RNN and lasting in the LSTM.

With --readme DIR it writes instead the drawings that the README shows
(README_DRAWINGS below, each the README's own snippet), as PNGs; the tests
run it and check that each renders in under 2 seconds.

    python examples/draw_unrolled.py                 # everything, CPU
    python examples/draw_unrolled.py --device cuda   # same, on the GPU
    python examples/draw_unrolled.py --smoke         # tiny and fast
    python examples/draw_unrolled.py --readme docs   # the README's pictures
    python examples/draw_unrolled.py --html          # the interactive RNN-against-LSTM page
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import tinyseq as ts


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/draw_unrolled", help="output folder")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=4, help="time steps of the unrolled drawings")
    p.add_argument("--long", type=int, default=100, help="sequence length of the gradient-flow comparison")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, SVG only, for a quick check")
    p.add_argument("--html", action="store_true", help="write the interactive vanishing-gradient page only")
    p.add_argument("--html-steps", type=int, default=50, help="sequence length of the interactive page")
    p.add_argument("--readme", metavar="DIR", default=None, help="write the README's drawings (PNG) to DIR")
    return p.parse_args(argv)


def recurrent(kind, args, **kw):
    """(model, input) for ts.nn.<kind>, small enough to read when drawn."""
    cls = getattr(ts.nn, kind)
    if kind.startswith("Conv"):
        size = 4 if args.smoke else 8
        model = cls(2, 3, 3, **kw)
        x = ts.randn(args.steps, 1, 2, size, size, device=args.device)
    else:
        model = cls(3, 4, **kw)
        x = ts.randn(args.steps, 2, 3, device=args.device)
    return model.to(args.device), x


def save(graph, path: Path, formats) -> list[str]:
    return [graph.render(outfile=path.with_suffix("." + fmt), cleanup=True) for fmt in formats]


def draw_models(args, out: Path, formats) -> list[str]:
    written = []
    models = [
        ("rnn", "RNN", {}),
        ("lstm", "LSTM", {}),
        ("gru", "GRU", {}),
        ("lstm2bi", "LSTM", {"num_layers": 2, "bidirectional": True}),
    ]
    if hasattr(ts.nn, "ConvLSTM"):
        models.append(("convlstm", "ConvLSTM", {}))
    for name, kind, kw in models:
        for detail in ("cell", "op"):
            model, x = recurrent(kind, args, **kw)
            output = model(x)[0]
            written += save(ts.viz.draw(output, detail=detail), out / f"{name}_{detail}", formats)
    # A long sequence: the middle is elided, steps are coloured by the gradient into them.
    model, _ = recurrent("RNN", args)
    x = ts.randn(10 if args.smoke else 40, 2, 3, device=args.device)
    output = model(x)[0]
    loss = (output[-1] ** 2).sum()  # only the last step is read: watch the gradient fade
    written += save(ts.viz.draw(loss, show_grad=True), out / "rnn_long_grad", formats)
    model, x = recurrent("LSTM", args)
    loss = (model(x)[0] ** 2).mean()
    written += save(ts.viz.draw(loss, direction="backward"), out / "lstm_backward", formats)
    return written


def gradient_flow(args, out: Path) -> tuple[str, dict]:
    """Plot |dL/dh_t| for an RNN and an LSTM reading one long sequence; loss on the last state."""
    T, hidden = (20, 8) if args.smoke else (args.long, 32)
    x = ts.randn(T, 4, 8, device=args.device)
    losses = {}
    for kind in ("RNN", "LSTM"):
        model = getattr(ts.nn, kind)(8, hidden).to(args.device)
        if kind == "LSTM":
            # Forget-gate bias 1 (Jozefowicz et al., 2015): the cell starts out remembering.
            b = model.bias_hh_l0.data
            b[hidden : 2 * hidden] = b[hidden : 2 * hidden] + 1.0
        output, _ = model(x)
        losses[f"{kind} (hidden {hidden})"] = (output[-1] ** 2).sum()
    norms = {name: ts.viz.gradient_norms(loss) for name, loss in losses.items()}
    fig = ts.viz.plot_gradient_flow(norms, title=f"Gradient reaching h_t from a loss at t={T - 1}")
    path = out / "gradient_flow.png"
    fig.savefig(path, dpi=120)
    return str(path), {name: n[(0, 0)] for name, n in norms.items()}


def vanishing_page(args, out: Path) -> str:
    """An RNN and an LSTM over one sequence, loss on the last state, on one interactive page."""
    T = 10 if args.smoke else args.html_steps
    x = ts.randn(T, 2, 3, device=args.device)
    losses = {}
    for kind in ("RNN", "LSTM"):
        model = getattr(ts.nn, kind)(3, 8).to(args.device)
        if kind == "LSTM":  # forget-gate bias 1, as in gradient_flow()
            b = model.bias_hh_l0.data
            b[8:16] = b[8:16] + 1.0
        output, _ = model(x)
        losses[f"{kind}, loss on h at t={T - 1}"] = (output[-1] ** 2).sum()
    page = ts.viz.html(losses, max_steps=T, title=f"Vanishing gradients: RNN against LSTM, T={T}")
    return page.save(out / "vanishing_gradient.html")


# -- the README's drawings: each function is the README's snippet, returning the graph --
def readme_lstm():
    """The first snippet: a 2-layer bidirectional LSTM over 20 steps, variable lengths, 4 steps drawn."""
    lstm = ts.nn.LSTM(input_size=8, hidden_size=32, num_layers=2, bidirectional=True)
    x = ts.randn(20, 4, 8)
    out, (h_n, c_n) = lstm(x, lengths=[20, 17, 9, 3])
    return ts.viz.draw(out.sum(), max_steps=4)


def readme_bilstm():
    out, _ = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3))
    return ts.viz.draw(out.sum())


def readme_lstm_gates():
    out, _ = ts.nn.LSTM(3, 4)(ts.randn(3, 2, 3))
    return ts.viz.draw(out.sum(), detail="op")


def readme_gru_gates():
    out, _ = ts.nn.GRU(3, 4)(ts.randn(2, 2, 3))
    return ts.viz.draw(out.sum(), detail="op")


def readme_rnn_gradient():
    out, _ = ts.nn.RNN(3, 4)(ts.randn(10, 2, 3))
    loss = (out[-1] ** 2).sum()  # only the last step is read: the gradient fades going back
    return ts.viz.draw(loss, show_grad=True, max_steps=10)


def readme_convlstm():
    out, _ = ts.nn.ConvLSTM(2, 3, 3, bidirectional=True)(ts.randn(4, 1, 2, 8, 8))
    return ts.viz.draw(out.sum())


README_DRAWINGS = {
    "lstm_unrolled": readme_lstm,
    "bilstm": readme_bilstm,
    "lstm_gates": readme_lstm_gates,
    "gru_gates": readme_gru_gates,
    "rnn_gradient": readme_rnn_gradient,
    "convlstm": readme_convlstm,
}


def readme_drawings(folder: Path) -> dict:
    """Write README_DRAWINGS as PNGs to ``folder``; returns {name: seconds to draw and render}."""
    folder.mkdir(parents=True, exist_ok=True)
    times = {}
    for name, make in README_DRAWINGS.items():
        ts.manual_seed(0)
        start = time.perf_counter()
        make().render(outfile=folder / f"{name}.png", cleanup=True)
        times[name] = time.perf_counter() - start
    return times


def main(argv=None) -> list[str]:
    args = parse_args(argv)
    if args.readme:
        times = readme_drawings(Path(args.readme))
        for name, sec in times.items():
            print(f"{args.readme}/{name}.png  {sec:.2f} s")
        return [str(Path(args.readme) / f"{name}.png") for name in times]
    if args.smoke:
        args.steps = min(args.steps, 2)
    ts.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.html:
        path = vanishing_page(args, out)
        print(f"wrote {path}: open it in a browser")
        return [path]
    formats = ("svg",) if args.smoke else ("svg", "png")
    start = time.perf_counter()
    written = draw_models(args, out, formats)
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("matplotlib is not installed: skipping gradient_flow.png (pip install matplotlib)", file=sys.stderr)
    else:
        path, norms = gradient_flow(args, out)
        written.append(path)
        for name, n in norms.items():
            print(f"{name:>20}: |dL/dh_t| at t=0 {n[0]:.2e}, at t={len(n) - 1} {n[-1]:.2e}")
    print(f"wrote {len(written)} files to {out}/ in {time.perf_counter() - start:.1f} s")
    return written


if __name__ == "__main__":
    main()
