"""The differentiable functions (``ts.add``, ``ts.matmul``, ``ts.cat`` ...).

Each one checks and normalises its arguments (PyTorch's ``dim``/``keepdim``,
Python scalars, negative dims) and applies one primitive from
``elementwise``, ``reduce``, ``shape`` or ``matmul``; composite functions
(softmax, var, ...) are built from those primitives.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from ..autograd import Function, OpError, _share_version
from ..tensor import Tensor, as_dtype, check_cast, check_fill, get_default_dtype
from . import elementwise as E
from . import matmul as M
from . import promotion as P
from . import reduce as R
from . import shape as S
from . import special as Sp

_scalar_cache: dict = {}


def _const(value, dtype, be):
    """A 0-d constant (cached: GPU devices would copy a new one each call)."""
    key = (value, dtype, be.name, type(value))
    arr = _scalar_cache.get(key)
    if arr is None:
        if len(_scalar_cache) > 4096:
            _scalar_cache.clear()
        try:
            arr = be.xp.asarray(value, dtype=dtype)
        except OverflowError:  # an int past a small int type's range wraps, as in PyTorch
            arr = be.xp.asarray(value).astype(dtype)
        _scalar_cache[key] = arr
    return Tensor._make(arr, be)


def _is_float(dtype) -> bool:
    return dtype.kind in "fc"


def _pair(a, b, name):
    """Two tensors of one dtype from tensors and Python numbers, cast to the dtype
    PyTorch's promotion gives (see ``promotion``)."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{name}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
        b, a = _pair(b, a, name)
        return a, b
    if isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is db or da == db:  # builtin dtypes are shared objects: usually one `is`
            return a, b
        common = P.pair_dtype(a, b)
        return cast(a, common), cast(b, common)
    cls = b.__class__
    if cls is float or cls is int:  # the common cases first: the tensor's dtype holds the number
        da = a._data.dtype
        if da.kind in "fc" or (cls is int and da.kind in "iu"):
            return a, _const(b, da, a._backend)
    if isinstance(b, (bool, int, float, complex, np.number, np.bool_)):
        da = a._data.dtype
        common = P._combine(da, P.scalar_dtype(b))
        if common is not da and common != da:
            a = cast(a, common)
        return a, _const(b, common, a._backend)
    if isinstance(b, np.ndarray) or hasattr(b, "__array__"):
        return a, Tensor(b, device=a.device).to(a.dtype)
    raise TypeError(f"{name}: unsupported operand type {type(b).__name__}")


def _binary(op, name):
    def fn(a, b):
        a, b = _pair(a, b, name)
        return op.apply(a, b)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting; Python numbers work on either side."
    return fn


mul = _binary(E.Mul, "mul")


def add(a, b, alpha=1):
    """a + alpha * b, elementwise with broadcasting; Python numbers work on either side."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha
    a, b = _pair(a, b, "add")
    return E.Add.apply(a, b)


def sub(a, b, alpha=1):
    """a - alpha * b, elementwise with broadcasting; Python numbers work on either side."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha
    a, b = _pair(a, b, "sub")
    return E.Sub.apply(a, b)


maximum = _binary(E.Maximum, "maximum")
minimum = _binary(E.Minimum, "minimum")


def div(a, b, rounding_mode=None):
    """Elementwise a / b with broadcasting; integers divide to the default float dtype.
    ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient (integers stay integers;
    no gradient flows through the rounding, as in PyTorch)."""
    a, b = _pair(a, b, "div")
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    if not _is_float(a._data.dtype):
        a, b = cast(a, get_default_dtype()), cast(b, get_default_dtype())
    return E.Div.apply(a, b)


def floor_divide(a, b):
    """Elementwise floor(a / b) (``a // b``); integers stay integers. No gradient, as in PyTorch."""
    return div(a, b, rounding_mode="floor")


def remainder(a, b):
    """Elementwise a - b * floor(a / b) (``a % b``): the sign of ``b``, as Python's ``%``.
    Differentiable: 1 for ``a``, -floor(a / b) for ``b``."""
    a, b = _pair(a, b, "remainder")
    if not _is_float(a._data.dtype):
        if a._backend is not b._backend:
            raise RuntimeError(f"remainder: tensors on different devices ({a.device} and {b.device})")
        return Tensor._make(a.xp.asarray(a.xp.mod(a._data, b._data)), a._backend)
    return a - b * floor_divide(a.detach(), b.detach())


