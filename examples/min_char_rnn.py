"""The lecture's character-level vanilla RNN, built from tensors and primitive ops only.

No nn.RNN, no Module: five plain tensors that require grad,

    Wxh (hidden, vocab)   Whh (hidden, hidden)   Why (vocab, hidden)   bh (hidden, 1)   by (vocab, 1)

and, at each step t, with x_t the one-hot column of the t-th character,

    h_t = tanh(Wxh @ x_t + Whh @ h_{t-1} + bh)
    y_t = Why @ h_t + by                       (scores for the next character)
    loss += -log softmax(y_t)[target_t]

over chunks of 25 characters. Backpropagation through time is not written by
hand: ``loss.backward()`` walks the unrolled graph. Then, as in the lecture,
gradients are clipped to [-5, 5] and Adagrad (lr 0.1) updates the weights; the
hidden state is carried from one chunk to the next (detached: truncated BPTT).

Every step runs inside ``with ts.viz.step(t):``, so ``ts.viz.draw(loss)`` draws
the graph unrolled in time (unrolled.png), one box per step.

The corpus is The Zen of Python (``import this``; decoded here without
printing), or any text file with --text. Writes to --out: loss.png (the
smoothed loss against iterations), unrolled.png/.svg (the graph of a few
steps), samples.txt, results.json.

    python examples/min_char_rnn.py                    # 10000 iterations, about 1 minute
    python examples/min_char_rnn.py --text input.txt --steps 100000
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts


def zen_of_python() -> str:
    """The Zen of Python. ``import this`` prints it; the module keeps it rot13-encoded in ``this.s``."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def parse_args(argv=None):
    p = _common.parser("min_char_rnn", __doc__)
    p.add_argument("--steps", type=int, default=10000, help="training iterations, 25 characters each (default 10000)")
    p.add_argument("--hidden", type=int, default=100, help="hidden size (default 100)")
    p.add_argument("--seq", type=int, default=25, help="characters per chunk: steps BPTT goes back (default 25)")
    p.add_argument("--lr", type=float, default=0.1, help="Adagrad learning rate (default 0.1)")
    p.add_argument("--sample-every", type=int, default=1000, help="print a sample every this many iterations")
    p.add_argument("--text", help="train on this text file instead of the Zen of Python")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.hidden, args.sample_every = 60, 16, 30
    return args


class CharRNN:
    """The five weight tensors of the lecture's RNN, and one step of it."""

    def __init__(self, vocab: int, hidden: int, device):
        def weight(*shape, scale=0.01):
            return (ts.randn(*shape, device=device) * scale).requires_grad_()

        self.Wxh = weight(hidden, vocab)  # input -> hidden
        self.Whh = weight(hidden, hidden)  # hidden -> hidden
        self.Why = weight(vocab, hidden)  # hidden -> output
        self.bh = ts.zeros(hidden, 1, device=device, requires_grad=True)
        self.by = ts.zeros(vocab, 1, device=device, requires_grad=True)

    def parameters(self) -> list:
        return [self.Wxh, self.Whh, self.Why, self.bh, self.by]

    def named(self) -> dict:
        return dict(zip(("Wxh", "Whh", "Why", "bh", "by"), self.parameters()))

    def step(self, x, h):
        """x: (vocab, 1) one-hot column; h: (hidden, 1) -> (scores (vocab, 1), new h (hidden, 1))."""
        h = ts.tanh(self.Wxh @ x + self.Whh @ h + self.bh)
        return self.Why @ h + self.by, h


def chunk_loss(model: CharRNN, inputs, targets, h, vocab: int):
    """Summed cross-entropy of one chunk -> (loss, last hidden state).

    inputs, targets: (L,) character ids; h: (hidden, 1), the state the chunk starts from."""
    onehots = ts.nn.functional.one_hot(inputs, vocab).to(dtype=ts.float32)  # (L, vocab)
    loss = 0.0
    for t in range(inputs.shape[0]):
        with ts.viz.step(t):
            y, h = model.step(onehots[t].reshape(vocab, 1), h)
            log_p = ts.log_softmax(y, dim=0)
            loss = loss - log_p[int(targets[t].item()), 0]
    return loss, h


