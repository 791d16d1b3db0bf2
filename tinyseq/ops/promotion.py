"""PyTorch's type promotion: which dtype an op on mixed operands computes in.

Operands fall in three tiers, and a lower tier only matters when its
*category* (bool < integer < floating < complex) is higher than that of the
tiers above it:

1. tensors with at least one dimension,
2. zero-dimensional tensors,
3. Python (and numpy) scalars, which stand for the default dtype of their
   category: int -> int64, float -> the default float dtype, complex -> complex64
   (complex128 when the default float is float64).

So ``float32 (3,) + float64 (3,)`` is float64, ``float32 (3,) + float64 ()`` stays
float32, ``int64 (3,) + 2.5`` is float32, and ``uint8 (3,) + 300`` stays uint8.
Within a tier, ``promote_types`` decides. The ops cast their inputs to the
result; the cast is differentiable, so each input's gradient comes back in its
own dtype.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, as_dtype, get_default_dtype

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_COMPLEX_OF = {"e": np.dtype("complex64"), "f": np.dtype("complex64"), "d": np.dtype("complex128")}


def _category(dtype) -> int:
    return _CATEGORY[dtype.kind]


def promote_types(type1, type2) -> np.dtype:
    """The smallest dtype that both promote to (``torch.promote_types``): the higher
    category wins (int64 and float16 -> float16), within one category the wider type."""
    a, b = as_dtype(type1), as_dtype(type2)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb and min(ca, cb) < 2:  # bool or integer against a higher category
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """The result of a tier (``higher``) and the tiers below it (``lower``)."""
    if lower is None or higher is lower:
        return higher
    if higher is None:
        return lower
    ch, cl = _category(higher), _category(lower)
    if ch == 3:
        return higher
    if cl == 3:
        return _COMPLEX_OF[higher.char] if ch == 2 else lower
    if ch == 2:
        return higher
    if ch == 0 or cl == 2:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value) -> np.dtype:
    """The dtype a Python or numpy scalar stands for in promotion."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, (float, np.floating)):
        return get_default_dtype()
    if isinstance(value, (complex, np.complexfloating)):
        return _COMPLEX_OF[get_default_dtype().char]
    raise TypeError(f"result_type: unsupported operand type {type(value).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype PyTorch computes ``operands`` (tensors and scalars) in (``torch.result_type``)."""
    tiers = [None, None, None]
    for x in operands:
        if isinstance(x, Tensor):
            tier, dtype = (1 if x._data.ndim == 0 else 0), x._data.dtype
        else:
            tier, dtype = 2, scalar_dtype(x)
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    if all(t is None for t in tiers):
        raise TypeError("result_type: expected at least one operand")
    return _combine(tiers[0], _combine(tiers[1], tiers[2]))


def pair_dtype(a, b) -> np.dtype:
    """``result_type(a, b)`` for two tensors, kept short: it runs on every binary op."""
    da, db = a._data.dtype, b._data.dtype
    if da == db:
        return da
    za, zb = a._data.ndim == 0, b._data.ndim == 0
    if za == zb:
        return promote_types(da, db)
    return _combine(db, da) if za else _combine(da, db)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's in-place ops may write a ``from_`` result into a ``to`` tensor
    (no cast to a lower category: float into int, or anything but bool into bool)."""
    return _category(as_dtype(from_)) <= _category(as_dtype(to))