def _rounded_div(a, b, mode):
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    if a._backend is not b._backend:
        raise RuntimeError(f"div: tensors on different devices ({a.device} and {b.device})")
    xp, x, y = a.xp, a._data, b._data
    if _is_float(x.dtype):
        q = xp.floor(x / y) if mode == "floor" else xp.trunc(x / y)
    elif mode == "floor":
        q = xp.floor_divide(x, y)
    else:  # toward zero: the floor quotient, one up where the signs differ and it is inexact
        q = xp.floor_divide(x, y)
        q = q + ((q < 0) & (q * y != x)).astype(q.dtype)
    return Tensor._make(xp.asarray(q), a._backend)


true_divide = div


def pow(a, b):
    """a ** b; b a Python number or a tensor (a may be a number when b is a tensor)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if not _is_float(a.dtype):
            if isinstance(b, int):
                return Tensor._make(a._data**b, a._backend)
            a = cast(a, get_default_dtype())
        return E.PowScalar.apply(a, p=b)
    if not isinstance(a, Tensor) and isinstance(b, Tensor) and isinstance(a, (int, float)):
        if not _is_float(b.dtype):
            if isinstance(a, int):
                return Tensor._make(b.xp.asarray(a, dtype=b.dtype) ** b._data, b._backend)
            b = cast(b, get_default_dtype())
        return E.RPowScalar.apply(b, c=a)
    a, b = _pair(a, b, "pow")
    return E.Pow.apply(a, b)


def _unary(op, name, doc):
    def fn(x):
        if x._data.dtype.kind not in "fc":
            x = cast(x, get_default_dtype())
        return op.apply(x)

    fn.__name__ = name
    fn.__doc__ = doc
    return fn


exp = _unary(E.Exp, "exp", "Elementwise e**x.")
log = _unary(E.Log, "log", "Elementwise natural logarithm.")
log1p = _unary(E.Log1p, "log1p", "log(1 + x), accurate where x is tiny.")
sqrt = _unary(E.Sqrt, "sqrt", "Elementwise square root.")
tanh = _unary(E.Tanh, "tanh", "Elementwise hyperbolic tangent.")
sin = _unary(E.Sin, "sin", "Elementwise sine (radians).")
cos = _unary(E.Cos, "cos", "Elementwise cosine (radians).")
sigmoid = _unary(E.Sigmoid, "sigmoid", "Elementwise logistic function; no overflow for any finite input.")
relu = _unary(E.Relu, "relu", "Elementwise max(x, 0).")
erf = _unary(Sp.Erf, "erf", "Elementwise error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt (float64-accurate).")


def neg(x):
    return E.Neg.apply(x)


def abs(x):
    """Elementwise |x| (gradient 0 at 0, as PyTorch)."""
    if not _is_float(x.dtype):
        return Tensor._make(x.xp.abs(x._data), x._backend)
    return E.Abs.apply(x)


def square(x):
    return pow(x, 2)


def sign(x):
    """Elementwise sign; not differentiable (its gradient is zero)."""
    return Tensor._make(x.xp.sign(x._data), x._backend)


def clamp(x, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    return E.Clamp.apply(x, lo=min, hi=max)


clip = clamp


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` else ``b`` (broadcasting)."""
    if isinstance(condition, Tensor):
        cond = condition._data
    else:
        ref = a if isinstance(a, Tensor) else b
        cond = ref._backend.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = _pair(a, b, "where")
    return E.Where.apply(a, b, cond=cond)


def masked_fill(x, mask, value):
    """``x`` with ``value`` where ``mask`` is true."""
    check_fill(value, x.dtype, "masked_fill")
    return where(mask, _const(value, x.dtype, x._backend), x)


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


def eq(a, b):
    return compare(a, b, "equal")


def ne(a, b):
    return compare(a, b, "not_equal")


def lt(a, b):
    return compare(a, b, "less")


def le(a, b):
    return compare(a, b, "less_equal")


def gt(a, b):
    return compare(a, b, "greater")


def ge(a, b):
    return compare(a, b, "greater_equal")


def isnan(x):
    return Tensor._make(x.xp.isnan(x._data), x._backend)


def isfinite(x):
    return Tensor._make(x.xp.isfinite(x._data), x._backend)


