"""One input, many outputs: captioning generated scenes with a CNN encoder and an LSTM decoder.

The scenes are generated here: a --size x --size colour image holding one or
two shapes (square, circle, triangle, cross) in one of four colours, each in
one quadrant, at a random place and size inside it. Every scene has exactly
one right caption, its objects named in reading order (top row first, then
left to right):

    "a red circle at top left and a blue cross at bottom right"

The model (Vinyals et al., 2015, "Show and tell", in miniature):

    encoder   two Conv2d -> ReLU -> MaxPool2d stages and a Linear layer turn
              the image into the decoder's initial state (h_0, c_0)
    decoder   Embedding -> LSTM -> Linear over the words; trained with teacher
              forcing (it reads the true caption shifted by one word and
              predicts the next word at every step)

At test time the decoder writes the caption itself, one word at a time, fed
its own last word, until it writes <end>: greedily (the likeliest word each
step) or by beam search (the --beam likeliest partial captions are kept at
every step, scored by their summed log-probability).

Scored by exact match (the whole caption right) and corpus BLEU-4 on unseen
scenes, against two baselines: the commonest training caption, and the caption
of the training scene nearest in pixels.

Writes to --out: captions.png (test scenes with their generated captions),
training.png (loss and test exact match during training), results.json.

    python examples/image_captioning.py                 # 3000 steps, about a minute on a CPU
    python examples/image_captioning.py --beam 5 --steps 3000
"""

from __future__ import annotations

import math
from collections import Counter

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

COLORS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.75, 0.1), "blue": (0.15, 0.3, 1.0), "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("square", "circle", "triangle", "cross")
PLACES = ("top left", "top right", "bottom left", "bottom right")  # quadrants, in reading order
PAD, START, END = "<pad>", "<start>", "<end>"
VOCAB = [PAD, START, END, "a", "at", "and", *COLORS, *SHAPES, "top", "bottom", "left", "right"]
WORD = {w: i for i, w in enumerate(VOCAB)}
IGNORE = -100


