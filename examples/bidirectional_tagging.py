"""Sequence labelling where the future matters: a unidirectional LSTM against a bidirectional one.

The task (generated): a sequence of random symbols from an alphabet of
--symbols, of random length between --min-len and --max-len. Each token is
tagged 1 if the same symbol appears again *later* in the sequence, else 0:

    symbols   c  a  f  a  c  b
    tags      1  1  0  0  0  0

A unidirectional LSTM reads left to right, so at token t it has seen nothing
of what follows; the best it can do is guess from how far into the sequence it
is. A bidirectional LSTM also runs right to left, so its reverse direction can
keep a record of the symbols still to come.

The batches hold sequences of different lengths: ``ts.data.pad_sequences``
pads them and returns their lengths, the LSTM gets ``lengths=`` (so the reverse
direction starts at each sequence's own last token, and padding never leaks
into a state), and the padded positions carry the label -100, which
``cross_entropy(..., ignore_index=-100)`` leaves out of the loss (and the
accuracy leaves out of the count).

Writes to --out: accuracy.png (test accuracy during training, and by the number
of tokens that follow), results.md (the accuracy table), results.json.

    python examples/bidirectional_tagging.py                  # 1500 steps per model, about 30 seconds
    python examples/bidirectional_tagging.py --symbols 8 --max-len 60
"""

from __future__ import annotations

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

IGNORE = -100  # label of padded positions