def any(x, dim=None, keepdim=False):
    """Whether any element (along ``dim``) is true or non-zero -> bool tensor."""
    return Tensor._make(x.xp.asarray(x._data.any(axis=_axes(x, dim, "any"), keepdims=keepdim)), x._backend)


def all(x, dim=None, keepdim=False):
    """Whether every element (along ``dim``) is true or non-zero -> bool tensor."""
    return Tensor._make(x.xp.asarray(x._data.all(axis=_axes(x, dim, "all"), keepdims=keepdim)), x._backend)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """|a - b| <= atol + rtol * |b| everywhere (broadcasting), as a Python bool."""
    bd = b._data if isinstance(b, Tensor) else b
    return builtins.bool(a.xp.allclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan))


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


def cast(x, dtype):
    """``x`` as ``dtype``; differentiable between float types."""
    dtype = as_dtype(dtype)
    if x._data.dtype == dtype:
        return x
    if not (_is_float(dtype) and _is_float(x.dtype)):
        check_cast(x._data, dtype, "cast", x.xp)
        return Tensor._make(x._data.astype(dtype), x._backend)
    return E.Cast.apply(x, dtype=dtype)


class _Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def clone(x):
    return _Clone.apply(x)


class _ToDevice(Function):
    """Move between devices; the gradient moves back."""

    def forward(self, a, target):
        self.source = self.backend
        self.out_backend = target
        return target.from_host(self.source.to_host(a))

    def backward(self, g):
        return self.source.from_host(self.out_backend.to_host(g))


def to_device(x, backend):
    out = _ToDevice.apply(x, target=backend)
    out._backend = backend
    return out


# -- reductions ------------------------------------------------------------------
def _axes(x, dim, name):
    """PyTorch ``dim`` (None, int or sequence, negatives allowed) -> tuple or None."""
    if dim is None:
        return None
    n = x._data.ndim
    if dim.__class__ is int and -n <= dim < n:  # the common case, kept cheap
        return (dim + n if dim < 0 else dim,)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -builtins.max(n, 1) <= d < builtins.max(n, 1):
            raise OpError(f"{name}: dim {d} out of range for a tensor of shape {x.shape}")
        out.append(d % n if n else 0)
    if len(set(out)) != len(out):
        raise OpError(f"{name}: dim {dim} repeats a dimension")
    return tuple(out) if n else None


