"""SoftmaxCrossEntropy: log_softmax and the picked negative log-likelihood as one node."""

from __future__ import annotations

from ...autograd import Function
from .kernels import softmax_xent_backward, softmax_xent_forward


class SoftmaxCrossEntropy(Function):
    """Mean/sum/none cross-entropy of logits (M, C) against class indices (M,).

    Rows whose target equals ``ignore_index`` contribute nothing (and are not
    counted by the mean). Device kernels: ``backend.kernels["softmax_xent"]``, a
    (forward, backward) pair with the signatures of those in ``kernels``."""

    def forward(self, logits, target, ignore_index, reduction):
        fwd, self.kernel_backward = self.backend.kernels.get(
            "softmax_xent", (softmax_xent_forward, softmax_xent_backward)
        )
        loss, saved = fwd(self.xp, logits, target, ignore_index)
        valid = target != ignore_index
        self.saved = (saved, valid)
        self.reduction = reduction
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        # the count in the logits' dtype, so float32 logits give a float32 loss
        self.count = valid.sum().astype(logits.dtype)
        return loss.sum() / self.count

    def backward(self, g):
        saved, valid = self.saved
        if self.reduction == "mean":
            g = g / self.count
        return self.kernel_backward(self.xp, saved, g * valid)
