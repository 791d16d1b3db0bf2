"""Argument normalisation shared by the ops: PyTorch's ``dim``, sizes, index
tensors, and Python numbers or mixed dtypes among a binary op's operands."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd import OpError
from ..dtypes import promote_types, result_type
from .convert import cast

_scalar_cache: dict = {}


def axes_of(x, dim, name):
    """PyTorch ``dim`` (None, int or sequence, negatives allowed) -> tuple or None."""
    if dim is None:
        return None
    n = x._data.ndim
    if dim.__class__ is int and -n <= dim < n:  # the common case, kept cheap
        return (dim + n if dim < 0 else dim,)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(n, 1) <= d < max(n, 1):
            raise OpError(f"{name}: dim {d} out of range for a tensor of shape {x.shape}")
        out.append(d % n if n else 0)
    if len(set(out)) != len(out):
        raise OpError(f"{name}: dim {dim} repeats a dimension")
    return tuple(out) if n else None


def const(value, dtype, be):
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


def pair(a, b, name):
    """Two tensors of one dtype from tensors and Python numbers, cast to the dtype
    PyTorch's promotion gives (see ``tinyseq.dtypes``)."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{name}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
        b, a = pair(b, a, name)
        return a, b
    if isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is db or da == db:  # builtin dtypes are shared objects: usually one `is`
            return a, b
        common = result_type(a, b)
        return cast(a, common), cast(b, common)
    cls = b.__class__
    if cls is float or cls is int:  # the common cases first: the tensor's dtype holds the number
        da = a._data.dtype
        if da.kind in "fc" or (cls is int and da.kind in "iu"):
            return a, const(b, da, a._backend)
    if isinstance(b, (bool, int, float, complex, np.number, np.bool_)):
        da = a._data.dtype
        common = result_type(a, b)
        if common is not da and common != da:
            a = cast(a, common)
        return a, const(b, common, a._backend)
    if isinstance(b, np.ndarray) or hasattr(b, "__array__"):
        return a, Tensor(b, device=a.device).to(a.dtype)
    raise TypeError(f"{name}: unsupported operand type {type(b).__name__}")


def as_tensors(seq, name):
    """A non-empty sequence of tensors, cast to their common dtype (cat, stack, einsum)."""
    seq = list(seq)
    if not seq:
        raise OpError(f"{name}: expected a non-empty sequence of tensors")
    common = None
    for t in seq:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected tensors, got {type(t).__name__}")
        d = t._data.dtype
        common = d if common is None or common == d else promote_types(common, d)
    return [cast(t, common) for t in seq]