@ts.no_grad()
def sample(model: CharRNN, h, first: int, n: int, vocab: int, rng: np.random.Generator) -> list[int]:
    """n character ids drawn one at a time from the model, starting after character ``first``."""
    device = h.device
    ids, x = [], first
    for _ in range(n):
        onehot = ts.zeros(vocab, 1, device=device)
        onehot[x, 0] = 1.0
        y, h = model.step(onehot, h)
        p = ts.softmax(y, dim=0).numpy().ravel().astype(np.float64)
        x = int(rng.choice(vocab, p=p / p.sum()))
        ids.append(x)
    return ids


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    text = open(args.text, encoding="utf-8").read() if args.text else zen_of_python()
    chars = sorted(set(text))
    V, H, L = len(chars), args.hidden, args.seq
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], dtype=np.int64)
    decode = lambda ids: "".join(chars[i] for i in ids)
    print(f"corpus: {len(text)} characters, {V} distinct; hidden {H}, {L} steps per chunk")

    model = CharRNN(V, H, args.device)
    # ts.optim.Adagrad is PyTorch's: x -= lr * g / (sqrt(sum g^2) + eps). The
    # lecture's code puts eps inside the square root, sqrt(sum g^2 + 1e-8); the
    # two differ only where the accumulated squared gradient is below ~1e-8.
    opt = ts.optim.Adagrad(model.parameters(), lr=args.lr, eps=1e-8)
    rng = _common.rng(args)

    smooth = L * math.log(V)  # the loss of uniform guessing over a chunk
    start_loss = smooth
    history, samples = [], []
    pos, h = 0, ts.zeros(H, 1, device=args.device)
    bar = _common.Progress(args.steps, "min-char-rnn")
    for it in range(args.steps):
        if pos + L + 1 > len(data):  # back to the start of the text, with a fresh memory
            pos, h = 0, ts.zeros(H, 1, device=args.device)
        chunk = ts.tensor(data[pos : pos + L + 1], device=args.device)
        if it % args.sample_every == 0:
            text_sample = decode(sample(model, h, int(data[pos]), 200, V, rng))
            samples.append((it, text_sample))
            bar.write(f"----- iteration {it}, smooth loss {smooth:.2f}\n{text_sample}\n-----")

        loss, h = chunk_loss(model, chunk[:-1], chunk[1:], h, V)
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_value_(model.parameters(), 5.0)  # against exploding gradients
        opt.step()
        h = h.detach()  # keep the state, cut the graph: truncated BPTT

        value = loss.item()
        smooth = 0.999 * smooth + 0.001 * value
        history.append((value, smooth))
        pos += L
        bar.update(loss=smooth)
    seconds = bar.close()

    final_sample = decode(sample(model, h, int(data[pos % len(data)]), 400, V, rng))
    samples.append((args.steps, final_sample))
    print(f"----- after {args.steps} iterations, smooth loss {smooth:.2f} (started at {start_loss:.2f})")
    print(final_sample)
    with open(out / "samples.txt", "w", encoding="utf-8") as f:
        for it, s in samples:
            f.write(f"----- iteration {it}\n{s}\n")

    pictures = [plot_loss(history, start_loss, out / "loss.png", L)]
    pictures += draw_unrolled(model, data, V, H, args.device, out / "unrolled")
    return _common.save_results(out, {
        "iterations": args.steps, "vocab": V, "hidden": H, "seconds": seconds,
        "start_loss": start_loss, "final_smooth_loss": smooth, "final_loss": history[-1][0] if history else None,
        "final_bits_per_char": smooth / L / math.log(2), "pictures": pictures,
    }, args)  # fmt: skip


def plot_loss(history, start_loss, path, L) -> str:
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    raw, smooth = np.array(history).T if history else ([], [])
    steps = np.arange(1, len(raw) + 1)
    ax.plot(steps, raw, color="tab:blue", alpha=0.2, lw=0.5, label="loss of each chunk")
    ax.plot(steps, smooth, color="tab:blue", label="smoothed loss (0.999 running average)")
    ax.axhline(start_loss, color="grey", ls="--", label=f"uniform guess: {L}·ln V = {start_loss:.1f}")
    ax.set_xlabel(f"iteration (one chunk of {L} characters)")
    ax.set_ylabel(f"cross-entropy summed over {L} characters (nats)")
    ax.set_title("Vanilla RNN language model (tensors + autograd, Adagrad)")
    ax.set_ylim(0, 1.2 * start_loss)  # a few early chunks score higher still: off the top
    ax.grid(alpha=0.3)
    ax.legend()
    return _common.save_figure(fig, path)


def draw_unrolled(model, data, V, H, device, stem) -> list[str]:
    """The graph of a 4-step chunk, one cluster per ts.viz.step(t): the weights are shared by every step."""
    chunk = ts.tensor(data[:5], device=device)
    loss, _ = chunk_loss(model, chunk[:-1], chunk[1:], ts.zeros(H, 1, device=device), V)
    graph = ts.viz.draw(loss, params=model.named(), max_steps=4)
    written = []
    for fmt in ("svg", "png"):
        written.append(graph.render(outfile=f"{stem}.{fmt}", cleanup=True))
        print(f"  wrote {written[-1]}")
    return written


if __name__ == "__main__":
    main()
