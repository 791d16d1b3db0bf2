"""Translation in miniature: an encoder-decoder LSTM with attention turns number words into digits.

The task (generated): an integer below --max-number written in English words,
translated into its decimal digits:

    source   four hundred thousand twenty one     (6 words)
    target   4 0 0 0 2 1 <end>                    (7 tokens)

up to twelve digits ("nine hundred ninety nine billion ... ninety nine",
up to 24 words).

Source and target differ in length and order ("twenty one" is two words for
two digits, "thousand" is a word for no digit, zeros appear from nowhere), so
the model must read the whole sentence before it writes, as in machine
translation:

    encoder    Embedding -> bidirectional LSTM over the source words; the
               batches are padded and packed with PyTorch's
               ``pack_padded_sequence``, so each direction stops at its
               sentence's own end
    decoder    an LSTMCell that writes one digit per step, fed the previous
               digit (the true one while training: teacher forcing) and the
               previous attention context
    attention  at each output step, scores of the decoder state against every
               encoder output (``ts.bmm``), padding masked out
               (``masked_fill``), a softmax over the source words, and their
               weighted sum as the context (Luong et al., 2015)

``--no-attention`` keeps only the encoder's final state as the bridge (the
classic sequence-to-sequence model): one vector must hold the whole number.
Scored by exact-match accuracy of greedy decoding on unseen test numbers.

Writes to --out: attention.png (where the decoder looked for each digit of a
few test sentences), training.png, results.json.

    python examples/seq2seq_number_words.py                 # 2000 steps, about 3 minutes of CPU
    python examples/seq2seq_number_words.py --no-attention
"""

from __future__ import annotations

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F
from tinyseq.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ONES = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = [(10**9, "billion"), (10**6, "million"), (10**3, "thousand")]
WORDS = ["<pad>"] + ONES + TEENS + TENS[2:] + ["hundred"] + [name for _, name in SCALES]
DIGITS = list("0123456789") + ["<end>", "<start>"]
END, START, IGNORE = 10, 11, -100


