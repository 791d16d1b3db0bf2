"""More elementwise math with PyTorch's names: powers, sqrt, abs, min/max of two tensors,
clamp, masked_fill, triangles, rounding division, sin/cos/log1p/sign, closeness and
finiteness tests."""

from __future__ import annotations

import math

import numpy as np

from ..._tensor import Tensor
from ...autograd import Function, OpError
from ...dtypes import check_fill, get_default_dtype
from ..args import const, pair
from ..convert import cast
from ..elementwise import _binary, _unary, div, where


# -- powers --------------------------------------------------------------------------
class PowScalar(Function):
    """a ** p for a Python number p."""

    saved_inputs = (0,)

    def forward(self, a, p):
        self.p = p
        self.saved = (a,)
        return a**p

    def backward(self, g):
        (a,) = self.saved
        p = self.p
        if p == 2:
            return g * (2 * a)
        if p == 0:  # not 0 * 0**-1 = nan at a == 0
            return self.xp.zeros_like(g)
        return g * (p * a ** (p - 1))


class RPowScalar(Function):
    """c ** b for a Python number c > 0."""

    saves_outputs = True

    def forward(self, b, c):
        out = c**b
        self.saved = (out,)
        self.logc = math.log(c) if c > 0 else math.nan
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out * self.logc


class Pow(Function):
    """a ** b, both tensors."""

    saved_inputs = (0, 1)
    saves_outputs = True

    def forward(self, a, b):
        out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        xp = self.xp
        # b * a**(b-1) is 0 where b == 0 (not 0 * inf at a == 0), as PyTorch has it
        ga = g * xp.where(b == 0, 0, b * a ** (b - 1)) if self.needs(0) else None
        gb = None
        if self.needs(1):
            # d/db a**b = a**b log a; defined as 0 where a == 0 (as PyTorch does)
            safe = xp.where(a > 0, a, 1)
            gb = g * out * xp.log(safe)
        return ga, gb


def pow(a, b):
    """a ** b; b a Python number or a tensor (a may be a number when b is a tensor)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.dtype.kind not in "fc":
            if isinstance(b, int):
                return Tensor._make(a._data**b, a._backend)
            a = cast(a, get_default_dtype())
        return PowScalar.apply(a, p=b)
    if not isinstance(a, Tensor) and isinstance(b, Tensor) and isinstance(a, (int, float)):
        if b.dtype.kind not in "fc":
            if isinstance(a, int):
                return Tensor._make(b.xp.asarray(a, dtype=b.dtype) ** b._data, b._backend)
            b = cast(b, get_default_dtype())
        return RPowScalar.apply(b, c=a)
    a, b = pair(a, b, "pow")
    return Pow.apply(a, b)


def square(x):
    return pow(x, 2)


class Sqrt(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.sqrt(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return g / (2 * self.saved[0])


sqrt = _unary(Sqrt, "sqrt", "Elementwise square root.")


# -- more unary math ------------------------------------------------------------------
class Abs(Function):
    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.abs(a)

    def backward(self, g):
        return g * self.xp.sign(self.saved[0])


def abs(x):
    """Elementwise |x| (gradient 0 at 0, as PyTorch)."""
    if x.dtype.kind not in "fc":
        return Tensor._make(x.xp.abs(x._data), x._backend)
    return Abs.apply(x)


class Log1p(Function):
    """log(1 + a), accurate for tiny a (where 1 + a would round to 1)."""

    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.log1p(a)

    def backward(self, g):
        return g / (1 + self.saved[0])


class Sin(Function):
    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.sin(a)

    def backward(self, g):
        return g * self.xp.cos(self.saved[0])


class Cos(Function):
    saved_inputs = (0,)

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


# -- min / max of two tensors, clamp ---------------------------------------------------
class Maximum(Function):
    """Elementwise max; ties split the gradient evenly (as PyTorch does)."""

    saved_inputs = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _split_by_mask(g, a > b, a == b)


class Minimum(Function):
    saved_inputs = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return self.xp.minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _split_by_mask(g, a < b, a == b)


def _split_by_mask(g, first, tie):
    wa = first + 0.5 * tie
    return g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype)


maximum = _binary(Maximum, "maximum")

minimum = _binary(Minimum, "minimum")


class Clamp(Function):
    saved_inputs = (0,)

    def forward(self, a, lo, hi):
        self.saved = (a,)
        self.lo, self.hi = lo, hi
        return self.xp.clip(a, lo, hi)

    def backward(self, g):
        (a,) = self.saved
        mask = True
        if self.lo is not None:
            mask = a >= self.lo
        if self.hi is not None:
            mask = mask & (a <= self.hi)
        return g * mask


def clamp(x, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    return Clamp.apply(x, lo=min, hi=max)


# -- masks -----------------------------------------------------------------------------
def masked_fill(x, mask, value):
    """``x`` with ``value`` where ``mask`` is true."""
    check_fill(value, x.dtype, "masked_fill")
    return where(mask, const(value, x.dtype, x._backend), x)


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


# -- rounding division -----------------------------------------------------------------
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


# -- tests (no gradient) --------------------------------------------------------------
def isnan(x):
    return Tensor._make(x.xp.isnan(x._data), x._backend)


def isfinite(x):
    return Tensor._make(x.xp.isfinite(x._data), x._backend)


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


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """|a - b| <= atol + rtol * |b| everywhere (broadcasting), as a Python bool."""
    bd = b._data if isinstance(b, Tensor) else b
    return bool(a.xp.allclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan))

