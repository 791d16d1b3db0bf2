"""Reductions: sum, mean, max/min, logsumexp, norms, softmax; ``axis`` is None
(all) or a tuple of non-negative ints (``args.axes_of`` turns PyTorch's ``dim`` into it)."""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..autograd import Function, OpError
from .args import axes_of
from .convert import cast, clone
from .elementwise import exp


def _expand_back(g, shape, axis, keepdims):
    """Re-insert reduced axes so ``g`` broadcasts against an input of ``shape``."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    out = list(g.shape)
    for a in sorted(axis):
        out.insert(a, 1)
    return g.reshape(out)


class Sum(Function):
    def forward(self, a, axis, keepdims):
        self.args = (a.shape, axis, keepdims)
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        shape, axis, keepdims = self.args
        return self.xp.broadcast_to(_expand_back(g, shape, axis, keepdims), shape)


class Mean(Function):
    def forward(self, a, axis, keepdims):
        self.args = (a.shape, axis, keepdims)
        return a.mean(axis=axis, keepdims=keepdims)

    def backward(self, g):
        shape, axis, keepdims = self.args
        n = math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)
        g = _expand_back(g, shape, axis, keepdims) / n
        return self.xp.broadcast_to(g, shape)


class Amax(Function):
    """max over ``axis``; tied maxima share the gradient evenly (PyTorch's amax)."""

    sign = 1
    saved_inputs = (0,)
    saves_outputs = True  # the max, which the returned tensor views

    def forward(self, a, axis, keepdims):
        out = a.max(axis=axis, keepdims=True) if self.sign > 0 else a.min(axis=axis, keepdims=True)
        self.saved = (a, out)
        self.args = (axis, keepdims)
        if keepdims:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis)

    def backward(self, g):
        a, out = self.saved
        axis, keepdims = self.args
        mask = (a == out).astype(g.dtype)
        count = mask.sum(axis=axis, keepdims=True)
        return mask / count * _expand_back(g, a.shape, axis, keepdims)


class Amin(Amax):
    sign = -1


class LogSumExp(Function):
    def forward(self, a, axis, keepdims):
        xp = self.xp
        m = a.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(a - m)
        s = e.sum(axis=axis, keepdims=True)
        out = xp.log(s) + m
        # backward needs softmax(a); e / s is exact where exp(a - out) would lose
        # digits to the rounding of a large ``out``
        self.saved = (e / s,)
        self.args = (axis, keepdims)
        if keepdims:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis)

    def backward(self, g):
        (p,) = self.saved
        axis, keepdims = self.args
        return p * _expand_back(g, p.shape, axis, keepdims)


def sum(x, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims by default)."""
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "bi" and x.dtype != np.int64:
        x = cast(x, np.int64)
    if x.dtype.kind not in "fc":
        return Tensor._make(x._data.sum(axis=axes_of(x, dim, "sum"), keepdims=keepdim), x._backend)
    return Sum.apply(x, axis=axes_of(x, dim, "sum"), keepdims=keepdim)


def mean(x, dim=None, keepdim=False):
    """Mean over ``dim`` (all dims by default)."""
    if x.dtype.kind not in "fc":
        raise OpError(f"mean: needs a floating-point tensor, got {x.dtype}; use .float() first")
    return Mean.apply(x, axis=axes_of(x, dim, "mean"), keepdims=keepdim)


def amax(x, dim=None, keepdim=False):
    return Amax.apply(x, axis=axes_of(x, dim, "amax"), keepdims=keepdim)


def amin(x, dim=None, keepdim=False):
    return Amin.apply(x, axis=axes_of(x, dim, "amin"), keepdims=keepdim)


def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, stable for large logits."""
    return LogSumExp.apply(x, axis=axes_of(x, dim, "logsumexp"), keepdims=keepdim)


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``, stable for logits of any size."""
    return exp(log_softmax(x, dim))


def log_softmax(x, dim=-1):
    """x - logsumexp(x) along ``dim``.

    The max is subtracted first, as a constant (log_softmax ignores shifts, so
    no gradient is lost): a large logsumexp would otherwise round away the
    small differences that matter."""
    axes_of(x, dim, "log_softmax")
    if x._data.size == 0:  # nothing to normalise (amax of an empty dim would raise); PyTorch returns it empty
        return clone(x)
    shifted = x - amax(x.detach(), dim=dim, keepdim=True)
    return shifted - logsumexp(shifted, dim=dim, keepdim=True)

