"""Elementwise ops: arithmetic, exp/log, activations, where, comparisons.

Each Function's ``forward`` works on raw arrays, with ``backward`` right below it;
its public wrapper (``ts.add``, ``ts.exp``, ...) follows, normalising Python
numbers and dtypes first. Broadcast gradients are summed back by the engine.
"""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd import Function, OpError
from ..dtypes import get_default_dtype
from .args import pair
from .convert import cast


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
    saved_inputs = (0, 1)

    def uses_saved_input(self, i):
        return self.needs(1 - i)  # each factor, for the other's gradient

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return (g * b if self.needs(0) else None), (g * a if self.needs(1) else None)


class Div(Function):
    saved_inputs = (0, 1)

    def uses_saved_input(self, i):
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


def _binary(op, name):
    def fn(a, b):
        a, b = pair(a, b, name)
        return op.apply(a, b)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting; Python numbers work on either side."
    return fn


mul = _binary(Mul, "mul")


def add(a, b, alpha=1):
    """a + alpha * b, elementwise with broadcasting; Python numbers work on either side."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha
    a, b = pair(a, b, "add")
    return Add.apply(a, b)


def sub(a, b, alpha=1):
    """a - alpha * b, elementwise with broadcasting; Python numbers work on either side."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha
    a, b = pair(a, b, "sub")
    return Sub.apply(a, b)


def div(a, b, rounding_mode=None):
    """Elementwise a / b with broadcasting; integers divide to the default float dtype.
    ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient (integers stay integers;
    no gradient flows through the rounding, as in PyTorch)."""
    a, b = pair(a, b, "div")
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    if a._data.dtype.kind not in "fc":
        a, b = cast(a, get_default_dtype()), cast(b, get_default_dtype())
    return Div.apply(a, b)


def _rounded_div(a, b, mode):
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    if a._backend is not b._backend:
        raise RuntimeError(f"div: tensors on different devices ({a.device} and {b.device})")
    xp, x, y = a.xp, a._data, b._data
    if x.dtype.kind in "fc":
        q = xp.floor(x / y) if mode == "floor" else xp.trunc(x / y)
    elif mode == "floor":
        q = xp.floor_divide(x, y)
    else:  # toward zero: the floor quotient, one up where the signs differ and it is inexact
        q = xp.floor_divide(x, y)
        q = q + ((q < 0) & (q * y != x)).astype(q.dtype)
    return Tensor._make(xp.asarray(q), a._backend)


class Exp(Function):
    saves_outputs = True

    def forward(self, a):
        out = self.xp.exp(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return g * self.saved[0]


class Log(Function):
    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return self.xp.log(a)

    def backward(self, g):
        return g / self.saved[0]


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


def _unary(op, name, doc):
    def fn(x):
        if x._data.dtype.kind not in "fc":
            x = cast(x, get_default_dtype())
        return op.apply(x)

    fn.__name__ = name
    fn.__doc__ = doc
    return fn


exp = _unary(Exp, "exp", "Elementwise e**x.")
log = _unary(Log, "log", "Elementwise natural logarithm.")
tanh = _unary(Tanh, "tanh", "Elementwise hyperbolic tangent.")
sigmoid = _unary(Sigmoid, "sigmoid", "Elementwise logistic function; no overflow for any finite input.")
relu = _unary(Relu, "relu", "Elementwise max(x, 0).")


def neg(x):
    """Elementwise -x."""
    return Neg.apply(x)


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


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` else ``b`` (broadcasting)."""
    if isinstance(condition, Tensor):
        cond = condition._data
    else:
        ref = a if isinstance(a, Tensor) else b
        cond = ref._backend.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = pair(a, b, "where")
    return Where.apply(a, b, cond=cond)


_COMPARE = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and", "logical_or"}


def compare(a, b, how):
    """Elementwise comparison -> bool tensor (no gradient)."""
    assert how in _COMPARE
    if isinstance(b, Tensor) and b._backend is not a._backend:
        raise RuntimeError(f"{how}: tensors on different devices ({a.device} and {b.device})")
    bd = b._data if isinstance(b, Tensor) else b
    try:
        return Tensor._make(getattr(a.xp, how)(a._data, bd), a._backend)
    except ValueError:
        other = b.shape if isinstance(b, Tensor) else np.shape(b)
        raise OpError(f"{how}: shapes {a.shape} and {tuple(other)} cannot be broadcast together") from None


def _comparison(how, name):
    def fn(a, b):
        return compare(a, b, how)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{how}`` with broadcasting -> bool tensor (no gradient)."
    return fn


eq = _comparison("equal", "eq")
ne = _comparison("not_equal", "ne")
lt = _comparison("less", "lt")
le = _comparison("less_equal", "le")
gt = _comparison("greater", "gt")
ge = _comparison("greater_equal", "ge")
logical_and = _comparison("logical_and", "logical_and")
logical_or = _comparison("logical_or", "logical_or")
