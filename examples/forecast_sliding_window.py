"""Sliding-window forecasting of yearly sunspot numbers with a stacked LSTM, against simple baselines.

The lecture's sliding-window technique: cut the series into pairs
(the last --window years -> the next year) with ``ts.data.sliding_window``,
and train a network on the pairs. Here the network is a 2-layer LSTM read out
by a linear layer at its last step.

Data: examples/data/sunspots_yearly.csv, the yearly mean (Wolf / International)
sunspot number 1700-2008, "version 1" series from SIDC / WDC-SILSO, Royal
Observatory of Belgium, as distributed by the NOAA National Geophysical Data
Center (http://www.ngdc.noaa.gov/stp/solar/solarda3.html); public domain.
See the file's header for details.

The split is chronological, by the year being predicted: train up to 1920,
validation 1921-1960, test 1961-2008; a window may reach back into earlier
years, since they are known when the forecast is made. The series is
standardised with the mean and standard deviation of the training years only,
and the model kept is the one with the lowest validation error (early stopping).
Baselines, all one year ahead:

    persistence   next year = this year
    cycle         next year = the year 11 years before it (one solar cycle back)
    linear AR     least-squares linear regression on the same window (fit on train)

Writes to --out: forecast.png (the series and the test-years forecast, with
test RMSE), training.png (losses), results.md (RMSE table), results.json.

    python examples/forecast_sliding_window.py                 # 200 epochs, about 10 seconds
    python examples/forecast_sliding_window.py --window 30 --hidden 64
    mpiexec -n 2 python -m mpi4py examples/forecast_sliding_window.py --distributed

With --distributed, a ``DistributedSampler`` gives each process its share of
the shuffled training windows (--batch is split between the processes) and
``DistributedDataParallel`` averages the gradients. Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import _common  # before numpy: it sets the BLAS thread count
import numpy as np

import tinyseq as ts
import tinyseq.nn.functional as F

DATA = Path(__file__).resolve().parent / "data" / "sunspots_yearly.csv"
TRAIN_END, VAL_END = 1920, 1960  # last year (of the target) in the train and validation splits
CYCLE = 11  # years in a solar cycle, roughly


def parse_args(argv=None):
    p = _common.parser("forecast_sliding_window", __doc__)
    p.add_argument("--epochs", type=int, default=200, help="passes over the training windows (default 200)")
    p.add_argument("--window", type=int, default=20, help="years of history per input (default 20)")
    p.add_argument("--hidden", type=int, default=32, help="LSTM hidden size (default 32)")
    p.add_argument("--layers", type=int, default=2, help="stacked LSTM layers (default 2)")
    p.add_argument("--batch", type=int, default=32, help="windows per step (default 32)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    _common.add_distributed(p)
    args = p.parse_args(argv)
    if args.smoke:
        args.epochs, args.hidden = 3, 8
    return args


def load_sunspots(path=DATA) -> tuple[np.ndarray, np.ndarray]:
    """(years, values) from the CSV, skipping its '#' comment lines and the header row."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    body = rows[1:]  # rows[0] is the header: year,sunspots
    years = np.array([int(r[0]) for r in body])
    values = np.array([float(r[1]) for r in body])
    return years, values


