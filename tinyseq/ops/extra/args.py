"""Argument checks that only the PyTorch-parity ops use: one dim, size tuples, positive
ints and index tensors (the core's are in ops/args.py)."""

from __future__ import annotations

import numpy as np

from ..._tensor import Tensor
from ...autograd import OpError


def one_dim(x, dim, name):
    """One dim of ``x`` as a non-negative int (a 0-d tensor has dims 0 and -1)."""
    n = max(x.ndim, 1)
    if not isinstance(dim, int) or not -n <= dim < n:
        raise OpError(f"{name}: dim {dim!r} out of range for a tensor of shape {x.shape}")
    return dim % n


def ntuple(value, n, name, op, minimum=None):
    """A size argument as PyTorch takes it (an int, or n ints; each >= ``minimum`` when
    given) -> an n-tuple of ints."""
    t = (value,) * n if isinstance(value, int) else tuple(value)
    if len(t) != n or not all(
        isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum) for v in t
    ):
        what = "an int" if n == 1 else "an int or a pair of ints"
        bound = "" if minimum is None else f" >= {minimum}"
        raise OpError(f"{op}: {name} must be {what}{bound}, got {value!r}")
    return t


def positive_int(value, name, op) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise OpError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


def index_array(x, index, name):
    """An int64 index array on ``x``'s device from a tensor, list or array."""
    if isinstance(index, Tensor):
        if index._backend is not x._backend:
            raise RuntimeError(f"{name}: index on {index.device} for a tensor on {x.device}")
        data = index._data
    else:
        data = np.asarray(index)
        data = x._backend.from_host(data.astype(np.int64) if data.size == 0 and data.dtype.kind == "f" else data)
    if data.dtype.kind not in "iu":
        raise OpError(f"{name}: index must hold integers, got {data.dtype}")
    return data.astype(np.int64, copy=False)
