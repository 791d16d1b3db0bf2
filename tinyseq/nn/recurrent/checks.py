"""Argument checks of the recurrent cells and layers; errors name the class and the value."""

from __future__ import annotations

import warnings

from ..._tensor import Tensor
from ...autograd import OpError


def positive(owner, what, value, minimum=1, word="integer"):
    """An int >= minimum, returned. (``word``: the conv layers' messages say "int".)"""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = f"a positive {word}" if minimum == 1 else f"an {word} >= {minimum}"
        raise ValueError(f"{owner}: {what} must be {kind}, got {value!r}")
    return value


def nonlinearity(owner, value):
    if value not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return value


def dropout(owner, p, num_layers):
    """A probability, applied between stacked layers (a warning when there is only one) -> float."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: dropout must be a probability in [0, 1], got {p!r}")
    if p > 0 and num_layers == 1:
        warnings.warn(
            f"{owner}: dropout={p} acts between stacked layers, so with num_layers=1 it does nothing "
            "(it drops only what passes between layers)",
            stacklevel=4,
        )
    return float(p)


def kernel_size(owner, k):
    """An int or a (kh, kw) pair -> (kh, kw), both positive."""
    pair = (k, k) if isinstance(k, int) else k
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
    ):
        raise ValueError(f"{owner}: kernel_size must be a positive int or a (kh, kw) pair, got {k!r}")
    return tuple(pair)


def padding(owner, value, kernel):
    """Only size-keeping paddings make sense: the state must stay the frame's size."""
    if value == "same":
        return
    p = (value, value) if isinstance(value, int) else value
    if isinstance(p, (tuple, list)) and len(p) == 2 and all(2 * a == k - 1 for a, k in zip(p, kernel)):
        return
    raise ValueError(
        f"{owner}: padding {value!r} would change the spatial size with kernel {kernel}; "
        "use padding='same' (even kernels pad one more on the bottom/right, as PyTorch's 'same')"
    )


def per_layer(owner, what, value, num_layers, convert):
    """A single value for every layer, or a list with one entry per layer -> a list of converted values."""
    if isinstance(value, list):
        if len(value) != num_layers:
            raise ValueError(f"{owner}: {what} lists {len(value)} values for num_layers={num_layers}")
        return [convert(v) for v in value]
    return [convert(value)] * num_layers


def features(owner, input, input_size):
    """The last dim of ``input`` must be ``input_size`` (cells and layers alike)."""
    if input.shape[-1] != input_size:
        raise OpError(
            f"{owner}: input has {input.shape[-1]} features (shape {input.shape}) but input_size is {input_size}"
        )


def dtype(owner, input, weight):
    if input.dtype != weight.dtype:
        raise OpError(
            f"{owner}: input of shape {input.shape} is {input.dtype} but the parameters are "
            f"{weight.dtype}; convert one with .to({weight.dtype}) or module.to({input.dtype})"
        )


def bad_shape(owner, x, want):
    """The error for a missing or misshaped tensor argument."""
    got = x.shape if isinstance(x, Tensor) else type(x).__name__
    return OpError(f"{owner}: expected {want}, got {got}")
