"""User-defined models for the whole-module checkpoint tests (top level, so load can find them
once they are allowed)."""

import tinyseq as ts
from tinyseq import nn


class TiedLM(nn.Module):
    """Embedding -> LSTM -> Linear with the decoder's weight tied to the embedding's."""

    def __init__(self, ntoken, ninp, nlayers, dropout=0.5, tie_weights=True, *, name="lm"):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, ninp, nlayers, dropout=dropout)
        self.decoder = nn.Linear(ninp, ntoken)
        self.drop = nn.Dropout(dropout)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.name = name

    def forward(self, x):
        out, _ = self.rnn(self.drop(self.encoder(x)))
        return self.decoder(self.drop(out))


class Head(nn.Module):
    def __init__(self, sizes, act=ts.tanh):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = act

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return x


class WithObject(nn.Module):
    def __init__(self, size, tool):
        super().__init__()
        self.fc = nn.Linear(size, size)
        self.tool = tool
