"""Functional forms of layers and losses (``ts.nn.functional``, usually ``F``)."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import Function, OpError
from ..ops import log_softmax, pad, relu, sigmoid, softmax, tanh  # noqa: F401  (re-exported)
from ..ops.fused import SoftmaxCrossEntropy
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _class_last(input, target, name):
    """(N, C, d1, ...) logits and (N, d1, ...) targets -> (M, C) and (M,)."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target), device=input.device)
    if target.dtype.kind not in "iu":
        raise OpError(f"{name}: target must hold class indices (an integer tensor), got {target.dtype}")
    if input.ndim == 1:
        if target.ndim != 0:
            raise OpError(f"{name}: logits of shape {input.shape} need a 0-d target, got {target.shape}")
        return input.reshape(1, -1), target.reshape(1), ()
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise OpError(
            f"{name}: logits of shape {input.shape} need a target of shape {expected}, got {target.shape}"
        )
    if input.ndim > 2:
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(perm)
    return input.reshape(-1, input.shape[-1]), target.reshape(-1), expected


def _check_targets(target, num_classes, ignore_index, name):
    t = target.numpy()
    bad = (t != ignore_index) & ((t < 0) | (t >= num_classes))
    if bad.any():
        raise OpError(f"{name}: target {int(t[bad][0])} is out of range for {num_classes} classes")


def cross_entropy(input, target, ignore_index=-100, reduction="mean", fused=True):
    """Softmax cross-entropy of logits against class indices.

    input: (N, C), (C,) or (N, C, d1, ...); target: (N,), () or (N, d1, ...) ints.
    ``fused=False`` builds it from log_softmax and indexing instead of one node
    (same numbers; what a student reads)."""
    _check_reduction("cross_entropy", reduction)
    logits, t, out_shape = _class_last(input, target, "cross_entropy")
    _check_targets(t, logits.shape[1], ignore_index, "cross_entropy")
    if fused:
        loss = SoftmaxCrossEntropy.apply(logits, t, ignore_index=ignore_index, reduction=reduction)
    else:
        loss = _nll(log_softmax(logits, dim=1), t, ignore_index, reduction)
    return loss.reshape(out_shape) if reduction == "none" else loss


def _nll(logp, t, ignore_index, reduction):
    xp = logp.xp
    valid = t.data != ignore_index
    safe = Tensor._make(xp.where(valid, t.data, 0), t._backend)
    rows = Tensor._make(xp.arange(logp.shape[0]), t._backend)
    picked = -logp[rows, safe]
    mask = Tensor._make(valid.astype(logp.dtype), t._backend)
    loss = picked * mask
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / mask.sum()


def nll_loss(input, target, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C[, d...]) at class indices."""
    _check_reduction("nll_loss", reduction)
    logp, t, out_shape = _class_last(input, target, "nll_loss")
    _check_targets(t, logp.shape[1], ignore_index, "nll_loss")
    loss = _nll(logp, t, ignore_index, reduction)
    return loss.reshape(out_shape) if reduction == "none" else loss


def _same_shape(name, input, target):
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise OpError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")
    return target


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: reduce((input - target) ** 2)."""
    _check_reduction("mse_loss", reduction)
    target = _same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error."""
    _check_reduction("l1_loss", reduction)
    target = _same_shape("l1_loss", input, target)
    return _reduce(ops.abs(input - target), reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable expression:
    max(x, 0) - x*y + log(1 + exp(-|x|)) (with pos_weight: PyTorch's weighting)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = ops.log(1 + ops.exp(-ops.abs(input))) + relu(-input)  # log(1 + exp(-x))
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    return _reduce(loss, reduction)


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), in training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    be = input._backend
    keep = be.rng.random(input.shape, dtype=input.dtype) >= p
    mask = Tensor._make(keep.astype(input.dtype) * input.dtype.type(1 / (1 - p)), be)
    return input * mask


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding with a new last dim of ``num_classes``."""
    if tensor.dtype.kind not in "iu":
        raise OpError(f"one_hot: needs an integer tensor, got {tensor.dtype}")
    data = tensor.data
    if num_classes < 0:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise OpError(f"one_hot: class values must be in [0, {num_classes}), got {int(data.min())}..{int(data.max())}")
    xp = tensor.xp
    return Tensor._make((data[..., None] == xp.arange(num_classes)).astype(np.int64), tensor._backend)


class _Embedding(Function):
    def forward(self, weight, ids, padding_idx):
        self.args = (weight.shape, ids, padding_idx)
        return weight[ids]

    def backward(self, g):
        shape, ids, padding_idx = self.args
        gw = self.xp.zeros(shape, dtype=g.dtype)
        self.backend.scatter_add(gw, ids.reshape(-1), g.reshape(-1, shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num, dim) at integer ``input`` (any shape) -> input.shape + (dim,).

    Repeated indices accumulate gradient; the ``padding_idx`` row gets none."""
    if not isinstance(input, Tensor):
        input = Tensor(np.asarray(input), device=weight.device)
    if input.dtype.kind not in "iu":
        raise OpError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    n = weight.shape[0]
    if input.numel() and (int(input.data.min()) < -n or int(input.data.max()) >= n):
        raise OpError(
            f"embedding: index {int(input.data.max())} is out of range for {n} embeddings (weight {weight.shape})"
        )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return _Embedding.apply(weight, ids=input.data, padding_idx=padding_idx)
