"""More factories, for PyTorch parity: from_numpy, eye, linspace, randperm and the *_like
family (a tensor shaped like another). The core ones are in tinyseq/factories.py."""

from __future__ import annotations

import numpy as np

from ..._tensor import Tensor
from ...backend import get_backend
from ...dtypes import int64
from ...factories import _factory, full, ones, rand, randn, zeros


def from_numpy(array) -> Tensor:
    """A CPU tensor that shares ``array``'s memory (writes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype == object:
        raise TypeError("from_numpy: object arrays have no tensor dtype")
    return Tensor._make(array, get_backend("cpu"))


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n)."""
    return _factory(lambda be, s, d: be.xp.eye(s[0], s[1], dtype=d), (n, n if m is None else m), dtype, device,
                    requires_grad)  # fmt: skip


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    return _factory(lambda be, s, d: be.xp.linspace(start, end, s[0], dtype=d), (steps,), dtype, device,
                    requires_grad)  # fmt: skip


def randperm(n, dtype=None, device=None, generator=None) -> Tensor:
    """A random permutation of 0 .. n-1, from the device's generator (or ``generator``, a
    ``ts.Generator``, whose host draws then move to the device)."""
    if generator is not None:
        order = np.argsort(generator.rng.random(int(n)))
        return Tensor(order, dtype=dtype or int64, device=device)
    # the order of n uniform draws: needs nothing of a device's generator but random()
    return _factory(lambda be, s, d: be.xp.argsort(be.rng.random(s)).astype(d), (n,), dtype, device, False,
                    default=int64)  # fmt: skip


def _like(fn, t, dtype, device, requires_grad, **kw):
    return fn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad, **kw)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(randn, t, dtype, device, requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(rand, t, dtype, device, requires_grad)

