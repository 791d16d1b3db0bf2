"""Exploding gradients in truncated backpropagation through time, and what gradient clipping does about them.

A vanilla (tanh) RNN language model reads the Python standard library's source
one character at a time, trained with plain SGD and truncated BPTT: the text is
laid out as --batch parallel streams, cut into chunks of --seq characters, and
the hidden state is carried from one chunk to the next but detached, so each
backward pass reaches back --seq steps.

The gradient of a loss at step t with respect to the state k steps earlier is
a product of k Jacobians W_hh^T diag(1 - h^2). When the recurrent weights are
large (here their singular values start at --gain), that product can grow
exponentially with k: most of the time tanh's saturation keeps it in check,
but every so often the state crosses a region where it does not, and one
chunk's gradient is hundreds of times the usual (Pascanu et al., 2013, "On the
difficulty of training recurrent neural networks"). With plain SGD, that step
throws the weights far away: the loss jumps, and the run may never recover or
may overflow to NaN.

``ts.nn.utils.clip_grad_norm_(params, max_norm)`` rescales the whole gradient
to norm max_norm whenever it is larger, keeping its direction: the rare huge
gradient becomes an ordinary step. It returns the norm before clipping, which
is what the pictures plot.

The program trains the same model, from the same seed (the same initial
weights and the same chunks in the same order), without clipping and with
--clip, then sweeps the clip threshold.

Writes to --out: clipping.png (training loss and gradient norm per step, both
runs), sweep.png (validation loss and the number of clipped steps against the
threshold), results.md, results.json.

    python examples/exploding_gradients.py              # 6 runs of 600 steps, a couple of minutes on a CPU
    python examples/exploding_gradients.py --gain 1.2 --lr 0.3 --steps 1000
"""

from __future__ import annotations

import math

import _common  # before numpy: it sets the BLAS thread count
import numpy as np
from char_lstm import stdlib_source

import tinyseq as ts
import tinyseq.nn.functional as F


def parse_args(argv=None):
    p = _common.parser("exploding_gradients", __doc__)
    p.add_argument("--steps", type=int, default=600, help="SGD steps per run (default 600)")
    p.add_argument("--batch", type=int, default=32, help="parallel streams (default 32)")
    p.add_argument("--seq", type=int, default=100, help="characters per chunk: how far BPTT reaches (default 100)")
    p.add_argument("--hidden", type=int, default=128, help="RNN hidden size (default 128)")
    p.add_argument("--gain", type=float, default=1.0, help="recurrent weights start orthogonal x this (default 1)")
    p.add_argument("--lr", type=float, default=3.0, help="SGD learning rate (default 3.0)")
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm of the clipped run (default 1.0)")
    p.add_argument("--sweep", type=float, nargs="*", default=[0.25, 4.0, 16.0, 64.0],
                   help="further thresholds to try (the sweep also holds --clip and no clipping)")  # fmt: skip
    p.add_argument("--chars", type=int, default=300_000, help="characters of text (default 300,000)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.seq, args.hidden, args.chars, args.sweep = 6, 4, 10, 16, 20_000, [4.0]
    return args


class CharRNN(ts.nn.Module):
    """ids (T, B) -> logits (T, B, vocab), carrying the hidden state between calls."""

    def __init__(self, vocab: int, hidden: int, gain: float):
        super().__init__()
        self.embed = ts.nn.Embedding(vocab, 32)
        self.rnn = ts.nn.RNN(32, hidden)
        self.head = ts.nn.Linear(hidden, vocab)
        ts.nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=gain)  # every singular value = gain

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


@ts.no_grad()
def evaluate(model, stream, seq: int) -> float:
    """Mean cross-entropy (nats per character) over a batchified stream, state carried across chunks."""
    total, count, state = 0.0, 0, None
    for x, y in ts.data.bptt_chunks(stream, seq):
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    return total / count


