"""Elementwise primitives. Broadcasting gradients are reduced by the engine.

Each class: ``forward`` on raw arrays, ``backward`` right below it.
"""

from __future__ import annotations

import math

from ..autograd import Function


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs(1) else None)


class Mul(Function):
    saves = (0, 1)

    def uses_saved(self, i):
        return self.needs(1 - i)  # each factor, for the other's gradient

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return (g * b if self.needs(0) else None), (g * a if self.needs(1) else None)


class Div(Function):
    saves = (0, 1)

    def uses_saved(self, i):
        return i == 1 or self.needs(1)  # b for both gradients, a for b's

    def forward(self, a, b):
        self.saved = (a, b)
        return a / b

    def backward(self, g):
        a, b = self.saved
        ga = g / b
        return (ga if self.needs(0) else None), (-ga * a / b if self.needs(1) else None)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class PowScalar(Function):
    """a ** p for a Python number p."""

    saves = (0,)

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

    saves = (0, 1)
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


class Exp(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.exp(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return g * self.saved[0]


class Log(Function):
    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.log(a)

    def backward(self, g):
        return g / self.saved[0]


class Log1p(Function):
    """log(1 + a), accurate for tiny a (where 1 + a would round to 1)."""

    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.log1p(a)

    def backward(self, g):
        return g / (1 + self.saved[0])


class Sqrt(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.sqrt(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return g / (2 * self.saved[0])


class Abs(Function):
    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.abs(a)

    def backward(self, g):
        return g * self.xp.sign(self.saved[0])


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


class Tanh(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.tanh(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        y = self.saved[0]
        return g * (1 - y * y)


def sigmoid_array(xp, a):
    """1 / (1 + exp(-a)) without overflow, underflow or warnings for any input.

    The exponent is clipped to +-log(smallest normal float), so exp neither
    overflows nor underflows (numpy would warn, or raise under
    np.errstate(all="raise")); past that bound sigmoid is within one tiny
    float of 0 or 1 anyway. Works in place on one temporary: this runs in
    every gate of every recurrent cell."""
    if not a.ndim:  # numpy returns scalars for 0-d arrays, and scalars have no out=
        return sigmoid_array(xp, a.reshape(1)).reshape(())
    bound = _LOG_TINY.get(a.dtype.char, 87.3)
    t = xp.maximum(a, -bound)
    xp.minimum(t, bound, out=t)
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


# -log of float16/32/64's smallest normal number, rounded down
_LOG_TINY = {"e": 9.7, "f": 87.3, "d": 708.3}


class Sigmoid(Function):
    saves_outputs = True

    def forward(self, a):
        out = sigmoid_array(self.xp, a)
        self.saved = (out,)
        return out

    def backward(self, g):
        y = self.saved[0]
        return g * y * (1 - y)


class Relu(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.maximum(a, 0)
        self.saved = (out,)
        return out

    def backward(self, g):
        return g * (self.saved[0] > 0)


class Clamp(Function):
    saves = (0,)

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


class Maximum(Function):
    """Elementwise max; ties split the gradient evenly (as PyTorch does)."""

    saves = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _split_by_mask(g, a > b, a == b)


class Minimum(Function):
    saves = (0, 1)

    def forward(self, a, b):
        self.saved = (a, b)
        return self.xp.minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        return _split_by_mask(g, a < b, a == b)


def _split_by_mask(g, first, tie):
    wa = first + 0.5 * tie
    return g * wa.astype(g.dtype), g * (1 - wa).astype(g.dtype)


class Where(Function):
    """where(cond, a, b); cond is a constant boolean array passed as a parameter."""

    def forward(self, a, b, cond):
        self.saved = (cond,)
        return self.xp.where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved
        xp = self.xp
        return (
            xp.where(cond, g, 0) if self.needs(0) else None,
            xp.where(cond, 0, g) if self.needs(1) else None,
        )


class Cast(Function):
    """Change dtype; the gradient is cast back."""

    def forward(self, a, dtype):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype)
