"""Vanishing gradients as an experiment: the adding problem for a vanilla RNN, an LSTM and a GRU.

The adding problem (Hochreiter & Schmidhuber, 1997): each input step is a pair
(value, marker) with values drawn uniformly from [0, 1]. Exactly two steps are
marked, one in the first half of the sequence and one in the second; the
target, read from the final hidden state, is the sum of the two marked values.
Always answering 1.0 (the mean of the sum) gives a mean squared error of 1/6,
about 0.167: that is the baseline. To do better a network must carry the first
marked value across up to T steps, and to learn that it needs a gradient from
the loss at step T back to the step where the value arrived.

For each sequence length T in --lengths, each model (one recurrent layer of
--hidden units and a linear read-out) trains with Adam on fresh random batches
for up to --steps updates, stopping early once its test MSE falls below
--solved. The vanilla RNN's gradient shrinks by a factor at every step back
(its Jacobian's norm stays below 1), so past a few dozen steps no learning
signal reaches the marked value and it stays at the baseline; the LSTM's
additive cell state (and the GRU's gated state) carry the gradient across.
The LSTM's forget-gate bias starts at 1 (Jozefowicz et al., 2015), a common
choice that makes the cell remember by default. With PyTorch's default
initialisation (every bias uniform in +-1/sqrt(hidden)) the forget gate starts
near sigmoid(0) = 1/2, so the cell state keeps about half of itself per step
and the gradient reaching t = 0 from the loss at T = 100 is some 12 orders of
magnitude smaller than with the bias at 1: gradient_flow.png draws that LSTM
too (dashed), at initialisation.

Writes to --out: adding_problem.png (test MSE and accuracy against T),
gradient_flow.png (``ts.viz.gradient_norms``: the norm of dLoss/dh_t at every
step t at the longest T, at initialisation and after training),
results.md (the table), results.json. Accuracy counts test sequences whose
prediction is within 0.1 of the target.

    python examples/long_term_dependency.py                       # T = 10, 25, 50, 100; under a minute
    python examples/long_term_dependency.py --lengths 50 100 200 --steps 4000
"""

from __future__ import annotations

import math

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

MODELS = ("RNN", "LSTM", "GRU")
TOLERANCE = 0.1  # "correct" when |prediction - target| < TOLERANCE
COLORS = {"RNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}
DEFAULT_LSTM = "LSTM, forget bias from PyTorch's default init"  # the others start with it at 1


def parse_args(argv=None):
    p = _common.parser("long_term_dependency", __doc__)
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 25, 50, 100], help="sequence lengths T")
    p.add_argument("--steps", type=int, default=2000, help="max training steps per model and length (default 2000)")
    p.add_argument("--batch", type=int, default=64, help="sequences per training step (default 64)")
    p.add_argument("--hidden", type=int, default=32, help="hidden size (default 32)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2)")
    p.add_argument("--solved", type=float, default=5e-3, help="stop once the test MSE is below this (default 5e-3)")
    p.add_argument("--test-size", type=int, default=1000, help="test sequences per length (default 1000)")
    args = p.parse_args(argv)
    if args.smoke:
        args.lengths, args.steps, args.hidden, args.batch, args.test_size = [5, 8], 20, 8, 16, 64
    return args


