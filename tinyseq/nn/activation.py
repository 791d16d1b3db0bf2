"""Elementwise activations and softmax as modules (shape in = shape out)."""

from __future__ import annotations

from .. import ops
from .module import Module


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input):
        return ops.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    def forward(self, input):
        return ops.tanh(input)


class Sigmoid(Module):
    def forward(self, input):
        return ops.sigmoid(input)


def _softmax_dim(dim, input):
    # PyTorch's rule when no dim is given: dim 0 for 0-, 1- and 3-D inputs, else 1.
    if dim is not None:
        return dim
    return 0 if input.ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return ops.softmax(input, _softmax_dim(self.dim, input))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        return ops.log_softmax(input, _softmax_dim(self.dim, input))