def sum(x, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims by default)."""
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "bi" and x.dtype != np.int64:
        x = cast(x, np.int64)
    if x.dtype.kind not in "fc":
        return Tensor._make(x._data.sum(axis=_axes(x, dim, "sum"), keepdims=keepdim), x._backend)
    return R.Sum.apply(x, axis=_axes(x, dim, "sum"), keepdims=keepdim)


def prod(x, dim=None, keepdim=False, dtype=None):
    """Product of all elements, or along one ``dim``; integers and bools multiply in int64.
    The gradient of each element is the product of the others (exact with zeros)."""
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "bui" and x.dtype != np.int64:
        x = cast(x, np.int64)
    if dim is not None and not isinstance(dim, int):
        raise OpError(f"prod: dim must be an int, got {dim!r}")
    axis = _axes(x, dim, "prod")
    if x.dtype.kind not in "fc":
        return Tensor._make(x._data.prod(axis=axis, keepdims=keepdim), x._backend)
    return R.Prod.apply(x, axis=axis, keepdims=keepdim)


def mean(x, dim=None, keepdim=False):
    """Mean over ``dim`` (all dims by default)."""
    if not _is_float(x.dtype):
        raise OpError(f"mean: needs a floating-point tensor, got {x.dtype}; use .float() first")
    return R.Mean.apply(x, axis=_axes(x, dim, "mean"), keepdims=keepdim)


_MinMax = namedtuple("values_indices", ["values", "indices"])


def _minmax(x, dim, keepdim, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # max(a, b): the elementwise form
        return (maximum if largest else minimum)(x, dim)
    if x._data.size == 0:
        raise OpError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    if dim is None:
        return (R.Amax if largest else R.Amin).apply(x, axis=None, keepdims=False)
    if x.ndim == 0:
        _axes(x, dim, name)  # range check: 0 and -1 are the only dims of a 0-d tensor
        return _MinMax(clone(x), Tensor._make(x.xp.zeros((), dtype=np.int64), x._backend))
    (axis,) = _axes(x, dim, name)
    xp = x.xp
    index = (xp.argmax if largest else xp.argmin)(x._data, axis=axis)
    values = R.TakeAlong.apply(x, index=index, axis=axis, keepdims=keepdim)
    if keepdim:
        index = xp.expand_dims(index, axis)
    return _MinMax(values, Tensor._make(index.astype(np.int64), x._backend))


def max(x, dim=None, keepdim=False):
    """Largest value; with ``dim``: ``(values, indices)`` along it. ``max(a, b)``: elementwise."""
    return _minmax(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    """Smallest value; with ``dim``: ``(values, indices)`` along it."""
    return _minmax(x, dim, keepdim, False)


def amax(x, dim=None, keepdim=False):
    return R.Amax.apply(x, axis=_axes(x, dim, "amax"), keepdims=keepdim)


def amin(x, dim=None, keepdim=False):
    return R.Amin.apply(x, axis=_axes(x, dim, "amin"), keepdims=keepdim)


def _arg(x, dim, keepdim, fn, name):
    xp = x.xp
    if dim is None:
        out = fn(x._data.reshape(-1))
        if keepdim:
            out = xp.asarray(out).reshape((1,) * x.ndim)
    else:
        (axis,) = _axes(x, dim, name) or (0,)
        out = fn(x._data, axis=axis)
        if keepdim:
            out = xp.expand_dims(out, axis)
    return Tensor._make(xp.asarray(out).astype(np.int64), x._backend)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest value (flattened when ``dim`` is None); no gradient."""
    return _arg(x, dim, keepdim, x.xp.argmax, "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, x.xp.argmin, "argmin")


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(x, dim, "var")
    n = x.numel() if axes is None else math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim=dim, keepdim=True)
    return sum(centered * centered, dim=dim, keepdim=keepdim) / float(builtins.max(n - correction, 0))


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation (``correction=1`` by default); the gradient is 0 where every value
    is the same (as PyTorch), not the nan of sqrt's derivative at 0."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(x, dim, "std")
    n = x.numel() if axes is None else math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim=dim, keepdim=True)
    return R.Norm2.apply(centered, axis=axes, keepdims=keepdim) / math.sqrt(builtins.max(n - correction, 0))


