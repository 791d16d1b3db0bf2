"""Draw a standard recurrent model unrolled, without writing code.

    python -m tinyseq.viz lstm --layers 2 --bidirectional --steps 4 -o lstm.svg
    python -m tinyseq.viz gru --detail op --steps 3 -o gru.png
    python -m tinyseq.viz convlstm --steps 4 --show-grad -o convlstm.svg
    python -m tinyseq.viz lstm --layers 2 --bidirectional --steps 12 -o lstm.html

The output format follows the extension of ``-o`` (svg, png, pdf with a
system Graphviz, dot/gv for the DOT text, or html for the interactive page
of ``ts.viz.html``, with the cell, op and module layouts, ``--detail`` first),
or ``--format``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..backend import manual_seed
from ..factories import randn
from ..nn import GRU, LSTM, RNN, ConvGRU, ConvLSTM, ConvRNN
from .draw import draw
from .html import LEVELS, html

MODELS = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "convrnn": ConvRNN, "convlstm": ConvLSTM, "convgru": ConvGRU}
SOURCE_FORMATS = ("dot", "gv")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tinyseq.viz",
        description="Draw a recurrent model's computation graph, unrolled over time.",
    )
    p.add_argument("model", choices=sorted(MODELS), help="which layer to draw")
    p.add_argument("--layers", type=int, default=1, help="stacked layers (num_layers)")
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--steps", type=int, default=4, help="sequence length T")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--input", type=int, default=3, help="input size (input channels for conv models)")
    p.add_argument("--hidden", type=int, default=4, help="hidden size (hidden channels for conv models)")
    p.add_argument("--kernel", type=int, default=3, help="kernel size of conv models")
    p.add_argument("--size", type=int, default=8, help="frame height and width of conv models")
    p.add_argument("--detail", choices=("cell", "op", "literal", "module"), default="cell")
    p.add_argument("--composed", action="store_true", help="run the composed path (fused=False) of RNN/LSTM/GRU")
    p.add_argument("--max-steps", type=int, default=None, help="elide the middle of longer sequences")
    p.add_argument("--show-grad", action="store_true", help="colour steps by gradient norm")
    p.add_argument("--backward", action="store_true", help="draw the backward pass (gradient flow)")
    p.add_argument("--rankdir", choices=("BT", "TB", "LR", "RL"), default="BT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=None, help="output file (default: MODEL.svg)")
    p.add_argument("--format", default=None, help="svg, png, pdf, dot, html ... (default: from -o)")
    args = p.parse_args(argv)
    for name in ("layers", "steps", "batch", "input", "hidden", "kernel", "size"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def build(args):
    """(model, input) for the chosen layer; input is (T, B, input) or (T, B, C, H, W)."""
    cls = MODELS[args.model]
    manual_seed(args.seed)
    if args.model.startswith("conv"):
        model = cls(args.input, args.hidden, args.kernel, num_layers=args.layers, bidirectional=args.bidirectional)
        x = randn(args.steps, args.batch, args.input, args.size, args.size)
    else:
        kwargs = {"fused": False} if args.composed else {}
        model = cls(args.input, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional, **kwargs)
        x = randn(args.steps, args.batch, args.input)
    return model, x


def main(argv=None) -> str:
    """Run the command line; returns the path written."""
    args = parse_args(argv)
    out = Path(args.output or f"{args.model}.svg")
    fmt = (args.format or out.suffix.lstrip(".") or "svg").lower()
    model, x = build(args)
    output = model(x)[0]
    if fmt == "html":
        path = out if out.suffix.lower() == ".html" else out.with_name(out.name + ".html")
        levels = (args.detail,) + tuple(d for d in LEVELS if d != args.detail)
        page = html(output, details=levels, max_steps=args.max_steps, rankdir=args.rankdir)
        return page.save(path)
    g = draw(
        output,
        detail=args.detail,
        max_steps=args.max_steps,
        show_grad=args.show_grad,
        direction="backward" if args.backward else "forward",
        rankdir=args.rankdir,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt in SOURCE_FORMATS:
        out.write_text(g.source, encoding="utf-8")
        return str(out)
    from .render import render_source

    path = out if out.suffix.lstrip(".").lower() == fmt else out.with_name(out.name + "." + fmt)
    render_source(g.source, path.with_suffix("") if path.suffix else path, fmt)
    return str(path)


if __name__ == "__main__":
    try:
        print(main())
    except RuntimeError as e:  # no renderer, or the renderer failed
        sys.exit(f"python -m tinyseq.viz: {e}")
