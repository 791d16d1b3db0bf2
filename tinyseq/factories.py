"""Factories: new tensors from data, constants, ranges and random draws
(``ts.tensor``, ``zeros``, ``arange``, ``randn``, ``randperm``, ``*_like`` ...)."""

from __future__ import annotations

import numpy as np

from ._tensor import Tensor, _draw, _size
from .backend import get_backend
from .dtypes import _default_float, as_dtype, bool_, check_fill, float16, float32, get_default_dtype, int64


def tensor(data, dtype=None, requires_grad=False, device=None) -> Tensor:
    """A new tensor from data (nested lists, numbers, arrays, tensors): always a copy.

    Python floats become float32 (the default dtype), ints int64; numpy arrays keep their dtype."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor without a copy where possible: a tensor already of that dtype
    and device is returned as it is, and a NumPy array on the CPU shares its memory."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    be = get_backend(device)
    if isinstance(data, np.ndarray) and be.owns(data) and data.dtype != object:
        t = Tensor._make(data, be)
        return t if dtype is None else t.to(dtype)
    return Tensor(data, dtype=dtype, device=device)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def _factory(make, size, dtype, device, requires_grad, default=None):
    be = get_backend(device)
    dtype = as_dtype(dtype) or default or _default_float[0]
    t = Tensor._make(make(be, _size(size), dtype), be)
    return t.requires_grad_() if requires_grad else t


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _factory(lambda be, s, d: be.xp.zeros(s, dtype=d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _factory(lambda be, s, d: be.xp.ones(s, dtype=d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _factory(lambda be, s, d: be.xp.empty(s, dtype=d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = bool_ if isinstance(fill_value, bool) else int64 if isinstance(fill_value, int) else None
    check_fill(fill_value, get_default_dtype() if dtype is None else as_dtype(dtype), "full")
    return _factory(
        lambda be, s, d: be.xp.full(s, fill_value, dtype=d), (size,) if isinstance(size, int) else size,
        dtype, device, requires_grad,
    )


def _floats(method, name, generator):
    """A factory's maker that draws floats with ``method`` of the generator; generators
    draw float32 and float64 only, so float16 is drawn as float32 and cast."""

    def make(be, shape, dtype):
        if dtype.kind != "f":
            raise TypeError(f"{name}: dtype must be a floating-point type, got {dtype}")
        drawn = float32 if dtype == float16 else dtype
        out = _draw(be, generator, lambda r: getattr(r, method)(shape, dtype=drawn))
        return out.astype(float16) if dtype == float16 else out

    return make


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal draws from the device's generator (seeded by manual_seed) or ``generator``."""
    return _factory(_floats("standard_normal", "randn", generator), size, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform draws in [0, 1)."""
    return _factory(_floats("random", "rand", generator), size, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` also works, as in PyTorch)."""
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if isinstance(size, int):
        size = (size,)
    return _factory(lambda be, s, d: _draw(be, generator, lambda r: r.integers(low, high, s)).astype(d),
                    (tuple(size),), dtype, device, False, default=int64)  # fmt: skip


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, end, step)) else _default_float[0]
    be = get_backend(device)
    t = Tensor._make(be.xp.arange(start, end, step, dtype=as_dtype(dtype)), be)
    return t.requires_grad_() if requires_grad else t
