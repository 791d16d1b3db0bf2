"""Whole training programs, tinyseq vs PyTorch CPU: the time of one epoch.

    python benchmarks/programs.py [--threads 1,2] [--programs lm,rows,char] [--rounds 2]

Programs (float32, the same initial weights and the same data order in both
libraries; tinyseq loads PyTorch's initial weights):
  lm    PyTorch's word-level language model example, ported: Embedding(V, 200),
        dropout 0.2, 2-layer LSTM(200, 200, dropout 0.2), dropout, Linear(200, V)
        with its weight tied to the embedding's; truncated BPTT 35, batch 20,
        SGD lr 20 after clip_grad_norm_(0.25). Corpus: the docstrings of the
        Python standard library's modules (words and punctuation, one <eos> per
        line), the first --tokens tokens.
  rows  a row-by-row image classifier: 28x28 generated digits, one row per time
        step into LSTM(28, 128), Linear(128, 10) on the last state, Adam 1e-3,
        batch 64, --images images.
  char  the training step of examples/char_lstm.py (Embedding(V, 64), 2-layer
        LSTM(64, 192), Linear(192, V); batch 32, 64 steps a chunk, Adam 3e-3 after
        clip_grad_norm_(1.0), state carried across chunks) on the standard
        library's source, --chunks chunks.

Each thread count runs in its own subprocess (BLAS reads its thread count when
NumPy loads). An epoch is timed --rounds times per library, alternating, after
a few warm-up batches each; the best round counts. Dropout draws its masks
from each library's own generator, so runs with dropout compute the same kind
of function, not the same numbers. ratio = tinyseq / PyTorch (lower is better).
The load average is printed with the numbers: on a loaded machine they are
indicative only.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from _timing import set_threads  # benchmarks/ is the script's own directory

PROGRAMS = ("lm", "rows", "char")


# -- data ---------------------------------------------------------------------------------------
def docstring_tokens(limit: int) -> list:
    """Words and punctuation of the standard library's docstrings, <eos> after each line, in file-name order."""
    tokens = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                for line in (doc or "").splitlines():
                    words = re.findall(r"\w+|[^\w\s]", line.lower())
                    if words:
                        tokens += words + ["<eos>"]
        if len(tokens) >= limit:
            break
    return tokens[:limit]


def stdlib_source(max_chars: int) -> str:
    parts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        raw = path.read_bytes()
        if raw.isascii():
            parts.append(raw.decode("ascii"))
            size += len(parts[-1])
            if size >= max_chars:
                break
    return "".join(parts)[:max_chars]


