"""Classify small digit images by reading them row by row with an LSTM: each image is a
sequence of rows, the last hidden state goes to a linear classifier."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# 5x3 strokes of the digits 0-9, scaled up to the image size
GLYPHS = {
    0: ["###", "#.#", "#.#", "#.#", "###"], 1: [".#.", "##.", ".#.", ".#.", "###"],
    2: ["###", "..#", "###", "#..", "###"], 3: ["###", "..#", ".##", "..#", "###"],
    4: ["#.#", "#.#", "###", "..#", "..#"], 5: ["###", "#..", "###", "..#", "###"],
    6: ["###", "#..", "###", "#.#", "###"], 7: ["###", "..#", ".#.", ".#.", ".#."],
    8: ["###", "#.#", "###", "#.#", "###"], 9: ["###", "#.#", "###", "..#", "###"],
}  # fmt: skip


def make_digits(n, size, seed):
    """n noisy, randomly shifted digit images (n, size, size) in [0, 1] and their labels."""
    rng = np.random.RandomState(seed)
    images = np.zeros((n, size, size))
    labels = rng.randint(0, 10, n)
    cell = size // 7
    for k, label in enumerate(labels):
        glyph = np.array([[c == "#" for c in row] for row in GLYPHS[label]], dtype=float)
        big = np.kron(glyph, np.ones((cell, cell)))
        top, left = rng.randint(0, size - big.shape[0] + 1), rng.randint(0, size - big.shape[1] + 1)
        images[k, top : top + big.shape[0], left : left + big.shape[1]] = big
    images += 0.2 * rng.rand(n, size, size)
    return images.clip(0, 1), labels


class RowReader(nn.Module):
    def __init__(self, row_size, hidden, layers, classes):
        super().__init__()
        self.lstm = nn.LSTM(row_size, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, images):
        rows, _ = self.lstm(images)
        return self.fc(rows[:, -1, :])


def main(args):
    """Returns the training losses (one per batch) and the test accuracy."""
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    dtype = torch.double if args.double else torch.float
    images, labels = make_digits(args.n_train + args.n_test, args.size, args.seed)
    x = torch.tensor(images, dtype=dtype)
    y = torch.tensor(labels, dtype=torch.long)
    train = TensorDataset(x[: args.n_train], y[: args.n_train])
    test = TensorDataset(x[args.n_train :], y[args.n_train :])
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=False, num_workers=0)
    test_loader = DataLoader(test, batch_size=args.batch_size)
    model = RowReader(args.size, args.hidden, args.layers, 10).to(device)
    if args.init_state is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in args.init_state.items()})
    model.to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        for images, target in train_loader:
            images, target = images.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        correct = 0
        with torch.no_grad():
            for images, target in test_loader:
                pred = model(images).argmax(dim=1)
                correct += (pred == target).sum().item()
        print(f"epoch {epoch}: last loss {losses[-1]:.4f}, test accuracy {correct / len(test):.3f}")
    return losses, correct / len(test)