def parse_args(argv=None):
    p = _common.parser("seq2seq_number_words", __doc__)
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument("--batch", type=int, default=64, help="sentences per step (default 64)")
    p.add_argument("--max-number", type=int, default=10**12, help="numbers are below this (default 10**12)")
    p.add_argument("--hidden", type=int, default=64, help="encoder LSTM size per direction (default 64)")
    p.add_argument("--embed", type=int, default=32, help="word and digit embedding size (default 32)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--no-attention", action="store_true", help="the classic encoder-decoder, without attention")
    p.add_argument("--test-size", type=int, default=1000, help="test numbers (default 1000)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.hidden, args.embed, args.test_size = 8, 8, 8, 8, 32
    return args


def words(n: int) -> list[str]:
    """English words for 0 <= n < 10**12 ("three hundred forty two thousand seven")."""
    if n == 0:
        return ["zero"]
    out = []
    for scale, name in SCALES:
        group, n = divmod(n, scale)
        if group:
            out += _below_thousand(group) + [name]
    return out + (_below_thousand(n) if n else [])


def _below_thousand(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    out = [ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        out.append(TENS[rest // 10])
        if rest % 10:
            out.append(ONES[rest % 10])
    elif rest >= 10:
        out.append(TEENS[rest - 10])
    elif rest:
        out.append(ONES[rest])
    return out


def sample_numbers(rng: np.random.Generator, n: int, top: int) -> np.ndarray:
    """Numbers of every size alike: a uniform number of digits, then a uniform number of that many digits."""
    width = rng.integers(1, len(str(top - 1)) + 1, n)
    low = np.where(width == 1, 0, 10 ** (width - 1))
    return np.minimum(rng.integers(low, 10**width), top - 1)


def encode(numbers, device):
    """-> source ids (S, B) padded with 0, source lengths (B,), target ids (T, B) ending in END,
    padded with IGNORE, and the decoder inputs (T, B): START, then the target shifted."""
    src = [[WORDS.index(w) for w in words(int(n))] for n in numbers]
    tgt = [[int(d) for d in str(int(n))] + [END] for n in numbers]
    source, lengths = ts.data.pad_sequences([ts.tensor(s, device=device) for s in src])
    target, _ = ts.data.pad_sequences([ts.tensor(t, device=device) for t in tgt], padding_value=IGNORE)
    inputs = ts.cat([ts.full((1, len(numbers)), START, device=device), target[:-1]], dim=0)
    inputs = ts.where(inputs == IGNORE, ts.full(inputs.shape, END, device=device), inputs)  # any id: it is masked
    return source, lengths, target, inputs


class Translator(ts.nn.Module):
    """Bidirectional LSTM encoder, LSTMCell decoder with (optional) dot-product attention."""

    def __init__(self, embed: int, hidden: int, attention: bool):
        super().__init__()
        self.attention = attention
        H = 2 * hidden  # the decoder's size: both encoder directions side by side
        self.src_embed = ts.nn.Embedding(len(WORDS), embed, padding_idx=0)
        self.encoder = ts.nn.LSTM(embed, hidden, bidirectional=True)
        self.tgt_embed = ts.nn.Embedding(len(DIGITS), embed)
        self.decoder = ts.nn.LSTMCell(embed + H, H)
        self.out = ts.nn.Linear(2 * H, len(DIGITS))

    def encode(self, source, lengths):
        """-> encoder outputs (B, S, H), padding mask (B, 1, S), initial decoder state ((B, H), (B, H))."""
        packed = pack_padded_sequence(self.src_embed(source), lengths, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        memory = pad_packed_sequence(out, batch_first=True)[0]  # (B, S, H)
        S = memory.shape[1]
        pad = ts.arange(S, device=source.device)[None, None, :] >= lengths.to(source.device)[:, None, None]
        return memory, pad, (ts.cat([h[0], h[1]], dim=1), ts.cat([c[0], c[1]], dim=1))

    def step(self, y_prev, state, context, memory, pad):
        """One output step -> logits (B, V), new state, new context (B, H), attention weights (B, S)."""
        h, c = self.decoder(ts.cat([self.tgt_embed(y_prev), context], dim=1), state)
        if self.attention:
            scores = ts.bmm(memory, h.unsqueeze(2)).transpose(1, 2)  # (B, 1, S)
            weights = ts.softmax(scores.masked_fill(pad, float("-inf")), dim=2)
            context = ts.bmm(weights, memory).squeeze(1)  # (B, H)
            weights = weights.squeeze(1)
        else:
            weights = None
        return self.out(ts.cat([h, context], dim=1)), (h, c), context, weights

    def forward(self, source, lengths, inputs):
        """Teacher forcing: inputs (T, B) -> logits (T, B, V)."""
        memory, pad, state = self.encode(source, lengths)
        context = ts.zeros(memory.shape[0], memory.shape[2], device=memory.device, dtype=memory.dtype)
        logits = []
        for t in range(inputs.shape[0]):
            with ts.viz.step(t):  # ts.viz.draw then draws the decoder unrolled, one column per digit
                step_logits, state, context, _ = self.step(inputs[t], state, context, memory, pad)
            logits.append(step_logits)
        return ts.stack(logits)

    def translate(self, source, lengths, max_len: int):
        """Greedy decoding -> ids (max_len, B), attention weights (max_len, B, S) or None."""
        memory, pad, state = self.encode(source, lengths)
        B = memory.shape[0]
        context = ts.zeros(B, memory.shape[2], device=memory.device, dtype=memory.dtype)
        y = ts.full((B,), START, device=source.device)
        ids, looks = [], []
        for t in range(max_len):
            with ts.viz.step(t):
                logits, state, context, weights = self.step(y, state, context, memory, pad)
            y = logits.argmax(dim=1)
            ids.append(y)
            looks.append(weights)
        return ts.stack(ids), (ts.stack(looks) if self.attention else None)


def digits_of(ids: np.ndarray) -> list[str]:
    """Decoded ids (T, B) -> one string of digits per sentence, cut at its first END."""
    out = []
    for column in ids.T:
        text = ""
        for i in column:
            if i >= END:
                break
            text += str(int(i))
        out.append(text)
    return out


def main(argv=None):
    args = parse_args(argv)
    out = _common.setup(args)
    rng = _common.rng(args)
    test_numbers = sample_numbers(rng, args.test_size, args.max_number)
    test = encode(test_numbers, args.device)
    width = len(str(args.max_number - 1)) + 1

    model = Translator(args.embed, args.hidden, attention=not args.no_attention).to(args.device)
    opt = ts.optim.Adam(model.parameters(), lr=args.lr)
    sched = ts.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    kind = "attention" if model.attention else "no attention"
    print(f"numbers below {args.max_number:,}; {kind}; {sum(p.numel() for p in model.parameters()):,} parameters")

    def accuracy():
        model.eval()
        with ts.no_grad():
            ids, looks = model.translate(test[0], test[1], width)
        model.train()
        guesses = digits_of(ids.numpy())
        return float(np.mean([g == str(int(n)) for g, n in zip(guesses, test_numbers)])), guesses, looks

    curve, evals = [], []
    every = max(1, args.steps // 10)
    bar = _common.Progress(args.steps, "seq2seq")
    for step in range(1, args.steps + 1):
        source, lengths, target, inputs = encode(sample_numbers(rng, args.batch, args.max_number), args.device)
        logits = model(source, lengths, inputs)
        loss = F.cross_entropy(logits.reshape(-1, len(DIGITS)), target.reshape(-1), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        curve.append(loss.item())
        bar.update(loss=curve[-1])
        if step % every == 0 or step == args.steps:
            evals.append((step, accuracy()[0]))
            bar.write(f"step {step}: test exact-match accuracy {evals[-1][1]:.1%}")
    bar.close()

    acc, guesses, looks = accuracy()
    wrong = [(int(n), g) for n, g in zip(test_numbers, guesses) if g != str(int(n))]
    print(f"test exact-match accuracy ({kind}): {acc:.1%} of {len(test_numbers)} unseen numbers")
    for n, g in wrong[:5]:
        print(f"  {' '.join(words(n))!r}: wrote {g or '(nothing)'}, not {n}")
    pictures = [plot_training(curve, evals, out / "training.png")]
    if looks is not None:
        pictures.append(plot_attention(looks.numpy(), test_numbers, guesses, out / "attention.png"))
    return _common.save_results(out, {
        "accuracy": acc, "attention": model.attention, "final_loss": curve[-1],
        "examples_wrong": [f"{n} -> {g}" for n, g in wrong[:20]], "pictures": pictures,
    }, args)  # fmt: skip


def plot_attention(looks, numbers, guesses, path, n: int = 3) -> str:
    """For n test sentences: the attention weights of each written digit over the source words.
    Picked to show the alignment's kinds: the longest sentence, one whose digits include
    zeros that no word names, and one with a teen (one word for two digits)."""
    plt = _common.pyplot()
    sizes = [len(words(int(m))) for m in numbers]
    kinds = [
        lambda i: sizes[i] == max(sizes),
        lambda i: "0" in str(int(numbers[i])) and len(str(int(numbers[i]))) >= 7,
        lambda i: any(w in TEENS for w in words(int(numbers[i]))) and sizes[i] >= 6,
    ]
    picks = []
    for kind in kinds[:n]:
        found = [i for i in range(len(numbers)) if kind(i) and i not in picks]
        picks += found[:1]
    fig, axes = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 3.6), squeeze=False)
    for ax, i in zip(axes[0], picks):
        src = words(int(numbers[i]))
        out = list(guesses[i]) + ["<end>"]
        ax.imshow(looks[: len(out), i, : len(src)], cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(out)), out, fontsize=8)
        ax.set_title(f"{numbers[i]:,}", fontsize=9)
    fig.suptitle("attention: each written digit (rows) over the source words (columns)")
    return _common.save_figure(fig, path)


def plot_training(curve, evals, path) -> str:
    plt = _common.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(curve, lw=0.6)
    a.set_yscale("log")
    a.set_xlabel("step")
    a.set_ylabel("cross-entropy per digit")
    steps, accs = zip(*evals)
    b.plot(steps, [100 * x for x in accs], marker="o")
    b.set_xlabel("step")
    b.set_ylabel("test exact match (%)")
    b.set_ylim(0, 100)
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