def parse_args(argv=None):
    p = _common.parser("image_captioning", __doc__)
    p.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    p.add_argument("--batch", type=int, default=32, help="scenes per step (default 32)")
    p.add_argument("--size", type=int, default=24, help="image height and width, a multiple of 4 (default 24)")
    p.add_argument("--hidden", type=int, default=64, help="decoder LSTM size (default 64)")
    p.add_argument("--beam", type=int, default=3, help="beam width (default 3)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--train-size", type=int, default=4000, help="training scenes (default 4000)")
    p.add_argument("--test-size", type=int, default=500, help="test scenes (default 500)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.size, args.hidden, args.train_size, args.test_size = 6, 8, 12, 8, 40, 8
    if args.size % 4 or args.size < 12:
        raise SystemExit(f"--size must be a multiple of 4, at least 12 (got {args.size})")
    return args


def draw_shape(canvas: np.ndarray, shape: str, color, y: int, x: int, s: int) -> None:
    """Paint a shape of side s with its top-left corner at (y, x) into canvas (3, H, W), in place."""
    yy, xx = np.mgrid[0:s, 0:s] + 0.5
    c = s / 2
    if shape == "square":
        mask = np.ones((s, s), dtype=bool)
    elif shape == "circle":
        mask = (yy - c) ** 2 + (xx - c) ** 2 <= c**2
    elif shape == "triangle":  # pointing up
        mask = np.abs(xx - c) <= yy / 2
    else:  # cross
        mask = (np.abs(yy - c) < s / 6 + 0.5) | (np.abs(xx - c) < s / 6 + 0.5)
    for ch in range(3):
        canvas[ch, y : y + s, x : x + s][mask] = color[ch]


def make_scenes(rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, list[list[str]]]:
    """n images (n, 3, size, size) in [0, 1] and their captions (lists of words, without <start>/<end>)."""
    half = size // 2
    images = np.zeros((n, 3, size, size), dtype=np.float32)
    captions = []
    for i in range(n):
        places = sorted(rng.choice(4, size=rng.integers(1, 3), replace=False))  # reading order
        words = []
        for q in places:
            color, shape = list(COLORS)[rng.integers(4)], SHAPES[rng.integers(4)]
            s = int(rng.integers(max(4, half // 2), half - 1))
            y = (q // 2) * half + int(rng.integers(0, half - s + 1))
            x = (q % 2) * half + int(rng.integers(0, half - s + 1))
            draw_shape(images[i], shape, COLORS[color], y, x, s)
            words += (["and"] if words else []) + ["a", color, shape, "at", *PLACES[q].split()]
        captions.append(words)
    return images, captions


def encode_captions(captions: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Teacher forcing: inputs (T, B) = <start> w1 .. wn <pad>..., targets (T, B) = w1 .. wn <end> IGNORE..."""
    T = max(len(c) for c in captions) + 1
    inputs = np.full((T, len(captions)), WORD[PAD], dtype=np.int64)
    targets = np.full((T, len(captions)), IGNORE, dtype=np.int64)
    for b, c in enumerate(captions):
        ids = [WORD[w] for w in c]
        inputs[: len(ids) + 1, b] = [WORD[START], *ids]
        targets[: len(ids) + 1, b] = [*ids, WORD[END]]
    return inputs, targets


class Captioner(ts.nn.Module):
    """images (B, 3, S, S) -> initial state; words (T, B) -> next-word logits (T, B, vocab)."""

    def __init__(self, size: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.cnn = ts.nn.Sequential(
            ts.nn.Conv2d(3, 16, 3, padding=1), ts.nn.ReLU(), ts.nn.MaxPool2d(2),
            ts.nn.Conv2d(16, 32, 3, padding=1), ts.nn.ReLU(), ts.nn.MaxPool2d(2),
        )  # fmt: skip
        self.to_state = ts.nn.Linear(32 * (size // 4) ** 2, 2 * hidden)  # -> (h_0, c_0)
        self.embed = ts.nn.Embedding(len(VOCAB), 32)
        self.lstm = ts.nn.LSTM(32, hidden)
        self.out = ts.nn.Linear(hidden, len(VOCAB))

    def encode(self, images):
        """(B, 3, S, S) -> (h_0, c_0), each (1, B, hidden)."""
        features = self.cnn(images)
        hc = self.to_state(features.reshape(features.shape[0], -1))
        h0 = ts.tanh(hc[:, : self.hidden])
        return h0.unsqueeze(0), hc[:, self.hidden :].unsqueeze(0)

    def forward(self, words, state):
        """words (T, B), state -> (logits (T, B, vocab), state)."""
        out, state = self.lstm(self.embed(words), state)
        return self.out(out), state


def greedy(model, images, max_len: int, device) -> list[list[str]]:
    """The likeliest word at every step, fed back, until <end> (or max_len words)."""
    B = images.shape[0]
    with ts.no_grad():
        state = model.encode(images)
        word = ts.full((1, B), WORD[START], dtype=ts.int64, device=device)
        chosen = []
        for _ in range(max_len + 1):
            logits, state = model(word, state)
            word = ts.argmax(logits, dim=-1)  # (1, B)
            chosen.append(word.numpy()[0])
    return [_words(seq) for seq in np.stack(chosen, axis=1)]


def beam_search(model, images, beam: int, max_len: int, device) -> list[list[str]]:
    """Keep the `beam` captions of highest summed log-probability at every step; a caption that has
    written <end> is finished and keeps its score. All scenes' beams run as one batch of B * beam."""
    B, K, V = images.shape[0], beam, len(VOCAB)
    with ts.no_grad():
        h, c = model.encode(images)
        rows = ts.tensor(np.repeat(np.arange(B), K), device=device)  # every scene's state, K times
        state = (h.index_select(1, rows), c.index_select(1, rows))
        score = np.full((B, K), -np.inf)
        score[:, 0] = 0.0  # one live beam at the start, so the K beams do not begin as copies
        seqs = np.zeros((B, K, 0), dtype=np.int64)
        done = np.zeros((B, K), dtype=bool)
        word = np.full(B * K, WORD[START])
        for _ in range(max_len + 1):
            logits, state = model(ts.tensor(word[None], device=device), state)
            logp = ts.log_softmax(logits[0], dim=-1).numpy().reshape(B, K, V).astype(np.float64)
            # A finished caption may only "write" <pad> at no cost: it stays as it is, with its score.
            logp[done] = -np.inf
            logp[done, WORD[PAD]] = 0.0
            total = (score[:, :, None] + logp).reshape(B, K * V)
            best = np.argsort(-total, axis=1, kind="stable")[:, :K]  # (B, K) over (beam, word)
            parent, word2 = best // V, best % V
            score = np.take_along_axis(total, best, axis=1)
            seqs = np.concatenate([np.take_along_axis(seqs, parent[:, :, None], axis=1), word2[:, :, None]], axis=2)
            done = np.take_along_axis(done, parent, axis=1) | (word2 == WORD[END])
            pick = ts.tensor((parent + np.arange(B)[:, None] * K).reshape(-1), device=device)
            state = (state[0].index_select(1, pick), state[1].index_select(1, pick))
            word = word2.reshape(-1)
            if done.all():
                break
    return [_words(seqs[b, 0]) for b in range(B)]  # beams stay sorted by score: the best is first


def _words(ids) -> list[str]:
    words = []
    for i in ids:
        if i in (WORD[END], WORD[PAD]):
            break
        words.append(VOCAB[i])
    return words


def bleu(candidates: list[list[str]], references: list[list[str]], n_max: int = 4) -> float:
    """Corpus BLEU-4 (Papineni et al., 2002), one reference per candidate, in [0, 1]."""
    matched, total = np.zeros(n_max), np.zeros(n_max)
    cand_len = ref_len = 0
    for cand, ref in zip(candidates, references):
        cand_len, ref_len = cand_len + len(cand), ref_len + len(ref)
        for n in range(1, n_max + 1):
            c = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
            r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            matched[n - 1] += sum(min(k, r[g]) for g, k in c.items())
            total[n - 1] += max(len(cand) - n + 1, 0)
    if cand_len == 0 or np.any(matched == 0):
        return 0.0
    brevity = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)
    return brevity * math.exp(np.mean(np.log(matched / total)))


def score(candidates, references) -> dict:
    exact = float(np.mean([c == r for c, r in zip(candidates, references)]))
    return {"exact_match": exact, "bleu4": bleu(candidates, references)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    train_images, train_caps = make_scenes(np.random.default_rng([args.seed, 1]), args.train_size, args.size)
    test_images, test_caps = make_scenes(np.random.default_rng([args.seed, 2]), args.test_size, args.size)
    max_len = max(len(c) for c in train_caps + test_caps)
    test_x = ts.tensor(test_images, device=args.device)
    seen = Counter(" ".join(c) for c in train_caps)
    unseen = np.mean([" ".join(c) not in seen for c in test_caps])
    print(f"{args.train_size} training scenes ({len(seen)} different captions), {args.test_size} test scenes "
          f"({unseen:.0%} with a caption never seen in training); captions up to {max_len} words")  # fmt: skip

    # Baselines: the commonest training caption for every scene, and the caption of the nearest training scene.
    commonest = seen.most_common(1)[0][0].split()
    flat_train = train_images.reshape(len(train_images), -1)
    nearest = []
    for chunk in np.array_split(test_images.reshape(len(test_images), -1), max(1, len(test_images) // 100)):
        d = (chunk**2).sum(1)[:, None] - 2 * chunk @ flat_train.T + (flat_train**2).sum(1)[None]
        nearest += [train_caps[j] for j in d.argmin(axis=1)]
    baselines = {"commonest training caption": score([commonest] * len(test_caps), test_caps),
                 "nearest training scene's caption": score(nearest, test_caps)}  # fmt: skip

    model = Captioner(args.size, args.hidden).to(args.device)
    opt = ts.optim.Adam(model.parameters(), lr=args.lr)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
    rng = _common.rng(args)
    curve, evals = [], []
    every = max(1, args.steps // 10)
    bar = _common.Progress(args.steps, "captioning")
    for step in range(1, args.steps + 1):
        idx = rng.integers(0, args.train_size, args.batch)
        inputs, targets = encode_captions([train_caps[i] for i in idx])
        logits, _ = model(ts.tensor(inputs, device=args.device),
                          model.encode(ts.tensor(train_images[idx], device=args.device)))  # fmt: skip
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), ts.tensor(targets.reshape(-1), device=args.device),
                               ignore_index=IGNORE)  # fmt: skip
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve.append(loss.item())
        bar.update(loss=curve[-1])
        if step % every == 0 or step == args.steps:
            model.eval()
            evals.append((step, score(greedy(model, test_x, max_len, args.device), test_caps)["exact_match"]))
            model.train()
            bar.write(f"step {step}: test exact match (greedy) {evals[-1][1]:.1%}")
    bar.close()

    model.eval()
    decoded = {"greedy": greedy(model, test_x, max_len, args.device),
               f"beam search ({args.beam})": beam_search(model, test_x, args.beam, max_len, args.device)}  # fmt: skip
    results = {name: score(caps, test_caps) for name, caps in decoded.items()}
    rows = [[f"CNN -> LSTM, {n}", f"{r['exact_match']:.1%}", f"{r['bleu4']:.3f}"] for n, r in results.items()]
    rows += [[n, f"{r['exact_match']:.1%}", f"{r['bleu4']:.3f}"] for n, r in baselines.items()]
    table = _common.markdown_table(["captions from", "test exact match", "BLEU-4"], rows)
    print(table)
    (out / "results.md").write_text(f"Captioning {args.test_size} unseen scenes\n\n{table}\n")
    greedy_caps = decoded["greedy"]
    pictures = [
        plot_captions(test_images, test_caps, greedy_caps, decoded[f"beam search ({args.beam})"], args,
                      out / "captions.png"),
        plot_training(curve, evals, baselines, out / "training.png"),
    ]  # fmt: skip
    return _common.save_results(out, {
        "decoders": results, "baselines": baselines, "unseen_caption_fraction": float(unseen),
        "final_loss": curve[-1], "pictures": pictures,
    }, args)  # fmt: skip


def plot_captions(images, truth, greedy_caps, beam_caps, args, path, n: int = 12) -> str:
    """A grid of test scenes; under each its true caption and the generated ones (red when wrong)."""
    plt = _common.pyplot()
    n = min(n, len(images))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 4.0 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_visible(False)
            continue
        ax.imshow(images[k].transpose(1, 2, 0), interpolation="nearest")
        lines = [("truth: " + _wrap(truth[k]), "black")]
        for name, caps in (("greedy", greedy_caps), (f"beam {args.beam}", beam_caps)):
            lines.append((f"{name}: " + _wrap(caps[k]), "tab:green" if caps[k] == truth[k] else "tab:red"))
        for i, (text, color) in enumerate(lines):
            ax.text(0.0, -0.04 - 0.24 * i, text, transform=ax.transAxes, va="top", fontsize=7.5, color=color)
    fig.suptitle("Unseen test scenes and their captions (green: exactly right, red: not)", fontsize=10)
    fig.tight_layout(h_pad=5.5)
    return _common.save_figure(fig, path)


def _wrap(words: list[str], width: int = 30) -> str:
    lines, line = [], ""
    for w in words or ["(nothing)"]:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n    ".join(lines + [line])


def plot_training(curve, evals, baselines, path) -> str:
    plt = _common.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(np.arange(1, len(curve) + 1), curve, lw=0.8)
    ax1.set_yscale("log")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("cross-entropy per word (log scale)")
    ax1.set_title("training loss (teacher forcing)")
    steps, exact = zip(*evals)
    ax2.plot(steps, [100 * e for e in exact], "o-", label="CNN -> LSTM, greedy decoding")
    for (name, r), style in zip(baselines.items(), ("--", ":")):
        ax2.axhline(100 * r["exact_match"], color="k", ls=style, label=name)
    ax2.set_xlabel("training step")
    ax2.set_ylabel("test exact match (%)")
    ax2.set_title("captions exactly right on unseen scenes")
    ax2.set_ylim(-2, 102)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
