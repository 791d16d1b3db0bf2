"""Predict the continuation of noisy-phase sine waves with two stacked LSTM cells, trained with
L-BFGS on whole sequences; after each step, predict ``future`` points past the input."""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


def make_waves(n, length, period, seed):
    rng = np.random.RandomState(seed)
    shift = rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    t = np.arange(length) + shift
    return np.sin(t / period).astype("float64")


class WavePredictor(nn.Module):
    def __init__(self, hidden=51):
        super().__init__()
        self.hidden = hidden
        self.cell1 = nn.LSTMCell(1, hidden)
        self.cell2 = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, series, future=0):
        n = series.size(0)
        h1 = torch.zeros(n, self.hidden, dtype=torch.double)
        c1 = torch.zeros(n, self.hidden, dtype=torch.double)
        h2 = torch.zeros(n, self.hidden, dtype=torch.double)
        c2 = torch.zeros(n, self.hidden, dtype=torch.double)
        preds = []
        for x in series.split(1, dim=1):
            h1, c1 = self.cell1(x, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            y = self.head(h2)
            preds.append(y)
        for _ in range(future):  # feed the prediction back in
            h1, c1 = self.cell1(y, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            y = self.head(h2)
            preds.append(y)
        return torch.cat(preds, dim=1)


def main(args):
    """Returns (every closure loss, in order; the test losses after each step)."""
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    data = make_waves(args.n, args.length, args.period, args.seed)
    x = torch.from_numpy(data[3:, :-1])
    y = torch.from_numpy(data[3:, 1:])
    test_x = torch.from_numpy(data[:3, :-1])
    test_y = torch.from_numpy(data[:3, 1:])
    model = WavePredictor(args.hidden)
    if args.init_state is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in args.init_state.items()})
    model.double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=args.lr, max_iter=args.max_iter,
                            line_search_fn=args.line_search)  # fmt: skip
    losses, test_losses = [], []
    for step in range(args.steps):

        def closure():
            optimizer.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            losses.append(loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            future = args.future
            pred = model(test_x, future=future)
            test_loss = criterion(pred[:, :-future], test_y)
            test_losses.append(test_loss.item())
            print(f"step {step}: test loss {test_loss.item():.6f}")
        drawn = pred.detach().numpy()
        assert drawn.shape == (3, args.length - 1 + future)
    return losses, test_losses
