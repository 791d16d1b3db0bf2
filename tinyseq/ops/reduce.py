"""Reductions. ``axis`` is None (all) or a tuple of non-negative ints."""

from __future__ import annotations

import math

from ..autograd import Function


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
    saves = (0,)
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


class TakeAlong(Function):
    """Values at ``index`` along ``axis`` (max/min with dim); gradient to those indices."""

    def forward(self, a, index, axis, keepdims):
        xp = self.xp
        idx = xp.expand_dims(index, axis)
        self.saved = (idx,)
        self.args = (a.shape, axis, keepdims)
        out = xp.take_along_axis(a, idx, axis=axis)
        return out if keepdims else out.squeeze(axis)

    def backward(self, g):
        (idx,) = self.saved
        shape, axis, keepdims = self.args
        xp = self.xp
        gx = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(gx, idx, g if keepdims else xp.expand_dims(g, axis), axis=axis)
        return gx


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


class Cumsum(Function):
    """Running sum along ``axis``; the gradient is the running sum from the other end."""

    def forward(self, a, axis):
        self.axis = axis
        return self.xp.cumsum(a, axis=axis)

    def backward(self, g):
        xp, axis = self.xp, self.axis
        return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


class Norm2(Function):
    """Euclidean norm over ``axis``; the gradient x / norm is 0 where the norm is 0
    (the subgradient PyTorch picks), not nan."""

    saves = (0,)
    saves_outputs = True  # the norm, which the returned tensor views

    def forward(self, a, axis, keepdims):
        xp = self.xp
        out = xp.sqrt((a * a).sum(axis=axis, keepdims=True))
        self.saved = (a, out)
        self.args = (a.shape, axis, keepdims)
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    def backward(self, g):
        a, out = self.saved
        shape, axis, keepdims = self.args
        safe = self.xp.where(out == 0, 1, out)
        return a * (_expand_back(g, shape, axis, keepdims) / safe) * (out != 0)


class Prod(Function):
    """Product over one ``axis`` (None: all elements). The gradient of each element is
    the product of the others, from running products from both ends: exact where
    some elements are zero, where out / x would divide by zero."""

    saves = (0,)

    def forward(self, a, axis, keepdims):
        self.saved = (a,)
        self.args = (axis, keepdims)
        return a.prod(axis=axis, keepdims=keepdims)

    def backward(self, g):
        (a,) = self.saved
        axis, keepdims = self.args
        xp = self.xp
        x = a.reshape(-1) if axis is None else a
        ax = 0 if axis is None else axis[0]
        n = x.shape[ax]
        if n == 0:
            return xp.zeros(a.shape, dtype=g.dtype)
        ones = xp.ones(x.shape[:ax] + (1,) + x.shape[ax + 1 :], dtype=x.dtype)
        before = xp.concatenate([ones, xp.cumprod(x, axis=ax).take(xp.arange(n - 1), axis=ax)], axis=ax)
        after = xp.flip(xp.cumprod(xp.flip(x, ax), axis=ax), ax)
        after = xp.concatenate([after.take(xp.arange(1, n), axis=ax), ones], axis=ax)
        others = (before * after).reshape(a.shape)
        return others * _expand_back(g, a.shape, axis, keepdims)
