"""Classifying videos by their motion: ConvLSTM against a per-frame CNN with an LSTM, and a single frame.

The clips are generated here: --frames frames of --size x --size pixels, each
showing one bar (a thick line segment of random length, angle and place) that
does one of eight things, its class:

    right, left, up, down        it slides one pixel per frame that way
    grow, shrink                 it gets longer or shorter
    clockwise, anticlockwise     it turns about its centre

Every class draws the same kind of bar, and the start is random enough that
one frame says little about which way the bar is going: the class is in how
the frames differ, not in any one of them. (A long bar sliding along its own
length may pass partly out of the frame in the last frames.)

Three classifiers, each trained with Adam on freshly drawn clips:

    ConvLSTM            ts.nn.ConvLSTM reads the frames; its last hidden state
                        (a stack of feature maps) is max-pooled over the
                        frame to one value per channel, then Linear -> class
    CNN -> LSTM         a small CNN turns each frame into a vector on its own;
                        an LSTM reads the vectors; its last state -> class
    single frame        the same CNN on the middle frame only -> class: the
                        baseline that cannot see motion

Writes to --out: confusion.png (the test confusion matrix of each model),
clips.png (a test clip of each class, with each model's answer), results.md,
results.json.

    python examples/action_recognition.py                # 600 steps per model, a few minutes on a CPU
    python examples/action_recognition.py --size 24 --hidden 32 --steps 3000 --device cuda
"""

from __future__ import annotations

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

ACTIONS = ("right", "left", "up", "down", "grow", "shrink", "clockwise", "anticlockwise")
MODELS = ("ConvLSTM", "CNN -> LSTM", "single frame")


