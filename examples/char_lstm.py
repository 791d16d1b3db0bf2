"""A character-level language model: embedding -> stacked LSTM -> linear, trained on Python source.

The corpus is one long stream of characters, laid out as ``--batch`` parallel
streams (``ts.data.batchify``) and cut into chunks of ``--seq`` steps
(``ts.data.bptt_chunks``). The LSTM's state at the end of one chunk is where
the next chunk starts, detached so backpropagation stops at the chunk
boundary: truncated BPTT. Gradients are clipped by their global norm
(``clip_grad_norm_``) and Adam takes the step.

Quality is measured in bits per character (bpc) on held-out text, the last 5%
of the stream, next to the entropy of the training text's character
frequencies: what a model that ignores context would get. A model that
guesses uniformly among V characters gets log2(V).

Default corpus: the Python standard library's own source files, read at run
time from the running interpreter (the first --max-chars characters of its
pure-ASCII ``*.py`` files, in file-name order); ``--text FILE`` trains on any
text instead. Samples are drawn with a temperature (``--temperature``; lower
is more conservative). A checkpoint (model, optimizer, step, history) is
written to --out/checkpoint.npz at every evaluation; ``--resume`` continues
from it.

Writes to --out: bpc.png (training and validation bpc), samples.txt,
checkpoint.npz, results.json.

    python examples/char_lstm.py                       # 2000 steps, about 3 minutes of CPU
    python examples/char_lstm.py --steps 3000 --resume # continue the same run to step 3000
    python examples/char_lstm.py --text novel.txt --hidden 512 --device cuda
    mpiexec -n 2 python -m mpi4py examples/char_lstm.py --distributed   # 2 processes, 16 streams each

With --distributed, the --batch streams are split between the processes
(``ts.distributed.shard_streams``), each process carries its own streams'
LSTM state, and ``DistributedDataParallel`` averages the gradients, so the
run takes the same steps as one process with the whole batch. Only rank 0
evaluates, samples, draws and writes files.
"""

from __future__ import annotations

import math
import sysconfig
from pathlib import Path

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F


def parse_args(argv=None):
    p = _common.parser("char_lstm", __doc__)
    p.add_argument("--steps", type=int, default=2000, help="training steps (chunks), in total (default 2000)")
    p.add_argument("--batch", type=int, default=32, help="parallel streams (default 32)")
    p.add_argument("--seq", type=int, default=64, help="steps per chunk: how far BPTT reaches back (default 64)")
    p.add_argument("--hidden", type=int, default=192, help="LSTM hidden size (default 192)")
    p.add_argument("--layers", type=int, default=2, help="stacked LSTM layers (default 2)")
    p.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm (default 1.0)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    p.add_argument("--prime", default="def ", help="text the samples start from (default 'def ')")
    p.add_argument("--eval-every", type=int, default=250, help="validate, sample and checkpoint this often")
    p.add_argument("--max-chars", type=int, default=1_500_000, help="size cap of the default corpus")
    p.add_argument("--text", help="train on this text file instead of the standard library's source")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.npz")
    _common.add_distributed(p)
    args = p.parse_args(argv)
    if args.smoke:
        args.steps = 12 if args.steps == p.get_default("steps") else args.steps
        args.batch, args.seq, args.hidden, args.layers, args.embed = 4, 16, 32, 2, 16
        args.eval_every, args.max_chars = 6, 20_000
    return args


# -- data ---------------------------------------------------------------------------------
def stdlib_source(max_chars: int) -> str:
    """The first ``max_chars`` characters of the standard library's pure-ASCII .py files, by file name."""
    folder = Path(sysconfig.get_paths()["stdlib"])
    parts, size = [], 0
    for path in sorted(folder.glob("*.py")):
        raw = path.read_bytes()
        if not raw.isascii():  # a few files hold non-ASCII text: skipping them keeps the vocabulary small
            continue
        parts.append(raw.decode("ascii"))
        size += len(parts[-1])
        if size >= max_chars:
            break
    if not parts:
        raise SystemExit(f"no .py files found in {folder}; pass --text FILE")
    return "".join(parts)[:max_chars]


