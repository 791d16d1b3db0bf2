"""Fused ops: one graph node (and one pass each way) where the composed version
would make several. Each must equal its composed twin; the tests check it.

A device may plug in faster kernels: ``backend.fused[name]`` replaces the
array code below for that device (the GPU package registers CUDA kernels).
"""

from __future__ import annotations

from ..autograd import Function


class SoftmaxCrossEntropy(Function):
    """Mean/sum/none cross-entropy of logits (M, C) against class indices (M,).

    Rows whose target equals ``ignore_index`` contribute nothing (and are not
    counted by the mean)."""

    def forward(self, logits, target, ignore_index, reduction):
        xp = self.xp
        valid = target != ignore_index
        safe = xp.where(valid, target, 0)
        m = logits.max(axis=1, keepdims=True)
        shifted = logits - m
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = xp.arange(logits.shape[0])
        loss = (xp.log(s[:, 0]) - shifted[rows, safe]) * valid
        self.saved = (e / s, safe, valid)
        self.reduction = reduction
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        self.count = valid.sum()
        return loss.sum() / self.count

    def backward(self, g):
        p, safe, valid = self.saved
        grad = p.copy()
        grad[self.xp.arange(p.shape[0]), safe] -= 1
        if self.reduction == "none":
            scale = (g * valid)[:, None]
        elif self.reduction == "sum":
            scale = (g * valid)[:, None]
        else:
            scale = (g / self.count * valid)[:, None]
        return grad * scale.astype(p.dtype)
