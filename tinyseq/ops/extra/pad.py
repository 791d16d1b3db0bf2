"""Constant padding (``ts.pad``, PyTorch's ``F.pad``)."""

from __future__ import annotations

from ...autograd import Function, OpError
from ...dtypes import check_fill


class Pad(Function):
    """Constant padding; ``widths`` is numpy's ((before, after), ...) per axis."""

    def forward(self, a, widths, value):
        if any(w < 0 for pair in widths for w in pair):
            raise OpError(f"pad: negative padding {widths} is not supported (shape {a.shape})")
        self.slices = tuple(slice(b, n + b) for (b, _), n in zip(widths, a.shape))
        return self.xp.pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.slices]


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: ``pad`` = (left, right) for the last dim, then the one before, ..."""
    if mode != "constant":
        raise OpError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise OpError(f"pad: padding {tuple(pad)} needs pairs for at most {x.ndim} dims (shape {x.shape})")
    check_fill(value, x.dtype, "pad")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad.apply(x, widths=tuple(widths), value=value)

