"""Predicting the next frames of a video with a ConvLSTM encoder-forecaster (Shi et al., 2015).

The videos are generated here, Moving-MNIST style but small: a digit from a
5x7 pixel font moves at a constant velocity (--speed pixels per frame and
axis) across a --size x --size frame, bouncing off the walls. The model sees
--in-frames frames and predicts the next --out-frames. One ConvLSTM plays both
parts of the encoder-forecaster, sharing its weights between them:

    encoder     the ConvLSTM reads the input frames; after each it predicts
                the next frame, and its final state (h, c) holds where the
                digit is and how it moves
    forecaster  from that state it runs on, fed its own last prediction as
                the next input frame, for the future frames
    read-out    a 1x1 Conv2d(hidden -> 1) turns each state into a frame
                (pixel logits)

The state of a ConvLSTM is a stack of feature maps, and every gate is a
convolution over the frame and the previous state, so it keeps track of
*where* things are, not only what they are. Training backpropagates through
both parts, the forecaster's fed-back predictions included. Loss: binary
cross-entropy per pixel, over every predicted frame. Scored by the mean
squared error of the future frames, against two baselines: copying the last
input frame, and predicting an empty frame.

--cell gru or --cell rnn puts a ConvGRU or a plain ConvRNN (tanh) in the
ConvLSTM's place, with everything else the same (the GRU and the RNN carry
one state map h, the LSTM two, h and c).

Writes to --out: strip.png (input / truth / prediction for a few test videos),
mse_by_step.png (test MSE at each future step, model vs baselines),
training.png, results.json.

    python examples/convlstm_moving_digits.py          # 2000 steps, about 2 minutes of CPU
    python examples/convlstm_moving_digits.py --cell gru --out runs/convgru_moving_digits
    python examples/convlstm_moving_digits.py --size 32 --scale 2 --speed 2 --hidden 32 --steps 10000 --device cuda
"""

from __future__ import annotations

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

