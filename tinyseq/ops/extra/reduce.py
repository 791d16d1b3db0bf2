"""More reductions with PyTorch's names: max/min with indices, arg-max/min, any/all,
variance, norms, products."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from ..._tensor import Tensor
from ...autograd import Function, OpError
from ..args import axes_of
from ..convert import cast, clone
from ..reduce import Amax, Amin, _expand_back, amax, mean, sum
from .math import abs, maximum, minimum


class Norm2(Function):
    """Euclidean norm over ``axis``; the gradient x / norm is 0 where the norm is 0
    (the subgradient PyTorch picks), not nan."""

    saved_inputs = (0,)
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


def _arg(x, dim, keepdim, fn, name):
    xp = x.xp
    if dim is None:
        out = fn(x._data.reshape(-1))
        if keepdim:
            out = xp.asarray(out).reshape((1,) * x.ndim)
    else:
        (axis,) = axes_of(x, dim, name) or (0,)
        out = fn(x._data, axis=axis)
        if keepdim:
            out = xp.expand_dims(out, axis)
    return Tensor._make(xp.asarray(out).astype(np.int64), x._backend)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest value (flattened when ``dim`` is None); no gradient."""
    return _arg(x, dim, keepdim, x.xp.argmax, "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, x.xp.argmin, "argmin")


def any(x, dim=None, keepdim=False):
    """Whether any element (along ``dim``) is true or non-zero -> bool tensor."""
    return Tensor._make(x.xp.asarray(x._data.any(axis=axes_of(x, dim, "any"), keepdims=keepdim)), x._backend)


def all(x, dim=None, keepdim=False):
    """Whether every element (along ``dim``) is true or non-zero -> bool tensor."""
    return Tensor._make(x.xp.asarray(x._data.all(axis=axes_of(x, dim, "all"), keepdims=keepdim)), x._backend)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = axes_of(x, dim, "var")
    n = x.numel() if axes is None else math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim=dim, keepdim=True)
    return sum(centered * centered, dim=dim, keepdim=keepdim) / float(builtins.max(n - correction, 0))


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation (``correction=1`` by default); the gradient is 0 where every value
    is the same (as PyTorch), not the nan of sqrt's derivative at 0."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = axes_of(x, dim, "std")
    n = x.numel() if axes is None else math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim=dim, keepdim=True)
    return Norm2.apply(centered, axis=axes, keepdims=keepdim) / math.sqrt(builtins.max(n - correction, 0))


def norm(x, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements when None): p = 2 or "fro" (Euclidean,
    gradient 0 at 0), 1, or inf (largest magnitude; ties share the gradient)."""
    axes = axes_of(x, dim, "norm")
    if p in ("fro", 2):
        return Norm2.apply(x, axis=axes, keepdims=keepdim)
    if p == 1:
        return sum(abs(x), dim=dim, keepdim=keepdim)
    if p == math.inf:
        return amax(abs(x), dim=dim, keepdim=keepdim)
    raise OpError(f"norm: p must be 1, 2, 'fro' or inf, got {p!r}")


class Prod(Function):
    """Product over one ``axis`` (None: all elements). The gradient of each element is
    the product of the others, from running products from both ends: exact where
    some elements are zero, where out / x would divide by zero."""

    saved_inputs = (0,)

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


def prod(x, dim=None, keepdim=False, dtype=None):
    """Product of all elements, or along one ``dim``; integers and bools multiply in int64.
    The gradient of each element is the product of the others (exact with zeros)."""
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "bui" and x.dtype != np.int64:
        x = cast(x, np.int64)
    if dim is not None and not isinstance(dim, int):
        raise OpError(f"prod: dim must be an int, got {dim!r}")
    axis = axes_of(x, dim, "prod")
    if x.dtype.kind not in "fc":
        return Tensor._make(x._data.prod(axis=axis, keepdims=keepdim), x._backend)
    return Prod.apply(x, axis=axis, keepdims=keepdim)


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


_MinMax = namedtuple("values_indices", ["values", "indices"])


def _minmax(x, dim, keepdim, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # max(a, b): the elementwise form
        return (maximum if largest else minimum)(x, dim)
    if x._data.size == 0:
        raise OpError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    if dim is None:
        return (Amax if largest else Amin).apply(x, axis=None, keepdims=False)
    if x.ndim == 0:
        axes_of(x, dim, name)  # range check: 0 and -1 are the only dims of a 0-d tensor
        return _MinMax(clone(x), Tensor._make(x.xp.zeros((), dtype=np.int64), x._backend))
    (axis,) = axes_of(x, dim, name)
    xp = x.xp
    index = (xp.argmax if largest else xp.argmin)(x._data, axis=axis)
    values = TakeAlong.apply(x, index=index, axis=axis, keepdims=keepdim)
    if keepdim:
        index = xp.expand_dims(index, axis)
    return _MinMax(values, Tensor._make(index.astype(np.int64), x._backend))


def max(x, dim=None, keepdim=False):
    """Largest value; with ``dim``: ``(values, indices)`` along it. ``max(a, b)``: elementwise."""
    return _minmax(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    """Smallest value; with ``dim``: ``(values, indices)`` along it."""
    return _minmax(x, dim, keepdim, False)