def parse_args(argv=None):
    p = _common.parser("bidirectional_tagging", __doc__)
    p.add_argument("--steps", type=int, default=1500, help="training steps per model (default 1500)")
    p.add_argument("--batch", type=int, default=32, help="sequences per step (default 32)")
    p.add_argument("--symbols", type=int, default=16, help="alphabet size (default 16)")
    p.add_argument("--min-len", type=int, default=5, help="shortest sequence (default 5)")
    p.add_argument("--max-len", type=int, default=40, help="longest sequence (default 40)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM hidden size, per direction (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--test-size", type=int, default=1000, help="test sequences (default 1000)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.hidden, args.max_len, args.test_size = 10, 8, 12, 64
    return args


def make_sequences(rng: np.random.Generator, n: int, args) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (symbols, tags) pairs; tags[t] = 1 when symbols[t] occurs again after t."""
    out = []
    for _ in range(n):
        s = rng.integers(0, args.symbols, rng.integers(args.min_len, args.max_len + 1))
        seen_later = np.zeros(args.symbols, dtype=bool)
        tags = np.zeros(len(s), dtype=np.int64)
        for t in range(len(s) - 1, -1, -1):  # right to left: what comes later is known
            tags[t] = seen_later[s[t]]
            seen_later[s[t]] = True
        out.append((s, tags))
    return out


def collate(pairs, device):
    """Pad a list of (symbols, tags) -> symbols (T, B), tags (T, B) with IGNORE past each end, lengths (B,)."""
    symbols, lengths = ts.data.pad_sequences([ts.tensor(s, device=device) for s, _ in pairs])
    tags, _ = ts.data.pad_sequences([ts.tensor(t, device=device) for _, t in pairs], padding_value=IGNORE)
    return symbols, tags, lengths


class Tagger(ts.nn.Module):
    """symbols (T, B) with lengths (B,) -> logits (T, B, 2)."""

    def __init__(self, symbols: int, hidden: int, bidirectional: bool):
        super().__init__()
        self.embed = ts.nn.Embedding(symbols, 16)
        self.lstm = ts.nn.LSTM(16, hidden, bidirectional=bidirectional)
        self.head = ts.nn.Linear(hidden * (2 if bidirectional else 1), 2)

    def forward(self, symbols, lengths):
        out, _ = self.lstm(self.embed(symbols), lengths=lengths)
        return self.head(out)


def evaluate(model, test) -> tuple[float, np.ndarray, np.ndarray]:
    """(accuracy over real tokens, predictions (T, B), tags (T, B)) on the padded test batch."""
    symbols, tags, lengths = test
    model.eval()
    with ts.no_grad():
        pred = ts.argmax(model(symbols, lengths), dim=-1).numpy()
    model.train()
    tags = tags.numpy()
    real = tags != IGNORE
    return float((pred == tags)[real].mean()), pred, tags


def train(name, bidirectional, args, test, bar):
    ts.manual_seed(args.seed)
    rng = np.random.default_rng([args.seed, 1])  # the same training sequences for both models
    model = Tagger(args.symbols, args.hidden, bidirectional).to(args.device)
    opt = ts.optim.Adam(model.parameters(), lr=args.lr)
    curve = []
    every = max(1, args.steps // 20)
    for step in range(1, args.steps + 1):
        symbols, tags, lengths = collate(make_sequences(rng, args.batch, args), args.device)
        logits = model(symbols, lengths)
        loss = F.cross_entropy(logits.reshape(-1, 2), tags.reshape(-1), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        bar.update(loss=loss.item(), model=name)
        if step % every == 0 or step == args.steps:
            curve.append((step, evaluate(model, test)[0]))
    return model, curve, loss.item()


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    test_pairs = make_sequences(np.random.default_rng([args.seed, 2]), args.test_size, args)
    test = collate(test_pairs, args.device)
    all_tags = np.concatenate([t for _, t in test_pairs])
    majority = max(all_tags.mean(), 1 - all_tags.mean())
    print(f"test set: {len(test_pairs)} sequences, {len(all_tags)} tokens, {all_tags.mean():.1%} tagged 1; "
          f"always guessing the commoner tag scores {majority:.1%}")  # fmt: skip

    runs = {}
    bar = _common.Progress(2 * args.steps, "tagging")
    for name, bidirectional in (("LSTM", False), ("BiLSTM", True)):
        model, curve, last_loss = train(name, bidirectional, args, test, bar)
        acc, pred, tags = evaluate(model, test)
        n_params = sum(p.numel() for p in model.parameters())
        runs[name] = {"accuracy": acc, "curve": curve, "pred": pred, "parameters": n_params, "final_loss": last_loss}
        bar.write(f"{name}: test accuracy {acc:.2%} ({n_params:,} parameters)")
    bar.close()

    rows = [["always the commoner tag", f"{majority:.2%}", "-"]]
    rows += [[f"{n} ({'bi' if n == 'BiLSTM' else 'uni'}directional, hidden {args.hidden})", f"{r['accuracy']:.2%}",
              f"{r['parameters']:,}"] for n, r in runs.items()]  # fmt: skip
    table = _common.markdown_table(["model", "test accuracy (real tokens)", "parameters"], rows)
    print(table)
    (out / "results.md").write_text(
        f"Tag = 'the symbol appears again later'; {args.symbols} symbols, lengths {args.min_len}-{args.max_len}, "
        f"{args.steps} steps of {args.batch}\n\n{table}\n"
    )
    picture = plot(runs, test, majority, args, out / "accuracy.png")
    return _common.save_results(out, {
        "majority_baseline": majority,
        "accuracy": {n: r["accuracy"] for n, r in runs.items()},
        "parameters": {n: r["parameters"] for n, r in runs.items()},
        "final_loss": runs["BiLSTM"]["final_loss"], "pictures": [picture],
    }, args)  # fmt: skip


def plot(runs, test, majority, args, path) -> str:
    plt = _common.pyplot()
    _, tags, lengths = test
    tags = tags.numpy()
    T = tags.shape[0]
    # tokens after position t in each sequence: lengths - 1 - t (negative in the padding)
    later = lengths.numpy()[None, :] - 1 - np.arange(T)[:, None]
    real = tags != IGNORE
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"LSTM": "tab:orange", "BiLSTM": "tab:blue"}
    for name, r in runs.items():
        steps, acc = zip(*r["curve"])
        ax1.plot(steps, [100 * a for a in acc], "o-", ms=3, color=colors[name], label=f"{name}: {r['accuracy']:.2%}")
        ks = np.arange(later[real].max() + 1)
        by_k = [100 * (r["pred"] == tags)[real & (later == k)].mean() for k in ks]
        ax2.plot(ks, by_k, "o-", ms=3, color=colors[name], label=name)
    ks = np.arange(later[real].max() + 1)
    ax2.plot(ks, [100 * max(m := tags[real & (later == k)].mean(), 1 - m) for k in ks], "k--", lw=1,
             label="the commoner tag at that distance\n(a guess that needs the length)")  # fmt: skip
    ax1.axhline(100 * majority, color="k", ls=":", label=f"always the commoner tag: {majority:.2%}")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("Test accuracy during training")
    ax2.set_xlabel("tokens that follow in the sequence")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_title("Accuracy by how much of the future there is")
    ax2.set_ylim(25, 103)  # room for the legend below the curves
    for ax, where in ((ax1, "center right"), (ax2, "lower right")):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc=where)
    fig.suptitle(f"Tag: does this symbol appear again later? ({args.symbols} symbols, lengths "
                 f"{args.min_len}-{args.max_len})")  # fmt: skip
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