# A 5x7 pixel font for the digits 0-9 (one string per row, '#' = ink).
FONT = {
    0: [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
    1: ["  #  ", " ##  ", "# #  ", "  #  ", "  #  ", "  #  ", "#####"],
    2: [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
    3: ["#### ", "    #", "    #", " ### ", "    #", "    #", "#### "],
    4: ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
    5: ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
    6: ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
    7: ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
    8: [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
    9: [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
}
CELLS = {"lstm": "ConvLSTM", "gru": "ConvGRU", "rnn": "ConvRNN"}  # --cell -> the layer in ts.nn
GLYPHS = np.array([[[c == "#" for c in row] for row in FONT[d]] for d in range(10)], dtype=np.float32)


def parse_args(argv=None):
    p = _common.parser("convlstm_moving_digits", __doc__)
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument("--batch", type=int, default=16, help="videos per step (default 16)")
    p.add_argument("--size", type=int, default=16, help="frame height and width (default 16)")
    p.add_argument("--scale", type=int, default=1, help="digit size: the 5x7 font scaled by this (default 1)")
    p.add_argument("--speed", type=int, default=1, help="largest step, in pixels per frame and axis (default 1)")
    p.add_argument("--in-frames", type=int, default=6, help="frames the model sees (default 6)")
    p.add_argument("--out-frames", type=int, default=6, help="frames it predicts (default 6)")
    p.add_argument("--cell", choices=sorted(CELLS), default="lstm", help="the recurrent layer (default lstm)")
    p.add_argument("--hidden", type=int, default=16, help="ConvLSTM hidden channels (default 16)")
    p.add_argument("--kernel", type=int, default=3, help="ConvLSTM kernel size (default 3)")
    p.add_argument("--layers", type=int, default=1, help="stacked ConvLSTM layers (default 1)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2)")
    p.add_argument("--test-size", type=int, default=128, help="test videos (default 128)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.size, args.hidden, args.test_size = 4, 4, 10, 4, 8
        args.in_frames, args.out_frames = 3, 3
    return args


def moving_digits(rng: np.random.Generator, n: int, frames: int, size: int, scale: int = 1, speed: int = 1):
    """n videos (frames, n, 1, size, size) in [0, 1]: one digit each, bouncing off the walls.

    Each digit moves 1 to ``speed`` pixels per frame along each axis, in a random direction."""
    glyphs = GLYPHS.repeat(scale, axis=1).repeat(scale, axis=2)  # (10, 7*scale, 5*scale)
    gh, gw = glyphs.shape[1:]
    if gh > size or gw > size:
        raise SystemExit(f"--size {size} is too small for a {gh}x{gw} digit")
    video = np.zeros((frames, n, 1, size, size), dtype=np.float32)
    for i in range(n):
        glyph = glyphs[rng.integers(10)]
        y, x = rng.integers(0, size - gh + 1), rng.integers(0, size - gw + 1)
        vy, vx = rng.choice(np.r_[-speed:0, 1 : speed + 1], size=2)
        for t in range(frames):
            video[t, i, 0, y : y + gh, x : x + gw] = glyph
            y, vy = _bounce(y + vy, vy, size - gh)
            x, vx = _bounce(x + vx, vx, size - gw)
    return video


def _bounce(pos: int, velocity: int, top: int) -> tuple[int, int]:
    """A position stepped past [0, top] is mirrored back inside, and its velocity flips."""
    if pos < 0:
        return -pos, -velocity
    if pos > top:
        return 2 * top - pos, -velocity
    return pos, velocity


class EncoderForecaster(ts.nn.Module):
    """frames (T_in, B, 1, H, W) -> logits (T_in - 1 + future, B, 1, H, W) of frames 2 .. T_in + future."""

    def __init__(self, hidden: int, kernel: int, layers: int, cell: str = "lstm"):
        super().__init__()
        self.convlstm = getattr(ts.nn, CELLS[cell])(1, hidden, kernel, num_layers=layers)
        self.readout = ts.nn.Conv2d(hidden, 1, 1)

    def frames(self, out):
        """ConvLSTM output (T, B, hidden, H, W) -> frame logits (T, B, 1, H, W)."""
        T, B, C, H, W = out.shape
        return self.readout(out.reshape(T * B, C, H, W)).reshape(T, B, 1, H, W)

    def forward(self, frames, future: int):
        out, state = self.convlstm(frames)  # encode; state: (h, c), each (layers, B, hidden, H, W); GRU, RNN: h
        logits = [self.frames(out)]  # after each input frame, the next one
        for _ in range(future - 1):  # forecast: the last prediction is the next input
            out, state = self.convlstm(ts.sigmoid(logits[-1][-1:]), state)
            logits.append(self.frames(out))
        return ts.cat(logits, dim=0)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    frames = args.in_frames + args.out_frames
    rng = _common.rng(args)

    def videos(rng, n):
        return moving_digits(rng, n, frames, args.size, args.scale, args.speed)

    test_video = videos(np.random.default_rng([args.seed, 1]), args.test_size)
    test_x = ts.tensor(test_video[: args.in_frames], device=args.device)
    truth = test_video[args.in_frames :]

    # Baselines, per future step: the last input frame again, and an empty frame.
    copy_last = ((truth - test_video[args.in_frames - 1][None]) ** 2).mean(axis=(1, 2, 3, 4))
    blank = (truth**2).mean(axis=(1, 2, 3, 4))

    model = EncoderForecaster(args.hidden, args.kernel, args.layers, args.cell).to(args.device)
    opt = ts.optim.Adam(model.parameters(), lr=args.lr)
    print(f"{args.size}x{args.size} frames, {args.in_frames} in -> {args.out_frames} out; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")  # fmt: skip

    def test_mse():
        model.eval()
        with ts.no_grad():
            pred = ts.sigmoid(model(test_x, args.out_frames)[args.in_frames - 1 :]).numpy()
        model.train()
        return pred, ((pred - truth) ** 2).mean(axis=(1, 2, 3, 4))

    curve, evals = [], []
    every = max(1, args.steps // 10)
    bar = _common.Progress(args.steps, args.cell)
    for step in range(1, args.steps + 1):
        video = ts.tensor(videos(rng, args.batch), device=args.device)  # (T_in + T_out, B, 1, H, W)
        logits = model(video[: args.in_frames], args.out_frames)
        loss = F.binary_cross_entropy_with_logits(logits, video[1:])  # every frame after the first
        opt.zero_grad()
        loss.backward()
        ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve.append(loss.item())
        bar.update(loss=curve[-1])
        if step % every == 0 or step == args.steps:
            evals.append((step, float(test_mse()[1].mean())))
            bar.write(f"step {step}: test MSE {evals[-1][1]:.4f} (copy last frame {copy_last.mean():.4f})")
    bar.close()

    pred, mse = test_mse()
    print(f"test MSE over the {args.out_frames} predicted frames: {CELLS[args.cell]} {mse.mean():.4f}, "
          f"copy the last frame {copy_last.mean():.4f}, blank frame {blank.mean():.4f}")  # fmt: skip
    pictures = [
        plot_strip(test_video, pred, args, out / "strip.png"),
        plot_by_step(mse, copy_last, blank, CELLS[args.cell], out / "mse_by_step.png"),
        plot_training(curve, evals, copy_last.mean(), CELLS[args.cell], out / "training.png"),
    ]
    return _common.save_results(out, {
        "cell": CELLS[args.cell], "test_mse": float(mse.mean()), "copy_last_mse": float(copy_last.mean()),
        "blank_mse": float(blank.mean()),
        "test_mse_by_step": mse.tolist(), "copy_last_by_step": copy_last.tolist(),
        "final_loss": curve[-1], "pictures": pictures,
    }, args)  # fmt: skip


def plot_strip(video, pred, args, path, n: int = 3) -> str:
    """For n test videos: a row of inputs | truth, and a row of blanks | prediction."""
    plt = _common.pyplot()
    T_in, T_out = args.in_frames, args.out_frames
    n = min(n, video.shape[1])
    fig, axes = plt.subplots(2 * n, T_in + T_out, figsize=(1.1 * (T_in + T_out), 1.25 * 2 * n), squeeze=False)
    for k in range(n):
        top, bottom = axes[2 * k], axes[2 * k + 1]
        for t in range(T_in + T_out):
            top[t].imshow(video[t, k, 0], cmap="gray", vmin=0, vmax=1)
            if t >= T_in:
                bottom[t].imshow(pred[t - T_in, k, 0], cmap="gray", vmin=0, vmax=1)
            else:
                bottom[t].set_visible(False)
            top[t].set_title(f"t={t + 1}" if t < T_in else f"t={t + 1} (+{t - T_in + 1})", fontsize=7)
        top[0].set_ylabel(f"video {k + 1}\ninput | truth", fontsize=8)
        bottom[T_in].set_ylabel("prediction", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for row in range(2 * n):  # a red frame around the future
        for t in range(T_in, T_in + T_out):
            for spine in axes[row, t].spines.values():
                spine.set_color("tab:red")
    fig.suptitle(f"{CELLS[args.cell]} encoder-forecaster: {T_in} input frames (left), then truth (top, red) "
                 f"and prediction (below) for {T_out} frames", fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _common.save_figure(fig, path)


def plot_by_step(mse, copy_last, blank, name, path) -> str:
    plt = _common.pyplot()
    steps = np.arange(1, len(mse) + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(steps, mse, "o-", label=f"{name} (mean {mse.mean():.4f})")
    ax.plot(steps, copy_last, "s--", color="tab:grey", label=f"copy the last input frame (mean {copy_last.mean():.4f})")
    ax.plot(steps, blank, "^:", color="k", label=f"blank frame (mean {blank.mean():.4f})")
    ax.set_xlabel("frames into the future")
    ax.set_ylabel("test mean squared error per pixel")
    ax.set_xticks(steps)
    ax.set_ylim(bottom=0)
    ax.set_title("Next-frame prediction error, moving digits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _common.save_figure(fig, path)


def plot_training(curve, evals, copy_last, name, path) -> str:
    plt = _common.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(np.arange(1, len(curve) + 1), curve, lw=0.8)
    ax1.set_xlabel("training step")
    ax1.set_ylabel("binary cross-entropy per pixel")
    ax1.set_title("training loss")
    steps, mse = zip(*evals)
    ax2.plot(steps, mse, "o-", label=name)
    ax2.axhline(copy_last, color="tab:grey", ls="--", label="copy the last input frame")
    ax2.set_xlabel("training step")
    ax2.set_ylabel("test MSE per pixel")
    ax2.set_title("test error")
    ax2.set_ylim(bottom=0)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