def parse_args(argv=None):
    p = _common.parser("action_recognition", __doc__)
    p.add_argument("--steps", type=int, default=600, help="training steps per model (default 600)")
    p.add_argument("--batch", type=int, default=32, help="clips per step (default 32)")
    p.add_argument("--size", type=int, default=16, help="frame height and width, a multiple of 4 (default 16)")
    p.add_argument("--frames", type=int, default=8, help="frames per clip (default 8)")
    p.add_argument("--hidden", type=int, default=16, help="ConvLSTM hidden channels (default 16)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--test-size", type=int, default=400, help="test clips (default 400)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.size, args.frames, args.hidden, args.test_size = 3, 8, 12, 4, 4, 16
    if args.size % 4 or args.size < 12:
        raise SystemExit(f"--size must be a multiple of 4, at least 12 (got {args.size})")
    return args


def draw_bar(size: int, cy: float, cx: float, length: float, angle: float) -> np.ndarray:
    """A (size, size) frame: a bar of the given length about (cy, cx), about 2 pixels thick, soft-edged."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dy, dx = np.sin(angle), np.cos(angle)
    along = (yy - cy) * dy + (xx - cx) * dx  # distance along the bar from its centre
    across = np.abs(-(yy - cy) * dx + (xx - cx) * dy)
    beyond = np.maximum(np.abs(along) - length / 2, 0.0)  # past either end
    dist = np.hypot(across, beyond)
    return np.clip(1.5 - dist, 0.0, 1.0).astype(np.float32)


def make_clips(rng: np.random.Generator, n: int, frames: int, size: int, labels=None):
    """n clips (frames, n, 1, size, size) in [0, 1] and their classes (n,): indices into ACTIONS."""
    labels = rng.integers(0, len(ACTIONS), n) if labels is None else np.asarray(labels)
    video = np.zeros((frames, n, 1, size, size), dtype=np.float32)
    long, short = 0.6 * size, 0.25 * size
    growth = (long - short) / (frames - 1)  # pixels of length per frame
    for i, label in enumerate(labels):
        action = ACTIONS[label]
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(short, long)
        if action == "grow":
            length = rng.uniform(short, long - growth * (frames - 1) + 1e-6)
        elif action == "shrink":
            length = rng.uniform(short + growth * (frames - 1), long + 1e-6)
        longest = length + (growth * (frames - 1) if action == "grow" else 0.0)
        reach = longest / 2 + 1.5  # the bar fits in a circle of this radius: keep that inside the frame
        move = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}.get(action, (0, 0))
        span = np.array(move) * (frames - 1)  # how far the centre travels
        lo, hi = reach - np.minimum(span, 0), size - reach - np.maximum(span, 0)
        cy, cx = (rng.uniform(lo[k], max(lo[k], hi[k])) for k in range(2))
        for t in range(frames):
            a = angle + {"clockwise": 1, "anticlockwise": -1}.get(action, 0) * t * np.pi / 12  # 15 degrees a frame
            ln = length + {"grow": 1, "shrink": -1}.get(action, 0) * t * growth
            # image rows grow downwards, so a positive angle step turns the bar clockwise on screen
            video[t, i, 0] = draw_bar(size, cy + move[0] * t, cx + move[1] * t, ln, a)
    return video, labels


class FrameCNN(ts.nn.Module):
    """frames (N, 1, S, S) -> features (N, out)."""

    def __init__(self, size: int, out: int = 64):
        super().__init__()
        self.net = ts.nn.Sequential(
            ts.nn.Conv2d(1, 8, 3, padding=1), ts.nn.ReLU(), ts.nn.MaxPool2d(2),
            ts.nn.Conv2d(8, 16, 3, padding=1), ts.nn.ReLU(), ts.nn.MaxPool2d(2),
        )  # fmt: skip
        self.fc = ts.nn.Linear(16 * (size // 4) ** 2, out)

    def forward(self, x):
        f = self.net(x)
        return ts.relu(self.fc(f.reshape(f.shape[0], -1)))


class ConvLSTMClassifier(ts.nn.Module):
    """clips (T, B, 1, S, S) -> logits (B, classes): ConvLSTM, last hidden state max-pooled over the frame."""

    def __init__(self, hidden: int):
        super().__init__()
        self.convlstm = ts.nn.ConvLSTM(1, hidden, 3)
        self.head = ts.nn.Linear(hidden, len(ACTIONS))

    def forward(self, clips):
        _, (h, _) = self.convlstm(clips)  # h: (layers, B, hidden, S, S)
        return self.head(ts.amax(h[-1], dim=(-2, -1)))  # where in the frame does not matter, what moved does


class CNNLSTMClassifier(ts.nn.Module):
    """clips (T, B, 1, S, S) -> logits: a CNN per frame, an LSTM over the frames' features."""

    def __init__(self, size: int):
        super().__init__()
        self.cnn = FrameCNN(size)
        self.lstm = ts.nn.LSTM(64, 64)
        self.head = ts.nn.Linear(64, len(ACTIONS))

    def forward(self, clips):
        T, B = clips.shape[:2]
        features = self.cnn(clips.reshape(T * B, *clips.shape[2:])).reshape(T, B, -1)
        _, (h, _) = self.lstm(features)
        return self.head(h[-1])


class SingleFrameClassifier(ts.nn.Module):
    """clips (T, B, 1, S, S) -> logits from the middle frame alone."""

    def __init__(self, size: int):
        super().__init__()
        self.cnn = FrameCNN(size)
        self.head = ts.nn.Linear(64, len(ACTIONS))

    def forward(self, clips):
        return self.head(self.cnn(clips[clips.shape[0] // 2]))


def build(name: str, args):
    if name == "ConvLSTM":
        return ConvLSTMClassifier(args.hidden)
    return CNNLSTMClassifier(args.size) if name == "CNN -> LSTM" else SingleFrameClassifier(args.size)


def predict(model, clips, device) -> np.ndarray:
    model.eval()
    with ts.no_grad():
        pred = np.concatenate([ts.argmax(model(ts.tensor(clips[:, i : i + 200], device=device)), dim=-1).numpy()
                               for i in range(0, clips.shape[1], 200)])  # fmt: skip
    model.train()
    return pred


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    test_clips, test_labels = make_clips(np.random.default_rng([args.seed, 1]), args.test_size, args.frames, args.size)
    print(f"{len(ACTIONS)} actions, clips of {args.frames} frames of {args.size}x{args.size}, "
          f"{args.test_size} test clips; guessing scores {1 / len(ACTIONS):.1%}")  # fmt: skip
    bar = _common.Progress(len(MODELS) * args.steps, "actions")
    runs = {}
    for name in MODELS:
        ts.manual_seed(args.seed)
        rng = np.random.default_rng([args.seed, 2])  # the same training clips for every model
        model = build(name, args).to(args.device)
        opt = ts.optim.Adam(model.parameters(), lr=args.lr)
        curve = []
        for _ in range(args.steps):
            clips, labels = make_clips(rng, args.batch, args.frames, args.size)
            loss = F.cross_entropy(model(ts.tensor(clips, device=args.device)), ts.tensor(labels, device=args.device))
            opt.zero_grad()
            loss.backward()
            ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            curve.append(loss.item())
            bar.update(loss=curve[-1], model=name)
        pred = predict(model, test_clips, args.device)
        runs[name] = {"accuracy": float((pred == test_labels).mean()), "pred": pred, "curve": curve,
                      "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip
        bar.write(f"{name}: test accuracy {runs[name]['accuracy']:.1%} ({runs[name]['parameters']:,} parameters)")
    bar.close()

    rows = [[n, f"{r['accuracy']:.1%}", f"{r['parameters']:,}"] for n, r in runs.items()]
    rows.append(["guessing", f"{1 / len(ACTIONS):.1%}", "-"])
    table = _common.markdown_table(["model", "test accuracy", "parameters"], rows)
    print(table)
    (out / "results.md").write_text(f"Action recognition, {args.test_size} test clips, {args.steps} steps\n\n{table}\n")
    pictures = [plot_confusion(runs, test_labels, out / "confusion.png"),
                plot_clips(test_clips, test_labels, runs, out / "clips.png")]  # fmt: skip
    return _common.save_results(out, {
        "accuracy": {n: r["accuracy"] for n, r in runs.items()},
        "parameters": {n: r["parameters"] for n, r in runs.items()},
        "chance": 1 / len(ACTIONS), "final_loss": runs["ConvLSTM"]["curve"][-1], "pictures": pictures,
    }, args)  # fmt: skip


def plot_confusion(runs, labels, path) -> str:
    plt = _common.pyplot()
    k = len(ACTIONS)
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 5.2))
    for ax, (name, r) in zip(np.atleast_1d(axes), runs.items()):
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (labels, r["pred"]), 1)
        rate = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
        ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
        for i in range(k):
            for j in range(k):
                if confusion[i, j]:
                    ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=7,
                            color="white" if rate[i, j] > 0.5 else "black")  # fmt: skip
        ax.set_xticks(range(k), ACTIONS, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), ACTIONS, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true action")
        ax.set_title(f"{name}: {r['accuracy']:.1%} right", fontsize=10)
    fig.suptitle("Test confusion matrices (counts; shade = share of the true class)", fontsize=11)
    fig.tight_layout()
    return _common.save_figure(fig, path)


def plot_clips(clips, labels, runs, path) -> str:
    """One test clip per class (rows), every frame (columns), with each model's answer."""
    plt = _common.pyplot()
    T = clips.shape[0]
    chosen = [int(np.flatnonzero(labels == c)[0]) for c in range(len(ACTIONS)) if np.any(labels == c)]
    fig, axes = plt.subplots(len(chosen), T, figsize=(1.0 * T + 3.2, 1.05 * len(chosen)), squeeze=False)
    for row, i in enumerate(chosen):
        for t in range(T):
            ax = axes[row, t]
            ax.imshow(clips[t, i, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {t + 1}", fontsize=7)
        axes[row, 0].set_ylabel(ACTIONS[labels[i]], fontsize=8)
        answers = "\n".join(f"{n}: {ACTIONS[r['pred'][i]]}" for n, r in runs.items())
        axes[row, -1].text(1.1, 0.5, answers, transform=axes[row, -1].transAxes, va="center", fontsize=6.5)
    fig.suptitle("A test clip of each action (row label: the truth; right: each model's answer)", fontsize=9)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
