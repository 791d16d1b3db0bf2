"""Dropout: active in training mode only."""

from __future__ import annotations

import warnings

import numpy as np

from .._tensor import Tensor
from ..autograd import OpError
from .module import Module


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), in training."""
    return _drop(input, p, training, "dropout", input.shape)


def _feature_dropout(input, p, training, name):
    """Zero whole channels: one draw per (sample, channel) of an (N, C, *) input."""
    _check_p(p, name)
    if input.ndim < 2:
        raise OpError(f"{name}: needs an input of shape (N, C, *), got {input.shape}")
    return _drop(input, p, training, name, input.shape[:2] + (1,) * (input.ndim - 2))


def _check_p(p, name):
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: probability must be in [0, 1], got {p}")


def _drop(input, p, training, name, shape):
    """input times a mask of ``shape`` (broadcast over input): 0 with probability p, else 1/(1-p)."""
    _check_p(p, name)
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    be = input._backend
    # generators draw float32 or float64 only; the mask's precision does not matter
    draw = input.dtype if input.dtype.itemsize >= 4 else np.float32
    keep = be.rng.random(shape, dtype=draw) >= p
    mask = keep.astype(input.dtype)
    mask *= input.dtype.type(1 / (1 - p))  # in place: one array fewer per call
    return input * Tensor._make(mask, be)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout of (N, C, L) input (each channel zeroed with probability p, the rest scaled)."""
    if input.ndim not in (2, 3):
        raise OpError(f"dropout1d: expects a 2-D or 3-D input, got {input.shape}")
    if input.ndim == 2:  # (C, L): one sample
        return _feature_dropout(input.unsqueeze(0), p, training, "dropout1d").squeeze(0)
    return _feature_dropout(input, p, training, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout of (N, C, H, W) input: each channel of each sample is zeroed with
    probability p, the rest scaled by 1/(1-p). As PyTorch, a 3-D input is read as (N, C, L)
    (with the same warning)."""
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated; "
            "dropout2d expects (N, C, H, W) or (C, H, W) input", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
            "is desired - input is interpreted as shape (N, C, L), as PyTorch does", stacklevel=2)
    return _feature_dropout(input, p, training, "dropout2d")


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
        return dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Channel-wise dropout: zero each channel of an (N, C, L) or (C, L) input with probability p."""

    def forward(self, input):
        return dropout1d(input, self.p, self.training)


class Dropout2d(Dropout):
    """Channel-wise dropout: zero each channel of an (N, C, H, W) input with probability p
    (a 3-D input is read as (N, C, L), as PyTorch does, with its warning)."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