def adding_batch(rng: np.random.Generator, batch: int, T: int, device):
    """x: (T, batch, 2) rows of (value, marker); y: (batch, 1), the sum of the two marked values."""
    values = rng.random((T, batch))
    markers = np.zeros((T, batch))
    cols = np.arange(batch)
    markers[rng.integers(0, T // 2, batch), cols] = 1.0  # one in the first half ...
    markers[rng.integers(T // 2, T, batch), cols] = 1.0  # ... and one in the second
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=0)[:, None].astype(np.float32)
    return ts.tensor(x, device=device), ts.tensor(y, device=device)


class Adder(ts.nn.Module):
    """A recurrent layer (RNN, LSTM or GRU) read out by a linear layer at the last step."""

    def __init__(self, kind: str, hidden: int, forget_bias: float | None = 1.0):
        """forget_bias: the LSTM's forget-gate bias at the start (None: PyTorch's default initialisation)."""
        super().__init__()
        self.rnn = getattr(ts.nn, kind)(2, hidden)
        self.out = ts.nn.Linear(hidden, 1)
        if kind == "LSTM" and forget_bias is not None:
            with ts.no_grad():
                self.rnn.bias_hh_l0[hidden : 2 * hidden] = forget_bias  # the forget gate (gate order i, f, g, o)

    def forward(self, x):
        """x: (T, B, 2) -> (B, 1)."""
        h, _ = self.rnn(x)
        return self.out(h[-1])


def scores(model, x, y) -> tuple[float, float]:
    """(mean squared error, accuracy) on a test batch."""
    with ts.no_grad():
        pred = model(x)
        mse = F.mse_loss(pred, y).item()
        acc = ((pred - y).abs() < TOLERANCE).float().mean().item()
    return mse, acc


def train(kind, T, args, test, device, bar):
    """Train one model at one length -> (model, result dict)."""
    ts.manual_seed(args.seed)
    rng = np.random.default_rng([args.seed, T])
    model = Adder(kind, args.hidden).to(device)
    opt = ts.optim.Adam(model.parameters(), lr=args.lr)
    check = max(1, min(100, args.steps // 4))
    steps_done, mse, acc = 0, math.inf, 0.0
    for step in range(1, args.steps + 1):
        x, y = adding_batch(rng, args.batch, T, device)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps_done = step
        bar.update(loss=loss.item(), model=f"{kind} T={T}")
        if step % check == 0 or step == args.steps:
            mse, acc = scores(model, *test)
            if mse < args.solved:
                bar.update(args.steps - step)  # skip the rest of this run's share of the bar
                break
    return model, {"model": kind, "T": T, "test_mse": mse, "accuracy": acc, "steps": steps_done,
                   "solved": mse < args.solved, "final_loss": loss.item()}  # fmt: skip


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    device = args.device
    tests = {T: adding_batch(np.random.default_rng([args.seed, T, 1]), args.test_size, T, device) for T in args.lengths}
    baseline = {}
    for T, (_, y) in tests.items():
        err = y.numpy() - 1.0  # always answering 1.0, the mean of the target
        baseline[T] = (float((err**2).mean()), float((np.abs(err) < TOLERANCE).mean()))

    rows, last_models = [], {}
    bar = _common.Progress(len(MODELS) * len(args.lengths) * args.steps, "adding problem")
    for T in args.lengths:
        for kind in MODELS:
            model, r = train(kind, T, args, tests[T], device, bar)
            rows.append(r)
            last_models[kind] = model
            verdict = "solved" if r["solved"] else "not solved"
            bar.write(f"T={T:4d} {kind:5s} test MSE {r['test_mse']:.4f} (baseline {baseline[T][0]:.3f}), "
                      f"accuracy {r['accuracy']:.1%}, {r['steps']} steps: {verdict}")  # fmt: skip
    seconds = bar.close()

    table = _common.markdown_table(
        ["T", "model", "test MSE", "accuracy", "steps", "solved"],
        [[r["T"], r["model"], f"{r['test_mse']:.4f}", f"{r['accuracy']:.1%}", r["steps"], "yes" * r["solved"] or "no"]
         for r in rows]
        + [[T, "baseline (always 1.0)", f"{b[0]:.4f}", f"{b[1]:.1%}", "-", "-"] for T, b in baseline.items()],
    )  # fmt: skip
    print(table)
    (out / "results.md").write_text(f"Adding problem, hidden {args.hidden}, up to {args.steps} steps\n\n{table}\n")

    pictures = [plot_scores(rows, baseline, args, out / "adding_problem.png")]
    picture, norms = plot_gradients(last_models, tests[max(args.lengths)], args, out / "gradient_flow.png")
    pictures.append(picture)
    for when, by_model in norms.items():
        print(f"gradient norm {when}: " + ", ".join(
            f"{kind} {n[-1]:.1e} at t={len(n) - 1}, {n[0]:.1e} at t=0" for kind, n in by_model.items()))  # fmt: skip
    return _common.save_results(out, {
        "rows": rows, "baseline": {str(T): {"mse": b[0], "accuracy": b[1]} for T, b in baseline.items()},
        "gradient_norms": {when: {k: [n[0], n[-1]] for k, n in d.items()} for when, d in norms.items()},
        "seconds": seconds, "final_loss": rows[-1]["final_loss"], "pictures": pictures,
    }, args)  # fmt: skip


def plot_scores(rows, baseline, args, path) -> str:
    plt = _common.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    Ts = list(baseline)
    for kind in MODELS:
        mine = [r for r in rows if r["model"] == kind]
        ax1.plot([r["T"] for r in mine], [r["test_mse"] for r in mine], "o-", color=COLORS[kind], label=kind)
        ax2.plot([r["T"] for r in mine], [100 * r["accuracy"] for r in mine], "o-", color=COLORS[kind], label=kind)
    ax1.plot(Ts, [baseline[T][0] for T in Ts], "k--", label="baseline: always 1.0")
    ax2.plot(Ts, [100 * baseline[T][1] for T in Ts], "k--", label="baseline: always 1.0")
    ax1.axhline(args.solved, color="grey", ls=":", label=f"'solved' below {args.solved:g}")
    ax1.set_yscale("log")
    ax1.set_ylabel("test mean squared error (log scale)")
    ax2.set_ylabel(f"test accuracy, % within {TOLERANCE} of the target")
    ax2.set_ylim(0, 102)
    for ax in (ax1, ax2):
        ax.set_xlabel("sequence length T")
        ax.set_xticks(Ts)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Adding problem: {args.hidden} hidden units, up to {args.steps} Adam steps per model and length")
    fig.tight_layout()
    return _common.save_figure(fig, path)


def plot_gradients(trained, test, args, path) -> tuple[str, dict]:
    """Norm of dLoss/dh_t against t, for fresh and for trained models, at the longest length.
    Returns (picture path, {"at initialisation" / "after training": {model: [norm at each t]}})."""
    plt = _common.pyplot()
    x, y = test
    T = x.shape[0]
    fresh = {}
    for kind in MODELS:
        ts.manual_seed(args.seed)
        fresh[kind] = Adder(kind, args.hidden).to(args.device)
    ts.manual_seed(args.seed)
    fresh[DEFAULT_LSTM] = Adder("LSTM", args.hidden, forget_bias=None).to(args.device)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    measured = {}
    for ax, models, when in ((axes[0], fresh, "at initialisation"), (axes[1], trained, "after training")):
        norms = {kind: ts.viz.gradient_norms(F.mse_loss(model(x), y)) for kind, model in models.items()}
        measured[when] = {kind: n[(0, 0)] for kind, n in norms.items()}  # one layer, one direction
        ts.viz.plot_gradient_flow(norms, ax=ax, title=f"{when}, T={T}")
        for line in ax.get_lines():
            line.set_color(COLORS.get(line.get_label(), line.get_color()))
            if line.get_label() == DEFAULT_LSTM:
                line.set_color(COLORS["LSTM"])
                line.set_linestyle("--")
        ax.legend(fontsize=8)
    axes[1].set_ylabel("")
    fig.suptitle("Gradient of the loss (read at the last step) reaching the hidden state at step t")
    fig.tight_layout()
    return _common.save_figure(fig, path), measured


if __name__ == "__main__":
    main()
