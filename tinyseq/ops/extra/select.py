"""Picking and ordering elements: flip, narrow, unbind, index_select, gather, sort,
argsort, topk, cumsum, repeat, as PyTorch's. All differentiable in the values they
return; indices come back as int64 tensors without gradients."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._tensor import Tensor
from ...autograd import Function, OpError
from .args import index_array, one_dim

_Sorted = namedtuple("sort", ["values", "indices"])
_TopK = namedtuple("topk", ["values", "indices"])


def flip(x, dims):
    """``x`` reversed along each of ``dims`` (an int or a sequence); a view."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    index = [slice(None)] * x.ndim
    for d in dims:
        index[one_dim(x, d, "flip")] = slice(None, None, -1)
    return x[tuple(index)]


def narrow(x, dim, start, length):
    """Elements ``start`` .. ``start + length - 1`` along ``dim``; a view."""
    d = one_dim(x, dim, "narrow")
    n = x.shape[d]
    start = start + n if start < 0 else start
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise OpError(f"narrow: start {start} and length {length} do not fit dim {d} of shape {x.shape}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def unbind(x, dim=0):
    """The slices of ``x`` along ``dim``, as a tuple of tensors (that dim removed)."""
    d = one_dim(x, dim, "unbind")
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def index_select(x, dim, index):
    """``x`` at the positions ``index`` (1-D integers, repeats allowed) along ``dim``."""
    d = one_dim(x, dim, "index_select")
    idx = index_array(x, index, "index_select")
    if idx.ndim != 1:
        raise OpError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= x.shape[d]):  # PyTorch refuses negatives
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise OpError(
            f"index_select: index {bad} out of range for dim {d} of size {x.shape[d]}; indices must be in "
            f"[0, {x.shape[d]})"
        )
    return x[(slice(None),) * d + (Tensor._make(idx, x._backend),)]


class Gather(Function):
    """``out[..., i, ...] = a[..., index[..., i, ...], ...]`` along ``axis`` (PyTorch's
    gather): ``index`` has ``a``'s number of dims, and no dim but ``axis`` larger than
    ``a``'s. Repeated indices accumulate their gradients."""

    def forward(self, a, index, axis):
        xp = self.xp
        crop = tuple(slice(0, n) if d != axis else slice(None) for d, n in enumerate(index.shape))
        self.args = (a.shape, index, axis)
        return xp.take_along_axis(a[crop], index, axis=axis)

    def backward(self, g):
        xp = self.xp
        shape, index, axis = self.args
        n = index.ndim  # every position's own index along each dim (broadcasting), the gathered one along axis
        full = [xp.arange(m).reshape([m if d == k else 1 for d in range(n)]) for k, m in enumerate(index.shape)]
        full[axis] = index
        gx = xp.zeros(shape, dtype=g.dtype)
        self.backend.scatter_add(gx, tuple(full), g)
        return gx


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] for dim 1 (likewise any dim)."""
    d = one_dim(x, dim, "gather")
    idx = index_array(x, index, "gather")
    if idx.ndim != x.ndim or any(i > n for k, (i, n) in enumerate(zip(idx.shape, x.shape)) if k != d):
        raise OpError(f"gather: index of shape {tuple(idx.shape)} does not fit input {x.shape} along dim {d}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= x.shape[d]):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise OpError(f"gather: index {bad} out of range for dim {d} of size {x.shape[d]}")
    if not x.requires_grad:
        crop = tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(idx.shape))
        return Tensor._make(x.xp.take_along_axis(x._data[crop], idx, axis=d), x._backend)
    return Gather.apply(x, index=idx, axis=d)


def argsort(x, dim=-1, descending=False):
    """Indices that sort ``x`` along ``dim`` (ties keep their order)."""
    d = one_dim(x, dim, "argsort")
    xp = x.xp
    data = x._data
    if descending:  # negated, so that a stable ascending sort keeps ties in order
        data = -(data.astype(np.int64) if data.dtype.kind in "bu" else data)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), dtype=np.int64), x._backend)
    order = _stable_argsort(xp, data, d)
    if descending and data.dtype.kind in "fc" and xp.isnan(data).any():
        # PyTorch ranks NaN above every number, so a descending order starts with the NaNs
        # (in their order); the negated sort put them last
        nan_at = xp.isnan(xp.take_along_axis(data, order, axis=d))
        order = xp.take_along_axis(order, _stable_argsort(xp, (~nan_at).astype(np.int8), d), axis=d)
    return Tensor._make(order.astype(np.int64), x._backend)


def _stable_argsort(xp, a, axis):
    try:
        return xp.argsort(a, axis=axis, kind="stable")
    except (TypeError, NotImplementedError):  # CuPy's argsort is always stable and may refuse kind
        return xp.argsort(a, axis=axis)


def sort(x, dim=-1, descending=False):
    """(values, indices) of ``x`` sorted along ``dim``; values carry the gradient."""
    indices = argsort(x, dim, descending)
    if x.ndim == 0:
        return _Sorted(x, indices)
    return _Sorted(gather(x, dim, indices), indices)


def topk(x, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``,
    in order; values carry the gradient."""
    d = one_dim(x, dim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not isinstance(k, int) or not 0 <= k <= n:
        raise OpError(f"topk: k={k!r} must be in [0, {n}] for dim {d} of shape {x.shape}")
    order = argsort(x, d, descending=largest)
    indices = Tensor._make(order._data[(slice(None),) * d + (slice(0, k),)], x._backend)
    return _TopK(gather(x, d, indices), indices)


class Cumsum(Function):
    """Running sum along ``axis``; the gradient is the running sum from the other end."""

    def forward(self, a, axis):
        self.axis = axis
        return self.xp.cumsum(a, axis=axis)

    def backward(self, g):
        xp, axis = self.xp, self.axis
        return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


def cumsum(x, dim):
    """Running sum along ``dim``."""
    return Cumsum.apply(x, axis=one_dim(x, dim, "cumsum"))


def repeat(x, *sizes):
    """``x`` tiled ``sizes[i]`` times along each dim (leading sizes add dims), as
    PyTorch's ``Tensor.repeat``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < x.ndim or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise OpError(f"repeat: needs one non-negative int per dim of {x.shape} (or more), got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    # each dim n becomes (r, n), broadcast from (1, n), then merged: x tiled r times
    spread = x.reshape([v for n in shape for v in (1, n)])
    big = spread.expand(*[v for r, n in zip(sizes, shape) for v in (r, n)])
    return big.reshape([r * n for r, n in zip(sizes, shape)])