def norm(x, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements when None): p = 2 or "fro" (Euclidean,
    gradient 0 at 0), 1, or inf (largest magnitude; ties share the gradient)."""
    axes = _axes(x, dim, "norm")
    if p in ("fro", 2):
        return R.Norm2.apply(x, axis=axes, keepdims=keepdim)
    if p == 1:
        return sum(abs(x), dim=dim, keepdim=keepdim)
    if p == math.inf:
        return amax(abs(x), dim=dim, keepdim=keepdim)
    raise OpError(f"norm: p must be 1, 2, 'fro' or inf, got {p!r}")


def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, stable for large logits."""
    return R.LogSumExp.apply(x, axis=_axes(x, dim, "logsumexp"), keepdims=keepdim)


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``, stable for logits of any size."""
    return exp(log_softmax(x, dim))


def log_softmax(x, dim=-1):
    """x - logsumexp(x) along ``dim``.

    The max is subtracted first, as a constant (log_softmax ignores shifts, so
    no gradient is lost): a large logsumexp would otherwise round away the
    small differences that matter."""
    _axes(x, dim, "log_softmax")
    if x._data.size == 0:  # nothing to normalise (amax of an empty dim would raise); PyTorch returns it empty
        return clone(x)
    shifted = x - amax(x.detach(), dim=dim, keepdim=True)
    return shifted - logsumexp(shifted, dim=dim, keepdim=True)


# -- shapes ----------------------------------------------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def reshape(x, *shape):
    """Same data, new shape (one entry may be -1)."""
    shape = _shape_arg(shape)
    in_shape = x._data.shape
    if shape == in_shape:
        return x
    n = x._data.size
    holes = shape.count(-1)
    size = math.prod(shape) * (-1 if holes == 1 else 1)
    if holes > 1 or (holes == 0 and size != n) or (holes == 1 and (size <= 0 or n % size)):
        raise OpError(f"reshape: cannot reshape a tensor of shape {x.shape} ({n} elements) to {shape}")
    return S.Reshape.apply(x, shape=shape)


def view(x, *shape):
    """Same data, new shape, always sharing memory with ``x`` (writes to one show in the
    other). A tensor whose strides do not allow that (a transpose, say) raises, as in
    PyTorch: ``reshape`` copies instead."""
    out = reshape(x, *shape)
    a = x._data
    if out is not x and a.size and not a.flags.c_contiguous and not x.xp.may_share_memory(a, out._data):
        raise RuntimeError(
            f"view: a tensor of shape {x.shape} whose strides do not fit {_shape_arg(shape)} cannot be viewed "
            "without a copy (it is not contiguous, e.g. a transpose); use .reshape(...) instead, or "
            ".contiguous().view(...)"
        )
    return out


def reshape_as(x, other):
    return reshape(x, other.shape)


def view_as(x, other):
    return view(x, other.shape)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:s] + (int(np.prod(x.shape[s : e + 1])),) + x.shape[e + 1 :]
    return reshape(x, shape)


def permute(x, *dims):
    dims = _shape_arg(dims)
    n = x._data.ndim
    if len(dims) != n:
        raise OpError(f"permute: {dims} is not a permutation of the {n} dims of shape {x.shape}")
    if n == 0:
        return x
    dims = _axes(x, dims, "permute")  # in range and no repeats: a permutation
    if dims == tuple(range(n)):
        return x
    return S.Permute.apply(x, axes=dims)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    n = x._data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    (d0,) = _axes(x, dim0, "transpose")
    (d1,) = _axes(x, dim1, "transpose")
    if d0 == d1:
        return x
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return S.Permute.apply(x, axes=tuple(dims))


swapaxes = transpose


def squeeze(x, dim=None):
    """Remove size-1 dims (only ``dim`` if given; a no-op when it is not size 1)."""
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = _axes(x, dim, "squeeze") or ()
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    n = x.ndim + 1
    if not -n <= dim < n:
        raise OpError(f"unsqueeze: dim {dim} out of range for a tensor of shape {x.shape}")
    dim %= n
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand(x, *sizes):
    """Broadcast to ``sizes`` (-1 keeps a dim) without copying."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise OpError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, n in enumerate(x.shape):
        if n != 1 and n != shape[lead + i]:
            raise OpError(f"expand: cannot expand shape {x.shape} to {sizes} (dim {i} has size {n})")
    if shape == x.shape:
        return x
    return S.Expand.apply(x, shape=shape)


def expand_as(x, other):
    return expand(x, other.shape)


def broadcast_to(x, shape):
    return expand(x, shape)


_BASIC_INDEX = (int, slice, type(None), type(Ellipsis))


def _index_array(p):
    """A list or array index as an array; an empty list is an empty *integer* index
    (numpy would make it float64, which no array accepts as an index)."""
    a = np.asarray(p)
    return a.astype(np.int64) if a.size == 0 and a.dtype.kind == "f" else a


def normalize_index(x, index):
    """PyTorch indices (ints, slices, None, ..., lists, int/bool tensors) as array indices."""
    if index.__class__ in _BASIC_INDEX:
        return index
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            if p._backend is not x._backend:
                raise RuntimeError(f"getitem: index on {p.device} for a tensor on {x.device}")
            p = p._data
        elif isinstance(p, (list, np.ndarray)):
            p = x._backend.from_host(_index_array(p))
        elif isinstance(p, np.integer):
            p = int(p)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _split_ints(index):
    """PyTorch applies integer indices before array indices (numpy mixes them, which
    moves the array dims elsewhere): split ``index`` into a basic index holding the
    ints, and the rest to apply to its result. None when no such mix is present."""
    if index.__class__ is not tuple:
        return None
    arrays = [p for p in index if not isinstance(p, (int, slice, type(None), type(Ellipsis)))]
    if not arrays or not builtins.any(isinstance(p, int) for p in index):
        return None
    first, rest = [], []
    for p in index:
        if isinstance(p, int):
            first.append(p)
        elif isinstance(p, (slice, type(None), type(Ellipsis))):
            first.append(p)
            rest.append(p if p is Ellipsis else slice(None))
        else:  # an index array; a boolean mask consumes one dim per mask dim
            width = p.ndim if getattr(p, "dtype", None) is not None and p.dtype == bool else 1
            first.extend([slice(None)] * width)
            rest.append(p)
    return tuple(first), tuple(rest)