def unigram_entropy(ids: np.ndarray, vocab: int) -> float:
    """Entropy (bits) of the character frequencies: the bpc of the best context-free model."""
    p = np.bincount(ids, minlength=vocab) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


# -- model --------------------------------------------------------------------------------
class CharLSTM(ts.nn.Module):
    """ids (T, B) -> logits (T, B, vocab), carrying the LSTM state (h, c) between calls."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int):
        super().__init__()
        self.embed = ts.nn.Embedding(vocab, embed)
        self.lstm = ts.nn.LSTM(embed, hidden, num_layers=layers)
        self.head = ts.nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def detach(state):
    return tuple(s.detach() for s in state)


@ts.no_grad()
def evaluate(model, stream, seq: int) -> float:
    """Bits per character over a batchified stream (T, B), state carried across chunks."""
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in ts.data.bptt_chunks(stream, seq):
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count / math.log(2)


@ts.no_grad()
def generate(model, prime: str, n: int, chars: list, temperature: float, rng, device) -> str:
    """Feed ``prime``, then draw n characters from softmax(logits / temperature)."""
    model.eval()
    index = {c: i for i, c in enumerate(chars)}
    ids = ts.tensor([[index[c]] for c in prime], device=device)  # (len, 1)
    logits, state = model(ids)
    out = []
    for _ in range(n):
        p = ts.softmax(logits[-1, 0] / temperature, dim=-1).numpy().astype(np.float64)
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(chars[nxt])
        logits, state = model(ts.tensor([[nxt]], device=device), state)
    model.train()
    return prime + "".join(out)


# -- training -----------------------------------------------------------------------------
def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    text = open(args.text, encoding="utf-8").read() if args.text else stdlib_source(args.max_chars)
    chars = sorted(set(text))
    V = len(chars)
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    split = int(len(ids) * 0.95)
    train_ids, val_ids = ids[:split], ids[split:]
    source = args.text or f"{Path(sysconfig.get_paths()['stdlib'])}/*.py"
    unigram = unigram_entropy(train_ids, V)
    print(f"corpus: {len(text):,} characters from {source}, vocabulary {V}")
    print(f"  train {len(train_ids):,} / validation {len(val_ids):,} characters; "
          f"unigram entropy {unigram:.3f} bits, uniform log2(V) {math.log2(V):.3f} bits")  # fmt: skip

    train = ts.data.batchify(ts.tensor(train_ids, device=args.device), args.batch)  # (T, batch)
    if args.distributed:
        train = ts.distributed.shard_streams(train)  # (T, batch / world): this rank's streams
    val_streams = max(1, min(args.batch, len(val_ids) // (args.seq + 1)))
    val = ts.data.batchify(ts.tensor(val_ids, device=args.device), val_streams)
    model = CharLSTM(V, args.embed, args.hidden, args.layers).to(args.device)
    # `net` trains (averaging gradients over the ranks); `model`, the same weights, evaluates and samples
    net = ts.nn.parallel.DistributedDataParallel(model) if args.distributed else model
    opt = ts.optim.Adam(net.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters\n{model}")

    step, history, val_history = 0, [], []
    ckpt_path = out / "checkpoint.npz"
    if args.resume:
        ckpt = _common.resume(ckpt_path, args.steps, args.device)
        if ckpt["chars"] != "".join(chars):
            raise SystemExit(f"{ckpt_path} was trained on a different vocabulary; use the same corpus to resume")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optim"])
        step, history, val_history = ckpt["step"], list(ckpt["history"]), list(ckpt["val_history"])
        print(f"resumed from {ckpt_path} at step {step}")

    def checkpoint():
        if args.rank != 0:
            return
        ts.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step, "chars": "".join(chars),
                 "history": history, "val_history": val_history}, ckpt_path)  # fmt: skip

    rng = np.random.default_rng([args.seed, step])  # a resumed run draws new samples
    prime = args.prime if args.prime and all(c in index for c in args.prime) else text[0]
    samples = []
    chunks = ts.data.bptt_chunks(train, args.seq)
    per_epoch = len(chunks)
    bar = _common.Progress(args.steps - step, "char-lstm")
    running, loss = None, None
    first = step % per_epoch  # a resumed run picks the stream up where it stopped
    while step < args.steps:
        state = None  # every pass over the text starts from a zero state
        for i, (x, y) in enumerate(chunks):
            if i < first:
                continue
            logits, state = net(x, state)
            loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            ts.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            state = detach(state)  # truncated BPTT: keep the values, drop the graph behind them
            step += 1

            bpc = loss.item() / math.log(2)
            running = bpc if running is None else 0.98 * running + 0.02 * bpc
            history.append(bpc)
            bar.update(bpc=running, epoch=f"{step / per_epoch:.2f}")
            if args.rank == 0 and (step % args.eval_every == 0 or step == args.steps):
                v = evaluate(model, val, args.seq)
                val_history.append([step, v])
                s = generate(model, prime, 120 if args.smoke else 300, chars, args.temperature, rng, args.device)
                samples.append((step, v, s))
                bar.write(f"step {step}: train bpc {running:.3f}, validation bpc {v:.3f}\n{s}\n" + "-" * 60)
                checkpoint()
            if step == args.steps:
                break
        first = 0
    seconds = bar.close()
    if args.distributed and loss is not None:
        ts.distributed.all_reduce(loss, op="mean")  # the last step's loss over every rank's streams
    if args.rank != 0:
        return {"rank": args.rank, "steps": step, "final_loss": None if loss is None else loss.item()}

    val_bpc = val_history[-1][1] if val_history else evaluate(model, val, args.seq)
    with open(out / "samples.txt", "w", encoding="utf-8") as f:
        for st, v, s in samples:
            f.write(f"===== step {st}, validation bpc {v:.3f}, temperature {args.temperature}\n{s}\n")
    print(f"validation bpc {val_bpc:.3f} vs unigram entropy {unigram:.3f} bits "
          f"({val_bpc / unigram:.0%} of it); {step} steps, {seconds:.0f} s this run")  # fmt: skip
    picture = plot(history, val_history, unigram, math.log2(V), out / "bpc.png", args)
    return _common.save_results(out, {
        "steps": step, "seconds_this_run": seconds, "chars": len(text), "vocab": V, "parameters": n_params,
        "unigram_entropy_bits": unigram, "uniform_bits": math.log2(V), "validation_bpc": val_bpc,
        "final_train_bpc": running, "final_loss": None if loss is None else loss.item(),
        "pictures": [picture], "processes": args.world,
    }, args)  # fmt: skip


def plot(history, val_history, unigram, uniform, path, args) -> str:
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    steps = np.arange(1, len(history) + 1)
    ax.plot(steps, history, color="tab:blue", alpha=0.25, lw=0.8, label="training bpc (each chunk)")
    k = max(1, min(50, len(history) // 10))
    if len(history) >= k:
        smooth = np.convolve(history, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, color="tab:blue", label=f"training bpc ({k}-step mean)")
    if val_history:
        vs, vb = zip(*val_history)
        ax.plot(vs, vb, "o-", color="tab:red", label="validation bpc")
        ax.annotate(f"{vb[-1]:.2f}", (vs[-1], vb[-1]), textcoords="offset points", xytext=(4, 6), color="tab:red")
    ax.axhline(unigram, color="grey", ls="--", label=f"unigram entropy {unigram:.2f}")
    ax.axhline(uniform, color="grey", ls=":", label=f"uniform log2(V) {uniform:.2f}")
    ax.set_xlabel(f"training step (chunk of {args.batch} x {args.seq} characters)")
    ax.set_ylabel("bits per character")
    corpus = Path(args.text).name if args.text else "Python standard-library source"
    ax.set_title(f"Character LSTM ({args.layers} x {args.hidden}) on {corpus}")
    ax.set_ylim(0, uniform + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
