"""Many inputs, one output: which standard-library package does this docstring come from?

Real text with real labels, read from the running interpreter's own standard
library (nothing is downloaded or shipped): the docstrings of the modules,
classes and functions of eight packages that every CPython 3.8-3.13 install
has -- asyncio, email, importlib, logging, multiprocessing, unittest, urllib
and xml -- labelled with the package they are written in. The text of one
example is a docstring's first paragraph, split into words and punctuation
and cut to --max-words tokens:

    "Return True if the future was cancelled."                -> asyncio
    "Return the list of all header names in the message."    -> email

Identical texts are kept once (and dropped when two packages share them); the
rest are split at random into training (70%), validation (15%) and test (15%)
docstrings. Words seen fewer than twice in training become <unk>.

The model reads the whole docstring, then answers once:

    Embedding -> bidirectional LSTM -> the last state of each direction -> Linear

A batch holds docstrings of different lengths: they are padded, then packed
with ``ts.nn.utils.rnn.pack_padded_sequence`` (PyTorch's API; unsorted, so it
sorts them and h_n comes back in the batch's order), and each direction's h_n
is its state at the sequence's own last word. The baseline throws the order
away: a bag of words (each word's count in the docstring) read by one Linear
layer, i.e. multinomial logistic regression on the same vocabulary. Both
train with AdamW; for each, the epoch with the best validation accuracy is
the one reported.

Writes to --out: mistakes.png (the test confusion matrix, and test docstrings
the LSTM got wrong), training.png, results.md, results.json.

    python examples/docstring_classifier.py                 # 25 epochs per model, a couple of minutes on a CPU
    python examples/docstring_classifier.py --hidden 128 --epochs 40
"""

from __future__ import annotations

import ast
import re
import sysconfig
from collections import Counter
from pathlib import Path

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

PACKAGES = ("asyncio", "email", "importlib", "logging", "multiprocessing", "unittest", "urllib", "xml")
PAD, UNK = 0, 1
TOKEN = re.compile(r"[a-z_]+|[0-9]+|[^\sa-z0-9_]")


def parse_args(argv=None):
    p = _common.parser("docstring_classifier", __doc__)
    p.add_argument("--epochs", type=int, default=25, help="passes over the training docstrings (default 25)")
    p.add_argument("--batch", type=int, default=32, help="docstrings per step (default 32)")
    p.add_argument("--embed", type=int, default=64, help="word embedding size (default 64)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM size per direction (default 64)")
    p.add_argument("--max-words", type=int, default=60, help="tokens kept per docstring (default 60)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (default 3e-3)")
    p.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay (default 1e-2)")
    p.add_argument("--unidirectional", action="store_true", help="a one-direction LSTM instead")
    args = p.parse_args(argv)
    if args.smoke:
        args.epochs, args.embed, args.hidden, args.max_words = 1, 8, 8, 12
    return args


def first_paragraph(doc: str) -> str:
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def read_docstrings(packages=PACKAGES, folder: Path | None = None) -> list[tuple[str, str]]:
    """(first paragraph of a docstring, package) for every module, class and function docstring of at
    least three words in the packages' source (test folders left out), in file order."""
    folder = folder or Path(sysconfig.get_paths()["stdlib"])
    out = []
    for package in packages:
        files = sorted((folder / package).rglob("*.py"))
        if not files:
            raise SystemExit(f"no source for the standard library package {package!r} in {folder}")
        for path in files:
            if {"test", "tests"} & set(path.relative_to(folder).parts):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(first_paragraph(doc).split()) >= 3:
                        out.append((first_paragraph(doc), package))
    return out


def tokens(text: str, max_words: int) -> list[str]:
    return TOKEN.findall(text.lower())[:max_words]


def split(pairs, rng) -> tuple[list, list, list]:
    """Unique texts (a text that two packages share is dropped), shuffled, cut 70/15/15."""
    labels: dict[str, set] = {}
    for text, package in pairs:
        labels.setdefault(text, set()).add(package)
    unique = [(text, next(iter(p))) for text, p in labels.items() if len(p) == 1]
    order = rng.permutation(len(unique))
    unique = [unique[i] for i in order]
    a, b = int(0.7 * len(unique)), int(0.85 * len(unique))
    return unique[:a], unique[a:b], unique[b:]