# Seven-segment strokes of each digit: a top, b top right, c bottom right, d bottom, e bottom left,
# f top left, g middle.
SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def digits(np, rng, n: int):
    """n noisy 28x28 seven-segment digits with random position, size and stroke width -> (x (n, 28, 28), labels)."""
    x = np.zeros((n, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, n)
    for k in range(n):
        h, w = rng.integers(14, 22), rng.integers(8, 14)
        y0, x0, t = rng.integers(1, 27 - h), rng.integers(1, 27 - w), rng.integers(1, 3)
        m = h // 2
        boxes = {"a": (0, t, 0, w), "d": (h - t, h, 0, w), "g": (m, m + t, 0, w),
                 "f": (0, m, 0, t), "b": (0, m, w - t, w), "e": (m, h, 0, t), "c": (m, h, w - t, w)}  # fmt: skip
        for s in SEGMENTS[labels[k]]:
            r0, r1, c0, c1 = boxes[s]
            x[k, y0 + r0 : y0 + r1, x0 + c0 : x0 + c1] = 1
    x += rng.normal(0, 0.2, x.shape).astype(np.float32)
    return x, labels


# -- the programs, twice ------------------------------------------------------------------------
def build(name, np, torch, ts, args):
    """-> (torch epoch, tinyseq epoch, batches, a description): each epoch runs the whole program once,
    or its first ``warm`` batches when called with warm=N."""
    F = ts.nn.functional
    tnn = torch.nn
    torch.manual_seed(0)

    def load(ours, ref):
        ours.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})

    if name == "lm":
        tokens = docstring_tokens(args.tokens)
        vocab = {w: i for i, w in enumerate(dict.fromkeys(tokens))}
        V, B, T = len(vocab), 20, 35
        ids = np.array([vocab[w] for w in tokens], dtype=np.int64)
        ids = ids[: len(ids) // B * B].reshape(B, -1).T.copy()  # (steps, B): batchify
        starts = list(range(0, ids.shape[0] - 1, T))

        class TorchLM(tnn.Module):
            def __init__(self):
                super().__init__()
                self.drop = tnn.Dropout(0.2)
                self.encoder = tnn.Embedding(V, 200)
                self.rnn = tnn.LSTM(200, 200, 2, dropout=0.2)
                self.decoder = tnn.Linear(200, V)
                self.decoder.weight = self.encoder.weight

            def forward(self, x, state):
                out, state = self.rnn(self.drop(self.encoder(x)), state)
                return self.decoder(self.drop(out)).view(-1, V), state

        class TsLM(ts.nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = ts.nn.Dropout(0.2)
                self.encoder = ts.nn.Embedding(V, 200)
                self.rnn = ts.nn.LSTM(200, 200, 2, dropout=0.2)
                self.decoder = ts.nn.Linear(200, V)
                self.decoder.weight = self.encoder.weight

            def forward(self, x, state):
                out, state = self.rnn(self.drop(self.encoder(x)), state)
                return self.decoder(self.drop(out)).reshape(-1, V), state

        ref, ours = TorchLM(), TsLM()
        load(ours, ref)
        t_opt, s_opt = torch.optim.SGD(ref.parameters(), lr=20), ts.optim.SGD(ours.parameters(), lr=20)
        t_data = [(torch.from_numpy(ids[i : i + T]), torch.from_numpy(ids[i + 1 : i + 1 + T].reshape(-1)))
                  for i in starts if i + T + 1 <= ids.shape[0]]  # fmt: skip
        s_data = [(ts.tensor(x.numpy()), ts.tensor(y.numpy())) for x, y in t_data]

        def torch_epoch(warm=None):
            state = None
            for x, y in t_data[:warm]:
                state = None if state is None else tuple(s.detach() for s in state)
                t_opt.zero_grad()
                out, state = ref(x, state)
                torch.nn.functional.cross_entropy(out, y).backward()
                torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.25)
                t_opt.step()

        def ts_epoch(warm=None):
            state = None
            for x, y in s_data[:warm]:
                state = None if state is None else tuple(s.detach() for s in state)
                s_opt.zero_grad()
                out, state = ours(x, state)
                F.cross_entropy(out, y).backward()
                ts.nn.utils.clip_grad_norm_(ours.parameters(), 0.25)
                s_opt.step()

        return torch_epoch, ts_epoch, len(t_data), f"{len(tokens):,} tokens, vocabulary {V:,}"

    if name == "rows":
        rng = np.random.default_rng(0)
        x, labels = digits(np, rng, args.images)
        B = 64
        batches = [(x[i : i + B], labels[i : i + B]) for i in range(0, len(x) - B + 1, B)]

        class TorchRows(tnn.Module):
            def __init__(self):
                super().__init__()
                self.rnn, self.head = tnn.LSTM(28, 128, batch_first=True), tnn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])

        class TsRows(ts.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn, self.head = ts.nn.LSTM(28, 128, batch_first=True), ts.nn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])

        ref, ours = TorchRows(), TsRows()
        load(ours, ref)
        t_opt, s_opt = torch.optim.Adam(ref.parameters(), lr=1e-3), ts.optim.Adam(ours.parameters(), lr=1e-3)
        t_data = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
        s_data = [(ts.tensor(a), ts.tensor(b)) for a, b in batches]

        def torch_epoch(warm=None):
            for a, b in t_data[:warm]:
                t_opt.zero_grad()
                torch.nn.functional.cross_entropy(ref(a), b).backward()
                t_opt.step()

        def ts_epoch(warm=None):
            for a, b in s_data[:warm]:
                s_opt.zero_grad()
                F.cross_entropy(ours(a), b).backward()
                s_opt.step()

        return torch_epoch, ts_epoch, len(batches), f"{len(batches) * B:,} images"

    # char: the char_lstm example's step
    text = stdlib_source(400_000)
    chars = sorted(set(text))
    V, B, T = len(chars), 32, 64
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    ids = ids[: len(ids) // B * B].reshape(B, -1).T.copy()
    chunks = [(ids[i : i + T], ids[i + 1 : i + 1 + T]) for i in range(0, (args.chunks) * T, T)]

    class TorchChar(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm, self.head = tnn.Embedding(V, 64), tnn.LSTM(64, 192, 2), tnn.Linear(192, V)

        def forward(self, x, state):
            out, state = self.lstm(self.embed(x), state)
            return self.head(out), state

    class TsChar(ts.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm, self.head = ts.nn.Embedding(V, 64), ts.nn.LSTM(64, 192, 2), ts.nn.Linear(192, V)

        def forward(self, x, state):
            out, state = self.lstm(self.embed(x), state)
            return self.head(out), state

    ref, ours = TorchChar(), TsChar()
    load(ours, ref)
    t_opt, s_opt = torch.optim.Adam(ref.parameters(), lr=3e-3), ts.optim.Adam(ours.parameters(), lr=3e-3)
    t_data = [(torch.from_numpy(a), torch.from_numpy(b.reshape(-1))) for a, b in chunks]
    s_data = [(ts.tensor(a), ts.tensor(b.reshape(-1))) for a, b in chunks]

    def torch_epoch(warm=None):
        state = None
        for x, y in t_data[:warm]:
            state = None if state is None else tuple(s.detach() for s in state)
            logits, state = ref(x, state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y)
            t_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            t_opt.step()

    def ts_epoch(warm=None):
        state = None
        for x, y in s_data[:warm]:
            state = None if state is None else tuple(s.detach() for s in state)
            logits, state = ours(x, state)
            loss = F.cross_entropy(logits.reshape(-1, V), y)
            s_opt.zero_grad()
            loss.backward()
            ts.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
            s_opt.step()

    return torch_epoch, ts_epoch, len(chunks), f"{len(chunks)} chunks of {T} x {B}, vocabulary {V}"


def child(args):
    set_threads(args.child)
    import numpy as np
    import torch

    import tinyseq as ts
    from tinyseq.ops.fused import kernels as fused

    torch.set_num_threads(args.child)
    kernels = fused.select_cpu_kernels(args.kernels)
    for name in args.programs.split(","):
        t_epoch, s_epoch, batches, what = build(name, np, torch, ts, args)
        t_epoch(warm=3)
        s_epoch(warm=3)
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            for i, fn in enumerate((t_epoch, s_epoch)):
                t0 = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t0)
        load = os.getloadavg()[0]
        print(f"{name:5s} threads {args.child}  kernels {kernels:5s}  "
              f"torch {best[0]:7.2f} s  tinyseq {best[1]:7.2f} s  "
              f"ratio {best[1] / best[0]:5.2f}x  ({batches} batches: {what}; load {load:.2f})", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    p.add_argument("--programs", default=",".join(PROGRAMS), help="which programs (default lm,rows,char)")
    p.add_argument("--rounds", type=int, default=2, help="timed epochs per library (default 2; the best counts)")
    p.add_argument("--tokens", type=int, default=70_000, help="lm: corpus size in tokens (default 70,000)")
    p.add_argument("--images", type=int, default=6_400, help="rows: images in the epoch (default 6,400)")
    p.add_argument("--chunks", type=int, default=60, help="char: chunks in the epoch (default 60)")
    p.add_argument("--kernels", default=None, help="CPU cell kernels: auto | numpy | fast (default: TINYSEQ_KERNELS)")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for n in map(int, args.threads.split(",")):
        cmd = [sys.executable, __file__, "--child", str(n), "--programs", args.programs, "--rounds", str(args.rounds),
               "--tokens", str(args.tokens), "--images", str(args.images), "--chunks", str(args.chunks)]  # fmt: skip
        if args.kernels:
            cmd += ["--kernels", args.kernels]
        subprocess.run(cmd, check=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
