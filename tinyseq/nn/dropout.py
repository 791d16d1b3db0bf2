"""Dropout: active in training mode only."""

from __future__ import annotations

from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the survivors by 1 / (1 - p) while
    training; the identity in eval mode. Masks come from the device's generator (ts.manual_seed)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Channel-wise dropout: zero each channel of an (N, C, L) or (C, L) input with probability p."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(Dropout):
    """Channel-wise dropout: zero each channel of an (N, C, H, W) input with probability p
    (a 3-D input is read as (N, C, L), as PyTorch does, with its warning)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