class Encoded:
    """A split as word ids: padded (T, N) ids, lengths (N,), labels (N,), and bag-of-words counts (N, V)."""

    def __init__(self, pairs, vocab: dict, max_words: int):
        seqs = [[vocab.get(w, UNK) for w in tokens(t, max_words)] or [UNK] for t, _ in pairs]
        self.texts = [t for t, _ in pairs]
        self.lengths = np.array([len(s) for s in seqs])
        self.ids = np.full((self.lengths.max(), len(seqs)), PAD, dtype=np.int64)
        for j, s in enumerate(seqs):
            self.ids[: len(s), j] = s
        self.labels = np.array([PACKAGES.index(p) for _, p in pairs])
        self.counts = np.zeros((len(seqs), len(vocab)), dtype=np.float32)
        for j, s in enumerate(seqs):
            np.add.at(self.counts[j], s, 1.0)
        self.counts[:, PAD] = 0.0

    def batch(self, idx, device):
        """ids (T, b) cut to the batch's longest, lengths (b,), labels (b,), counts (b, V)."""
        T = self.lengths[idx].max()
        return (ts.tensor(self.ids[:T, idx], device=device), self.lengths[idx],
                ts.tensor(self.labels[idx], device=device), ts.tensor(self.counts[idx], device=device))  # fmt: skip


class LSTMClassifier(ts.nn.Module):
    """ids (T, B), lengths (B,) -> logits (B, classes), from the last state of each direction."""

    def __init__(self, vocab: int, embed: int, hidden: int, classes: int, bidirectional: bool = True):
        super().__init__()
        self.embed = ts.nn.Embedding(vocab, embed, padding_idx=PAD)
        self.lstm = ts.nn.LSTM(embed, hidden, bidirectional=bidirectional)
        self.drop = ts.nn.Dropout(0.3)
        self.head = ts.nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, ids, lengths, counts=None):
        packed = ts.nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n (directions, B, hidden), in the batch's order
        last = ts.cat([h_n[d] for d in range(h_n.shape[0])], dim=-1)  # forward's last word, backward's first
        return self.head(self.drop(last))


class BagOfWords(ts.nn.Module):
    """counts (B, V) -> logits (B, classes): logistic regression, word order thrown away."""

    def __init__(self, vocab: int, classes: int):
        super().__init__()
        self.head = ts.nn.Linear(vocab, classes)

    def forward(self, ids, lengths, counts):
        return self.head(counts)


