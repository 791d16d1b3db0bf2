"""Max and average pooling over 1 or 2 spatial dims, PyTorch's semantics.

Each output position's window is gathered from the (padded) input with one
indexing op, (N, C, *out, prod(kernel)); max pooling takes the first largest
value of each window (so its gradient goes there, as PyTorch's does), average
pooling sums and divides by PyTorch's divisor. Built from primitive ops, so the
gradients, devices and graph drawings come for free.
"""

from __future__ import annotations

import math

import numpy as np

from ..._tensor import Tensor
from ...autograd import OpError
from .args import ntuple, positive_int
from .pad import pad
from .reduce import max as _max


class _PoolWindows:
    """Output sizes, paddings and per-dim window indices of one pooling call."""

    def __init__(self, op, spatial, kernel, stride, padding, dilation, ceil_mode):
        n = len(spatial)
        self.kernel = ntuple(kernel, n, "kernel_size", op, 1)
        self.stride = self.kernel if stride is None or stride == [] else ntuple(stride, n, "stride", op, 1)
        self.padding = ntuple(padding, n, "padding", op, 0)
        self.dilation = ntuple(dilation, n, "dilation", op, 1)
        self.out, self.right = [], []
        for L, k, s, p, d in zip(spatial, self.kernel, self.stride, self.padding, self.dilation):
            if 2 * p > d * (k - 1) + 1:
                raise OpError(f"{op}: padding {p} should be at most half of the effective kernel size "
                              f"{d * (k - 1) + 1}")  # fmt: skip
            span = L + 2 * p - d * (k - 1) - 1
            if span < 0:
                raise OpError(f"{op}: input of spatial size {tuple(spatial)} is smaller than the window "
                              f"(kernel {self.kernel}, dilation {self.dilation}, padding {self.padding})")  # fmt: skip
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= L + p:  # the last window must start inside the input or left padding
                o -= 1
            self.out.append(o)
            # right padding: the given one, plus what a ceil_mode window hangs over
            self.right.append(max(p, (o - 1) * s + d * (k - 1) + 1 - L - p))

    def windows(self, x, fill):
        """x (N, C, *spatial) -> (N, C, *out, prod(kernel)) windows, padding filled with ``fill``."""
        n = len(self.kernel)
        pads = []
        for p, r in zip(reversed(self.padding), reversed(self.right)):
            pads += [p, r]
        if any(pads):
            x = pad(x, pads, value=fill)
        xp = x.xp
        index = []
        for j, (o, k, s, d) in enumerate(zip(self.out, self.kernel, self.stride, self.dilation)):
            shape = [1] * (2 * n)
            shape[j], shape[n + j] = o, k
            start = xp.arange(o)[:, None] * s + xp.arange(k)[None, :] * d
            index.append(Tensor._make(start.reshape(shape), x._backend))
        w = x[(slice(None), slice(None), *index)]
        return w.reshape(w.shape[: 2 + n] + (math.prod(self.kernel),))

    def divisor(self, spatial, count_include_pad, xp, dtype):
        """(*out) window sizes that average pooling divides by (PyTorch's rule)."""
        total = np.ones((), dtype=np.float64)
        for L, o, k, s, p in zip(spatial, self.out, self.kernel, self.stride, self.padding):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, L + p)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, L)
            total = np.multiply.outer(total, end - start)
        return xp.asarray(total.astype(dtype))


def _batched(x, n, op):
    """(C, *spatial) or (N, C, *spatial) -> the batched form and whether it came unbatched."""
    if x.ndim not in (n + 1, n + 2):
        raise OpError(f"{op}: expected a {n + 1}-D or {n + 2}-D input, got shape {x.shape}")
    return (x.unsqueeze(0), True) if x.ndim == n + 1 else (x, False)


def _max_pool(x, n, kernel_size, stride, padding, dilation, ceil_mode, return_indices, op):
    x, unbatched = _batched(x, n, op)
    spatial = x.shape[2:]
    geo = _PoolWindows(op, spatial, kernel_size, stride, padding, dilation, ceil_mode)
    values, local = _max(geo.windows(x, float("-inf")), dim=-1)
    if unbatched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    # window-local index -> flat index into the input's spatial dims, as PyTorch returns
    xp = x.xp
    flat = xp.zeros(local.shape, dtype=np.int64)
    rest = local._data
    for j in reversed(range(n)):
        rest, offset = xp.divmod(rest, geo.kernel[j])
        shape = [1] * (2 + n)
        shape[2 + j] = geo.out[j]
        pos = (xp.arange(geo.out[j]) * geo.stride[j] - geo.padding[j]).reshape(shape) + offset * geo.dilation[j]
        flat += pos * math.prod(spatial[j + 1 :])
    indices = Tensor._make(flat, x._backend)
    return values, (indices.squeeze(0) if unbatched else indices)


def _avg_pool(x, n, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, op):
    x, unbatched = _batched(x, n, op)
    spatial = x.shape[2:]
    geo = _PoolWindows(op, spatial, kernel_size, stride, padding, 1, ceil_mode)
    sums = geo.windows(x, 0.0).sum(dim=-1)
    if divisor_override is not None:
        out = sums / float(positive_int(divisor_override, "divisor_override", op))
    else:
        out = sums / Tensor._make(geo.divisor(spatial, count_include_pad, x.xp, x.dtype), x._backend)
    return out.squeeze(0) if unbatched else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of the last dim of (N, C, L) or (C, L) -> (N, C, Lo) (and, with
    ``return_indices``, where each max came from along L)."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo) (and, with
    ``return_indices``, each max's flat index h * W + w in the input)."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of the last dim of (N, C, L) or (C, L) -> (N, C, Lo)."""
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):  # fmt: skip
    """Mean over windows of (N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo)."""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool2d")  # fmt: skip

