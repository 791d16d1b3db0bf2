"""Dtypes (numpy dtypes under PyTorch's names), the default float dtype, and PyTorch's
type promotion: which dtype an op on mixed operands computes in.

Promotion sorts operands in three tiers; a lower tier only matters when its
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

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
complex64 = np.dtype("complex64")
complex128 = np.dtype("complex128")
_DTYPES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "float16": float16, "half": float16, "int8": int8, "int16": int16, "short": int16,
    "int32": int32, "int": int32, "int64": int64, "long": int64, "uint8": uint8, "bool": bool_,
    "complex64": complex64, "cfloat": complex64, "complex128": complex128, "cdouble": complex128,
}  # fmt: skip
_default_float = [float32]  # what Python floats and floating factories give; set_default_dtype changes it


def get_default_dtype() -> np.dtype:
    """The floating dtype of ``ts.tensor(1.0)``, ``ts.zeros(2)``, int / int (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32, float64 or float16) the default floating dtype, as PyTorch's does."""
    d = as_dtype(dtype)
    if d not in (float32, float64, float16):
        raise TypeError(f"set_default_dtype: only floating dtypes (float32, float64, float16) are allowed, got {d}")
    _default_float[0] = d


def as_dtype(dtype):
    """A numpy dtype from a dtype, its name, or a Python type (float -> float32)."""
    if dtype is None:
        return None
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise TypeError(f"dtype: unknown dtype {dtype!r}")
        return _DTYPES[dtype]
    return np.dtype(dtype)


def check_fill(value, dtype, name) -> None:
    """Refuse a fill value that an integer dtype cannot hold (NaN, inf, out of range):
    numpy would fill with an arbitrary integer (NaN becomes -2**63) without a word."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or isinstance(value, (bool, np.bool_)):
        return
    if isinstance(value, (int, float, np.integer, np.floating)):
        info = np.iinfo(dtype)
        v = float(value) if isinstance(value, (float, np.floating)) else int(value)
        if v != v or not info.min <= v <= info.max:  # v != v: NaN
            raise ValueError(f"{name}: value {value!r} cannot be converted to {dtype} (NaN, inf or out of range)")


def check_cast(array, dtype, name) -> None:
    """Refuse casting float values an integer dtype cannot hold (NaN, inf, out of range):
    numpy (and PyTorch) would make them an arbitrary integer without a word."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or array.dtype.kind != "f" or not array.size:
        return
    info = np.iinfo(dtype)
    # every NaN fails both comparisons
    if not bool(((array >= info.min) & (array <= info.max)).all()):
        raise ValueError(
            f"{name}: cannot convert {array.dtype} values to {dtype}: some are NaN, inf or out of its range"
        )


# -- promotion ----------------------------------------------------------------------
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_COMPLEX_OF = {"e": complex64, "f": complex64, "d": complex128}
_SCALARS = (bool, int, float, complex, np.number, np.bool_)


def promote_types(type1, type2) -> np.dtype:
    """The smallest dtype that both promote to (``torch.promote_types``): the higher
    category wins (int64 and float16 -> float16), within one category the wider type."""
    a, b = as_dtype(type1), as_dtype(type2)
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb and min(ca, cb) < 2:  # bool or integer against a higher category
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """The result of a tier (``higher``) and the tiers below it (``lower``)."""
    if lower is None or higher is lower:
        return higher
    if higher is None:
        return lower
    ch, cl = _CATEGORY[higher.kind], _CATEGORY[lower.kind]
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
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return get_default_dtype()
    if isinstance(value, (complex, np.complexfloating)):
        return _COMPLEX_OF[get_default_dtype().char]
    raise TypeError(f"result_type: unsupported operand type {type(value).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype PyTorch computes ``operands`` (tensors and scalars) in (``torch.result_type``)."""
    tiers = [None, None, None]
    for x in operands:
        if isinstance(x, _SCALARS):
            tier, dtype = 2, scalar_dtype(x)
        else:  # a tensor
            tier, dtype = (1 if x.ndim == 0 else 0), x.dtype
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    if all(t is None for t in tiers):
        raise TypeError("result_type: expected at least one operand")
    return _combine(tiers[0], _combine(tiers[1], tiers[2]))


def can_cast(from_, to) -> bool:
    """Whether PyTorch's in-place ops may write a ``from_`` result into a ``to`` tensor
    (no cast to a lower category: float into int, or anything but bool into bool)."""
    return _CATEGORY[as_dtype(from_).kind] <= _CATEGORY[as_dtype(to).kind]
