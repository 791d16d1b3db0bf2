"""More math with PyTorch's names: products, triangles, rounding division, closeness."""

from __future__ import annotations

import numpy as np

from ...autograd import Function, OpError
from ...tensor import Tensor
from ..args import axes_of, const, pair
from ..convert import cast
from ..elementwise import _unary, div, where
from ..reduce import _expand_back


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


def _triangle(x, diagonal, name, keep):
    if x.ndim < 2:
        raise OpError(f"{name}: expects a tensor of at least 2 dims, got shape {x.shape}")
    n, m = x.shape[-2:]
    mask = keep(x.xp.arange(m)[None, :] - x.xp.arange(n)[:, None], diagonal)
    return where(Tensor._make(mask, x._backend), x, const(0, x.dtype, x._backend))


def tril(x, diagonal=0):
    """``x`` with the elements above the ``diagonal``-th diagonal of the last two dims set to 0."""
    return _triangle(x, diagonal, "tril", lambda offset, k: offset <= k)


def triu(x, diagonal=0):
    """``x`` with the elements below the ``diagonal``-th diagonal of the last two dims set to 0."""
    return _triangle(x, diagonal, "triu", lambda offset, k: offset >= k)


def floor_divide(a, b):
    """Elementwise floor(a / b) (``a // b``); integers stay integers. No gradient, as in PyTorch."""
    return div(a, b, rounding_mode="floor")


def remainder(a, b):
    """Elementwise a - b * floor(a / b) (``a % b``): the sign of ``b``, as Python's ``%``.
    Differentiable: 1 for ``a``, -floor(a / b) for ``b``."""
    a, b = pair(a, b, "remainder")
    if a._data.dtype.kind not in "fc":
        if a._backend is not b._backend:
            raise RuntimeError(f"remainder: tensors on different devices ({a.device} and {b.device})")
        return Tensor._make(a.xp.asarray(a.xp.mod(a._data, b._data)), a._backend)
    return a - b * floor_divide(a.detach(), b.detach())


class Log1p(Function):
    """log(1 + a), accurate for tiny a (where 1 + a would round to 1)."""

    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.log1p(a)

    def backward(self, g):
        return g / (1 + self.saved[0])


class Sin(Function):
    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.sin(a)

    def backward(self, g):
        return g * self.xp.cos(self.saved[0])


class Cos(Function):
    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.cos(a)

    def backward(self, g):
        return -g * self.xp.sin(self.saved[0])


log1p = _unary(Log1p, "log1p", "log(1 + x), accurate where x is tiny.")

sin = _unary(Sin, "sin", "Elementwise sine (radians).")

cos = _unary(Cos, "cos", "Elementwise cosine (radians).")


def sign(x):
    """Elementwise sign; not differentiable (its gradient is zero)."""
    return Tensor._make(x.xp.sign(x._data), x._backend)


def isnan(x):
    return Tensor._make(x.xp.isnan(x._data), x._backend)


def isfinite(x):
    return Tensor._make(x.xp.isfinite(x._data), x._backend)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """|a - b| <= atol + rtol * |b| everywhere (broadcasting), as a Python bool."""
    bd = b._data if isinstance(b, Tensor) else b
    return bool(a.xp.allclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |a - b| <= atol + rtol * |b| (broadcasting) -> bool tensor."""
    if not isinstance(a, Tensor):
        raise TypeError(f"isclose: expected a tensor, got {type(a).__name__}")
    if isinstance(b, Tensor) and b._backend is not a._backend:
        raise RuntimeError(f"isclose: tensors on different devices ({a.device} and {b.device})")
    bd = b._data if isinstance(b, Tensor) else b
    try:
        return Tensor._make(a.xp.isclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan), a._backend)
    except ValueError:
        raise OpError(f"isclose: shapes {a.shape} and {tuple(np.shape(bd))} cannot be broadcast together") from None

