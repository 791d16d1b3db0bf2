"""Matrix products with numpy's rules: 1-D, 2-D, batched, broadcast batch dims."""

from __future__ import annotations

from .._tensor import Tensor
from ..autograd import Function, OpError
from .args import pair


def _mismatch(sa, sb) -> str:
    """Why numpy refused ``sa @ sb``, in words."""
    if not sa or not sb:
        return f"matmul: both arguments need at least 1 dimension, got {sa} @ {sb}"
    k2 = sb[-2 if len(sb) > 1 else 0]
    if sa[-1] != k2:
        return f"matmul: {sa} @ {sb}: inner dimensions differ ({sa[-1]} vs {k2})"
    return f"matmul: {sa} @ {sb}: batch dimensions do not broadcast"


class MatMul(Function):
    saved_inputs = (0, 1)

    def uses_saved_input(self, i):
        return self.needs(1 - i)  # each factor, for the other's gradient

    def forward(self, a, b):
        if a.dtype != b.dtype:
            raise OpError(f"matmul: dtypes differ ({a.dtype} @ {b.dtype}) for {a.shape} @ {b.shape}")
        try:
            out = a @ b
        except ValueError:
            raise OpError(_mismatch(a.shape, b.shape)) from None
        self.saved = (a, b)
        return out

    def backward(self, g):
        a, b = self.saved
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        # Promote 1-D operands to matrices; the engine sums broadcast batch
        # dimensions back to each input's shape.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None, :] if a.ndim == 1 else g[..., None] if b.ndim == 1 else g
        ga = gb = None
        if self.needs(0):
            ga = g2 @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs(1):
            if b2.ndim == 2 and a2.ndim > 2:
                # (..., n, k) @ (k, m), a Linear layer on a batch: one GEMM, not a batch of them
                k, m = b2.shape
                gb = a2.reshape(-1, k).T @ g2.reshape(-1, m)
            else:
                gb = a2.swapaxes(-1, -2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def matmul(a, b):
    """Matrix product: 1-D, 2-D, batched (batch dims broadcast)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = pair(a, b, "matmul")
    return MatMul.apply(a, b)


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise OpError(f"mm: expects 2-D tensors, got {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix product of (B, n, m) and (B, m, p) -> (B, n, p) (no broadcasting)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise OpError(f"bmm: expects two 3-D tensors with the same batch size, got {a.shape} and {b.shape}")
    return matmul(a, b)