def predict(model, data: Encoded, device) -> np.ndarray:
    model.eval()
    preds = []
    with ts.no_grad():
        for idx in np.array_split(np.arange(len(data.labels)), max(1, len(data.labels) // 256)):
            ids, lengths, _, counts = data.batch(idx, device)
            preds.append(ts.argmax(model(ids, lengths, counts), dim=-1).numpy())
    model.train()
    return np.concatenate(preds)


def train(name, model, train_set, valid, test, args, bar) -> dict:
    opt = ts.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    rng = np.random.default_rng([args.seed, 1])  # the same batches for both models
    history, best = [], None
    n = len(train_set.labels)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, args.batch):
            ids, lengths, labels, counts = train_set.batch(order[start : start + args.batch], args.device)
            loss = F.cross_entropy(model(ids, lengths, counts), labels)
            opt.zero_grad()
            loss.backward()
            ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(lengths)
            bar.update(loss=loss.item(), model=name)
        valid_acc = float((predict(model, valid, args.device) == valid.labels).mean())
        test_pred = predict(model, test, args.device)
        history.append({"epoch": epoch, "train_loss": total / n, "valid_accuracy": valid_acc,
                        "test_accuracy": float((test_pred == test.labels).mean())})  # fmt: skip
        if best is None or valid_acc > best["valid_accuracy"]:
            best = dict(history[-1], test_pred=test_pred)
    return {"history": history, "best": best, "final_loss": history[-1]["train_loss"],
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    pairs = read_docstrings()
    train_pairs, valid_pairs, test_pairs = split(pairs, _common.rng(args))
    if args.smoke:
        train_pairs, valid_pairs, test_pairs = train_pairs[:96], valid_pairs[:32], test_pairs[:32]
    counts = Counter(w for t, _ in train_pairs for w in tokens(t, args.max_words))
    vocab = {"<pad>": PAD, "<unk>": UNK}
    for w, c in sorted(counts.items()):
        if c >= 2:
            vocab[w] = len(vocab)
    train_set, valid, test = (Encoded(p, vocab, args.max_words) for p in (train_pairs, valid_pairs, test_pairs))
    share = np.bincount(test.labels, minlength=len(PACKAGES)) / len(test.labels)
    majority = float(share.max())
    print(f"{len(pairs)} docstrings from {len(PACKAGES)} packages -> {len(train_pairs)} train, {len(valid_pairs)} "
          f"validation, {len(test_pairs)} test (unique texts); vocabulary {len(vocab)} words; mean length "
          f"{train_set.lengths.mean():.1f} tokens; the commonest package: {majority:.1%} of the test set")  # fmt: skip

    steps = args.epochs * -(-len(train_pairs) // args.batch)
    bar = _common.Progress(2 * steps, "docstrings")
    runs = {}
    kind = "LSTM" if args.unidirectional else "BiLSTM"
    for name, make in ((kind, lambda: LSTMClassifier(len(vocab), args.embed, args.hidden, len(PACKAGES),
                                                     not args.unidirectional)),
                       ("bag of words", lambda: BagOfWords(len(vocab), len(PACKAGES)))):  # fmt: skip
        ts.manual_seed(args.seed)
        runs[name] = train(name, make().to(args.device), train_set, valid, test, args, bar)
        b = runs[name]["best"]
        bar.write(f"{name}: test accuracy {b['test_accuracy']:.1%} at epoch {b['epoch']} "
                  f"(validation {b['valid_accuracy']:.1%})")  # fmt: skip
    bar.close()

    rows = [[name, f"{r['best']['test_accuracy']:.1%}", f"{r['best']['valid_accuracy']:.1%}", r["best"]["epoch"],
             f"{r['parameters']:,}"] for name, r in runs.items()]  # fmt: skip
    rows.append(["always the commonest package", f"{majority:.1%}", "-", "-", "-"])
    table = _common.markdown_table(["model", "test accuracy", "validation accuracy", "epoch kept", "parameters"], rows)
    print(table)
    (out / "results.md").write_text(f"Docstring -> package, {len(test_pairs)} test docstrings\n\n{table}\n")
    pictures = [plot_mistakes(runs[kind]["best"]["test_pred"], runs["bag of words"]["best"]["test_pred"], test,
                              kind, out / "mistakes.png"),
                plot_training(runs, majority, out / "training.png")]  # fmt: skip
    return _common.save_results(out, {
        "test_accuracy": {n: r["best"]["test_accuracy"] for n, r in runs.items()},
        "valid_accuracy": {n: r["best"]["valid_accuracy"] for n, r in runs.items()},
        "majority_baseline": majority, "sizes": [len(train_pairs), len(valid_pairs), len(test_pairs)],
        "vocabulary": len(vocab), "final_loss": runs[kind]["final_loss"], "pictures": pictures,
    }, args)  # fmt: skip


def plot_mistakes(pred, bow_pred, test: Encoded, kind, path, n: int = 12) -> str:
    """Left: the confusion matrix on the test set. Right: test docstrings the model got wrong."""
    plt = _common.pyplot()
    k = len(PACKAGES)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (test.labels, pred), 1)
    fig = plt.figure(figsize=(12, 6.2))
    ax = fig.add_axes([0.04, 0.12, 0.3, 0.72])
    rate = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if confusion[i, j]:
                ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=8,
                        color="white" if rate[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(k), PACKAGES, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), PACKAGES, fontsize=8)
    ax.set_xlabel(f"{kind}'s answer")
    ax.set_ylabel("true package")
    ax.set_title(f"{kind} on {len(test.labels)} test docstrings\n(counts; shade = share of the row)", fontsize=10)
    wrong = np.flatnonzero(pred != test.labels)[:n]
    text_ax = fig.add_axes([0.4, 0.02, 0.58, 0.9])
    text_ax.axis("off")
    text_ax.set_title(f"Test docstrings the {kind} got wrong (the first {len(wrong)})", fontsize=10, loc="left")
    for row, j in enumerate(wrong):
        doc = test.texts[j] if len(test.texts[j]) <= 95 else test.texts[j][:92] + "..."
        bow = "also wrong" if bow_pred[j] != test.labels[j] else "right"
        text_ax.text(0, 1 - (row + 0.6) / max(n, 1), f'"{doc}"', fontsize=8, family="monospace", va="top")
        text_ax.text(0.02, 1 - (row + 1.05) / max(n, 1),
                     f"true: {PACKAGES[test.labels[j]]}   {kind}: {PACKAGES[pred[j]]}   bag of words: {bow}",
                     fontsize=8, color="tab:red", va="top")  # fmt: skip
    return _common.save_figure(fig, path)


def plot_training(runs, majority, path) -> str:
    plt = _common.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for (name, r), color in zip(runs.items(), ("tab:blue", "tab:orange")):
        epochs = [h["epoch"] for h in r["history"]]
        ax1.plot(epochs, [h["train_loss"] for h in r["history"]], "o-", ms=3, color=color, label=name)
        ax2.plot(epochs, [100 * h["valid_accuracy"] for h in r["history"]], "o-", ms=3, color=color,
                 label=f"{name} (kept: epoch {r['best']['epoch']})")  # fmt: skip
    ax2.axhline(100 * majority, color="k", ls=":", label="always the commonest package")
    ax1.set_ylabel("training cross-entropy")
    ax2.set_ylabel("validation accuracy (%)")
    ax1.set_title("training loss")
    ax2.set_title("validation accuracy")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
