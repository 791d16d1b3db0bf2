"""Copies and conversions: clone, dtype casts, device moves (``Tensor.to``)."""

from __future__ import annotations

from .._tensor import Tensor, parse_to_args
from ..autograd import Function
from ..backend import get_backend
from ..dtypes import as_dtype, check_cast


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def clone(x):
    """A copy of ``x`` with its own data; the gradient passes through."""
    return Clone.apply(x)


class Cast(Function):
    """Change dtype; the gradient is cast back."""

    def forward(self, a, dtype):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype)


def cast(x, dtype):
    """``x`` as ``dtype``; differentiable between float types."""
    dtype = as_dtype(dtype)
    if x._data.dtype == dtype:
        return x
    if not (dtype.kind in "fc" and x.dtype.kind in "fc"):
        check_cast(x._data, dtype, "cast")
        return Tensor._make(x._data.astype(dtype), x._backend)
    return Cast.apply(x, dtype=dtype)


class ToDevice(Function):
    """Move between devices; the gradient moves back."""

    def forward(self, a, target):
        self.source = self.backend
        self.target = target
        return target.from_host(self.source.to_host(a))

    def backward(self, g):
        return self.source.from_host(self.target.to_host(g))


def to_device(x, backend):
    out = ToDevice.apply(x, target=backend)
    out._backend = backend
    return out


def to(x, *args, device=None, dtype=None, copy=False, non_blocking=False, memory_format=None):
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``; differentiable.
    ``non_blocking`` and ``memory_format`` are accepted and change nothing."""
    device, dtype = parse_to_args(args, device, dtype)
    out = x
    if device is not None and get_backend(device) is not x._backend:
        out = to_device(out, get_backend(device))
    if dtype is not None and as_dtype(dtype) != out.dtype:
        out = cast(out, as_dtype(dtype))
    if copy and out is x:
        out = clone(x)
    return out
