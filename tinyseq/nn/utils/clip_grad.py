"""Gradient clipping, the usual cure for exploding gradients in recurrent nets."""

from __future__ import annotations

import math

from ..._tensor import Tensor
from ...factories import tensor


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(xp, a, p: float):
    """||a||_p over all elements, as a 0-d array (or scalar) on a's device."""
    if p == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if p == 2.0:
        flat = a.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat))
    if p == 1.0:
        return xp.abs(a).sum()
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of ``parameters`` in place so their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one
    vector (``norm_type``: any p > 0, or ``inf`` for the largest magnitude).
    Gradients are multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.
    Parameters without a gradient are skipped. Returns the total norm before
    clipping, as a 0-d tensor on the gradients' device.
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return tensor(0.0)
    first = grads[0]._backend
    xp = first.xp
    norms = []
    for g in grads:
        n = _vector_norm(g.xp, g._data, norm_type)
        norms.append(n if g._backend is first else first.from_host(g._backend.to_host(n)))
    norms = xp.stack([n.astype(xp.result_type(*norms)) for n in norms])
    total = xp.asarray(_vector_norm(xp, norms, norm_type))
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients of {len(grads)} "
            "parameters is non-finite, so they cannot be clipped; pass error_if_nonfinite=False to "
            "scale them anyway"
        )
    # The coefficient stays on the device (no host sync): a no-op multiply by 1 is cheaper than a sync.
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        c = coef if g._backend is first else g._backend.from_host(first.to_host(coef))
        g._data *= c.astype(g._data.dtype)
    return Tensor._make(total, first)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        g.xp.clip(g._data, -clip_value, clip_value, out=g._data)
