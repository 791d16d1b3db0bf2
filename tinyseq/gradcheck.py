"""Central-difference gradient checking in float64."""

from __future__ import annotations

import numpy as np

from . import autograd
from ._tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-6, seed=0) -> bool:
    """Compare autograd's gradients of ``fn(*inputs)`` with central differences.

    ``inputs``: a tensor or sequence of tensors; those with ``requires_grad``
    are checked and must be float64. The outputs (one tensor or several) are
    reduced with fixed random weights, so every output element counts.
    Returns True, or raises GradcheckError naming the input and the index.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; gradcheck needs float64 inputs")

    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def scalar() -> float:
        with autograd.no_grad():
            vals = _outputs(fn, inputs)
        return float(sum((o.numpy() * w).sum() for o, w in zip(vals, weights)))

    for i in checked:
        inputs[i].grad = None
    grads = [o._backend.from_host(w.astype(o.dtype)) for o, w in zip(outs, weights)]
    with_graph = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
    if with_graph:
        autograd.backward([o for o, _ in with_graph], [g for _, g in with_graph])

    for i in checked:
        t = inputs[i]
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.numpy().astype(np.float64)
        host = t.numpy()
        numeric = np.zeros(t.shape)
        flat = numeric.reshape(-1)
        for j in range(host.size):
            idx = np.unravel_index(j, t.shape) if t.ndim else ()
            orig = host[idx].item()
            t._data[idx] = orig + eps
            plus = scalar()
            t._data[idx] = orig - eps
            minus = scalar()
            t._data[idx] = orig
            flat[j] = (plus - minus) / (2 * eps)
        bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
        if bad.any():
            j = tuple(int(k) for k in np.argwhere(bad)[0])
            err = np.abs(analytic - numeric).max()
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}) at index {j}: analytic {analytic[j]:.10g} "
                f"vs numerical {numeric[j]:.10g} ({int(bad.sum())} of {bad.size} elements differ, "
                f"max abs error {err:.3g})"
            )
    return True
