"""Embedding lookup: rows of a weight matrix at integer ids (``F.embedding``)."""

from __future__ import annotations

import numpy as np

from ..._tensor import Tensor
from ...autograd import Function, OpError


class Embedding(Function):
    def forward(self, weight, ids, padding_idx):
        self.args = (weight.shape, ids, padding_idx)
        return weight[ids]

    def backward(self, g):
        shape, ids, padding_idx = self.args
        gw = self.xp.zeros(shape, dtype=g.dtype)
        self.backend.scatter_add(gw, ids.reshape(-1), g.reshape(-1, shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num, dim) at integer ``input`` (any shape) -> input.shape + (dim,).

    Repeated indices accumulate gradient; the ``padding_idx`` row gets none."""
    if not isinstance(input, Tensor):
        input = Tensor(np.asarray(input), device=weight.device)
    if input.dtype.kind not in "iu":
        raise OpError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    n = weight.shape[0]
    if input.numel():
        lo, hi = int(input._data.min()), int(input._data.max())
        if lo < 0 or hi >= n:  # negatives too: PyTorch refuses them rather than count from the end
            bad = lo if lo < 0 else hi
            raise OpError(
                f"embedding: index {bad} is out of range for {n} embeddings (weight {weight.shape}); "
                f"indices must be in [0, {n})"
            )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return Embedding.apply(weight, ids=input._data, padding_idx=padding_idx)