class Forecaster(ts.nn.Module):
    """(B, window, 1) past values -> (B, 1) the next value."""

    def __init__(self, hidden: int, layers: int):
        super().__init__()
        self.lstm = ts.nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = ts.nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = _common.setup(args)
    years, values = load_sunspots()
    train_years = years <= TRAIN_END
    mean, std = values[train_years].mean(), values[train_years].std()  # from the training years only
    z = ((values - mean) / std).astype(np.float32)
    print(f"{len(years)} years {years[0]}-{years[-1]}; train mean {mean:.1f}, std {std:.1f}")

    # Window i covers years [i, i + window) and predicts year i + window.
    x_all, y_all = ts.data.sliding_window(ts.tensor(z, device=args.device), args.window)  # (N, W, 1), (N, 1, 1)
    target_years = years[args.window :]
    split = {
        "train": target_years <= TRAIN_END,
        "val": (target_years > TRAIN_END) & (target_years <= VAL_END),
        "test": target_years > VAL_END,
    }
    x_np, y_np = x_all.numpy(), y_all.numpy()[:, 0]  # host copies, for indexing the splits
    dev = args.device
    data = {k: (ts.tensor(x_np[m], device=dev), ts.tensor(y_np[m], device=dev)) for k, m in split.items()}
    print("windows: " + ", ".join(f"{k} {int(m.sum())} ({target_years[m][0]}-{target_years[m][-1]})"
                                  for k, m in split.items()))  # fmt: skip

    model = Forecaster(args.hidden, args.layers).to(args.device)
    if args.distributed:
        # each rank: its share of every epoch's shuffled windows, batch / world at a time
        net = ts.nn.parallel.DistributedDataParallel(model)
        sampler = ts.distributed.DistributedSampler(ts.data.TensorDataset(*data["train"]), seed=args.seed)
        loader = ts.data.DataLoader(data["train"], batch_size=max(1, args.batch // args.world), sampler=sampler)
        seen = len(sampler) * args.world  # windows per epoch, over all ranks (the sampler pads to divide evenly)
    else:
        net, sampler, seen = model, None, int(split["train"].sum())
        loader = ts.data.DataLoader(data["train"], batch_size=args.batch, shuffle=True)
    opt = ts.optim.Adam(net.parameters(), lr=args.lr)

    def predict(x) -> np.ndarray:
        """Forecasts in sunspot units."""
        model.eval()
        with ts.no_grad():
            p = model(x).numpy()[:, 0]
        model.train()
        return p * std + mean

    val_truth = y_np[split["val"], 0] * std + mean
    best = (math.inf, None, 0)
    curves = []
    bar = _common.Progress(args.epochs, "sunspots")
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        total = ts.zeros((), dtype=ts.float64)
        for xb, yb in loader:
            loss = F.mse_loss(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            ts.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * xb.shape[0]
        if args.distributed:
            ts.distributed.all_reduce(total)  # the epoch's loss over every rank's windows
        train_loss = total.item() / seen
        val_rmse = rmse(predict(data["val"][0]), val_truth)
        curves.append((train_loss, val_rmse))
        if val_rmse < best[0]:
            best = (val_rmse, {k: v.numpy().copy() for k, v in model.state_dict().items()}, epoch)
        bar.update(loss=train_loss, val_rmse=val_rmse)
    bar.close()
    if args.rank != 0:  # the replicas are equal: rank 0 alone reports
        return {"rank": args.rank, "final_loss": curves[-1][0]}
    model.load_state_dict(best[1])
    print(f"kept the model of epoch {best[2]} (validation RMSE {best[0]:.2f})")

    # One-year-ahead forecasts for every target year, by the LSTM and the baselines.
    truth = values[args.window :]
    forecasts = {
        "LSTM": predict(x_all),
        "persistence": values[args.window - 1 : -1],
        f"cycle (t-{CYCLE})": values[args.window - CYCLE : len(values) - CYCLE],
        "linear AR": linear_ar(values, args.window, split["train"]),
    }
    rows = []
    for name, f in forecasts.items():
        rows.append([name] + [f"{rmse(f[m], truth[m]):.2f}" for m in split.values()])
    table = _common.markdown_table(["one year ahead", "train RMSE", "validation RMSE", "test RMSE"], rows)
    print(table)
    (out / "results.md").write_text(f"Yearly sunspot number, window {args.window} years\n\n{table}\n")

    test = split["test"]
    scores = {name: rmse(f[test], truth[test]) for name, f in forecasts.items()}
    verdict = "beats" if scores["LSTM"] < scores["persistence"] else "does NOT beat"
    print(f"test RMSE: LSTM {scores['LSTM']:.2f}, persistence {scores['persistence']:.2f}: the LSTM {verdict} it")
    pictures = [
        plot_forecast(years, values, target_years, forecasts, scores, split, out / "forecast.png"),
        plot_training(curves, best[2], rmse(forecasts["persistence"][split["val"]], val_truth), out / "training.png"),
    ]
    return _common.save_results(out, {
        "test_rmse": scores, "best_epoch": best[2], "validation_rmse": best[0],
        "final_loss": curves[-1][0], "pictures": pictures,
    }, args)  # fmt: skip


def linear_ar(values: np.ndarray, window: int, train: np.ndarray) -> np.ndarray:
    """Least-squares linear forecasts from the last ``window`` values (fit on the training windows)."""
    rows = np.lib.stride_tricks.sliding_window_view(values[:-1], window)  # (N, window): window i -> value i+window
    design = np.hstack([rows, np.ones((len(rows), 1))])
    coef, *_ = np.linalg.lstsq(design[train], values[window:][train], rcond=None)
    return design @ coef


def plot_forecast(years, values, target_years, forecasts, scores, split, path) -> str:
    plt = _common.pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 1.3]})
    top.plot(years, values, color="black", lw=1)
    for (name, m), color in zip(split.items(), ("tab:blue", "tab:orange", "tab:green")):
        label = {"val": "validation"}.get(name, name)
        top.axvspan(target_years[m][0] - 0.5, target_years[m][-1] + 0.5, color=color, alpha=0.12, label=label)
    top.set_title("Yearly mean sunspot number, 1700-2008, and the chronological split (by predicted year)")
    top.set_ylabel("sunspot number")
    top.legend(loc="upper left", fontsize=8)
    top.set_xlim(years[0], years[-1])

    test = split["test"]
    ty = target_years[test]
    bottom.plot(ty, values[-len(target_years) :][test], "k-o", ms=3, lw=1.5, label="truth")
    styles = {"LSTM": ("tab:red", "-"), "persistence": ("tab:grey", "--"), "linear AR": ("tab:purple", ":")}
    for name, (color, ls) in styles.items():
        bottom.plot(ty, forecasts[name][test], color=color, ls=ls, lw=1.5,
                    label=f"{name}: test RMSE {scores[name]:.1f}")  # fmt: skip
    bottom.set_title("Test years: one-year-ahead forecasts")
    bottom.set_xlabel("year")
    bottom.set_ylabel("sunspot number")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


def plot_training(curves, best_epoch, persistence_rmse, path) -> str:
    plt = _common.pyplot()
    train_loss, val_rmse = np.array(curves).T
    epochs = np.arange(1, len(curves) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(epochs, train_loss)
    ax1.set_yscale("log")
    ax1.set_title("training loss")
    ax1.set_ylabel("MSE of standardised values (log scale)")
    ax2.plot(epochs, val_rmse, color="tab:orange", label="LSTM")
    ax2.axhline(persistence_rmse, color="tab:grey", ls="--", label=f"persistence {persistence_rmse:.1f}")
    ax2.axvline(best_epoch, color="grey", ls=":", label=f"kept: epoch {best_epoch}")
    ax2.set_title("validation RMSE (1921-1960)")
    ax2.set_ylabel("RMSE (sunspot number)")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return _common.save_figure(fig, path)


if __name__ == "__main__":
    main()