def train(clip: float | None, train_stream, valid_stream, vocab: int, args, bar) -> dict:
    """One run from the seed: SGD with truncated BPTT, clipping the gradient norm to `clip` (None: never).
    Returns the per-step loss and gradient norm (before clipping), and the validation loss at the end."""
    ts.manual_seed(args.seed)  # the same initial weights for every run ...
    model = CharRNN(vocab, args.hidden, args.gain).to(args.device)
    opt = ts.optim.SGD(model.parameters(), lr=args.lr)
    losses, norms = [], []
    chunks = list(ts.data.bptt_chunks(train_stream, args.seq))  # ... and the same chunks in the same order
    state, diverged = None, None
    for step in range(args.steps):
        k = step % len(chunks)
        if k == 0:
            state = None  # a new pass over the text starts from a zero state
        x, y = chunks[k]
        logits, state = model(x, state)
        state = state.detach()  # truncate: the next chunk's backward stops here
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        norm = ts.nn.utils.clip_grad_norm_(model.parameters(), math.inf if clip is None else clip).item()
        losses.append(loss.item())
        norms.append(norm)
        bar.update(loss=losses[-1], clip=clip or "none")
        if not (math.isfinite(losses[-1]) and math.isfinite(norm)):
            diverged = step + 1
            bar.update(args.steps - step - 1)
            break
        opt.step()
    valid = evaluate(model, valid_stream, args.seq) if diverged is None else math.inf
    if not math.isfinite(valid):
        diverged = diverged or args.steps
    clipped = int(sum(n > clip for n in norms)) if clip is not None else 0
    return {"clip": clip, "loss": losses, "grad_norm": norms, "valid_loss": valid, "diverged_at": diverged,
            "clipped_steps": clipped, "final_loss": float(np.mean(losses[-20:]))}  # fmt: skip


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    text = stdlib_source(args.chars)
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.array([lookup[c] for c in text], dtype=np.int64)
    cut = int(0.9 * len(ids))
    train_stream = ts.data.batchify(ts.tensor(ids[:cut], device=args.device), args.batch)
    valid_stream = ts.data.batchify(ts.tensor(ids[cut:], device=args.device), args.batch)
    uniform = math.log(len(chars))
    print(f"{len(text):,} characters, {len(chars)} distinct (uniform guessing: {uniform:.2f} nats per character); "
          f"RNN {args.hidden}, W_hh orthogonal x {args.gain}, SGD lr {args.lr}, BPTT {args.seq}")  # fmt: skip

    thresholds = [None] + sorted({args.clip, *args.sweep})
    bar = _common.Progress(len(thresholds) * args.steps, "clipping sweep")
    runs = {}
    for clip in thresholds:
        runs[clip] = train(clip, train_stream, valid_stream, len(chars), args, bar)
        r = runs[clip]
        bar.write(f"clip {clip or 'none':>5}: validation loss {r['valid_loss']:.3f} nats/char, largest gradient norm "
                  f"{max(r['grad_norm']):.3g}, {r['clipped_steps']} steps clipped"
                  + (f", diverged at step {r['diverged_at']}" if r["diverged_at"] else ""))  # fmt: skip
    bar.close()

    rows = []
    for clip, r in runs.items():
        g = np.array(r["grad_norm"])
        valid = "diverged" if r["diverged_at"] else f"{r['valid_loss']:.3f}"
        rows.append(["none" if clip is None else f"{clip:g}", valid, f"{np.median(g):.3g}", f"{g.max():.3g}",
                     r["clipped_steps"], r["diverged_at"] or "-"])  # fmt: skip
    table = _common.markdown_table(["max grad norm", "validation loss (nats/char)", "median grad norm",
                                    "largest grad norm", "steps clipped", "diverged at step"], rows)  # fmt: skip
    print(table)
    (out / "results.md").write_text(f"Vanilla RNN, SGD lr {args.lr}, gain {args.gain}, BPTT {args.seq}, "
                                    f"{args.steps} steps\n\n{table}\n")  # fmt: skip
    pictures = [plot_runs(runs[None], runs[args.clip], args, out / "clipping.png"),
                plot_sweep(runs, uniform, args, out / "sweep.png")]  # fmt: skip
    return _common.save_results(out, {
        "runs": {("none" if c is None else str(c)): {k: v for k, v in r.items() if k not in ("loss", "grad_norm")}
                 | {"largest_grad_norm": max(r["grad_norm"]), "median_grad_norm": float(np.median(r["grad_norm"]))}
                 for c, r in runs.items()},
        "uniform_loss": uniform, "final_loss": runs[args.clip]["final_loss"], "pictures": pictures,
    }, args)  # fmt: skip


def plot_runs(free, clipped, args, path) -> str:
    plt = _common.pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for r, color, label in ((free, "tab:red", "no clipping"), (clipped, "tab:blue", f"clipped to norm {args.clip:g}")):
        steps = np.arange(1, len(r["loss"]) + 1)
        loss = np.where(np.isfinite(r["loss"]), r["loss"], np.nan)
        ax1.plot(steps, loss, lw=0.9, color=color, label=label)
        ax2.plot(steps, r["grad_norm"], lw=0.9, color=color, label=f"{label}: norm before clipping")
        if r["diverged_at"]:
            ax1.axvline(r["diverged_at"], color=color, ls=":", label=f"{label}: NaN at step {r['diverged_at']}")
    ax2.axhline(args.clip, color="k", ls="--", lw=1, label=f"clip threshold {args.clip:g}")
    ax1.set_ylabel("training loss (nats per character)")
    ax1.set_title(f"Vanilla RNN language model, SGD (lr {args.lr}), truncated BPTT over {args.seq} characters, "
                  f"the same seed", fontsize=10)  # fmt: skip
    ax2.set_yscale("log")
    ax2.set_ylabel("gradient norm (log scale)")
    ax2.set_xlabel("training step")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return _common.save_figure(fig, path)


def plot_sweep(runs, uniform, args, path) -> str:
    plt = _common.pyplot()
    clips = [c for c in runs if c is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    vals = [runs[c]["valid_loss"] for c in clips]
    finite = [v if math.isfinite(v) else np.nan for v in vals]
    ax1.plot(clips, finite, "o-", label="clipped to this norm")
    for c, v in zip(clips, vals):
        if not math.isfinite(v):
            ax1.annotate("diverged", (c, uniform), ha="center", color="tab:red", fontsize=8)
    free = runs[None]["valid_loss"]
    if math.isfinite(free):
        ax1.axhline(free, color="tab:red", ls="--", label=f"no clipping: {free:.3f}")
    else:
        ax1.axhline(uniform, color="tab:red", ls="--", label="no clipping: diverged")
    ax1.axhline(uniform, color="k", ls=":", label=f"uniform guessing: {uniform:.2f}")
    ax1.set_xscale("log")
    ax1.set_xlabel("clip threshold (max gradient norm, log scale)")
    ax1.set_ylabel(f"validation loss after {args.steps} steps (nats/char)")
    ax1.set_title("Validation loss against the threshold")
    ax2.bar([f"{c:g}" for c in clips], [100 * runs[c]["clipped_steps"] / len(runs[c]["grad_norm"]) for c in clips])
    ax2.set_xlabel("clip threshold")
    ax2.set_ylabel("steps whose gradient was clipped (%)")
    ax2.set_title("How often the threshold bites")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