def getitem(x, index):
    """``x[index]``: ints, slices (with steps), None, ..., integer or boolean arrays."""
    index = normalize_index(x, index)
    split = _split_ints(index)
    if split is not None:
        return getitem(getitem(x, split[0]), split[1])
    if x.requires_grad:
        return S.GetItem.apply(x, index=index)
    try:
        out = Tensor._make(x._data[index], x._backend)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} for a tensor of shape {x.shape}: {e}") from None
    if not S._is_advanced(index):  # a view, as GetItem's outputs are
        _share_version(x, out)
    return out


def _tensors(tensors, name):
    tensors = list(tensors)
    if not tensors:
        raise OpError(f"{name}: expected a non-empty sequence of tensors")
    common = None
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected tensors, got {type(t).__name__}")
        d = t._data.dtype
        common = d if common is None or common == d else P.promote_types(common, d)
    return [cast(t, common) for t in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dim; other dims must match."""
    tensors = _tensors(tensors, "cat")
    nd = tensors[0].ndim
    if nd == 0:
        raise OpError("cat: zero-dimensional tensors cannot be concatenated")
    (axis,) = _axes(tensors[0], dim, "cat")
    ref = tensors[0].shape
    for t in tensors:
        if t.ndim != nd or t.shape[:axis] + t.shape[axis + 1 :] != ref[:axis] + ref[axis + 1 :]:
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise OpError(f"cat: shapes {shapes} differ outside dim {dim}")
    if len(tensors) == 1:  # a new tensor, as PyTorch's: writing to it must not change the input
        return clone(tensors[0])
    return S.Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = _tensors(tensors, "stack")
    ref = tensors[0].shape
    for t in tensors:
        if t.shape != ref:
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise OpError(f"stack: all tensors need the same shape, got {shapes}")
    n = len(ref) + 1
    if not -n <= dim < n:
        raise OpError(f"stack: dim {dim} out of range for tensors of shape {ref}")
    return S.Stack.apply(*tensors, axis=dim % n)


def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
    (axis,) = _axes(x, dim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise OpError(f"split: split_size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise OpError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape {x.shape})")
    if len(sizes) == 1:
        return (x,)
    return S.Split.apply(x, sizes=sizes, axis=axis)


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    (axis,) = _axes(x, dim, "chunk")
    n = x.shape[axis]
    return split(x, builtins.max(-(-n // chunks), 1), dim)


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
    return S.Pad.apply(x, widths=tuple(widths), value=value)


# -- products ----------------------------------------------------------------------
def matmul(a, b):
    """Matrix product: 1-D, 2-D, batched (batch dims broadcast)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = _pair(a, b, "matmul")
    return M.MatMul.apply(a, b)


def bmm(a, b):
    """Batched matrix product of (B, n, m) and (B, m, p) -> (B, n, p) (no broadcasting)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise OpError(f"bmm: expects two 3-D tensors with the same batch size, got {a.shape} and {b.shape}")
    return matmul(a, b)


def _triangle(x, diagonal, name, keep):
    if x.ndim < 2:
        raise OpError(f"{name}: expects a tensor of at least 2 dims, got shape {x.shape}")
    n, m = x.shape[-2:]
    mask = keep(x.xp.arange(m)[None, :] - x.xp.arange(n)[:, None], diagonal)
    return where(Tensor._make(mask, x._backend), x, _const(0, x.dtype, x._backend))


def tril(x, diagonal=0):
    """``x`` with the elements above the ``diagonal``-th diagonal of the last two dims set to 0."""
    return _triangle(x, diagonal, "tril", lambda offset, k: offset <= k)


def triu(x, diagonal=0):
    """``x`` with the elements below the ``diagonal``-th diagonal of the last two dims set to 0."""
    return _triangle(x, diagonal, "triu", lambda offset, k: offset >= k)


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise OpError(f"mm: expects 2-D tensors, got {a.shape} and {b.shape}")
    return matmul(a, b)


import sys as _sys  # noqa: E402

from .. import tensor as _tensor_module  # noqa: E402
from .einsum import einsum  # noqa: E402, F401
from .select import argsort, cumsum, flip, gather, index_select, narrow, repeat, sort, topk, unbind  # noqa: E402, F401

_tensor_module._methods_from_ops(_sys.modules[__name__])
_tensor_module.Tensor.erf = erf  # special functions, beside the shared method table
