"""Functional forms of layers and losses (``ts.nn.functional``, usually ``F``)."""

from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor import Tensor
from ..autograd import OpError
from ..ops import log_softmax, pad, relu, sigmoid, softmax, tanh  # noqa: F401  (re-exported)
from ..ops.extra.conv import conv1d, conv2d  # noqa: F401  (re-exported)
from ..ops.extra.embedding import embedding  # noqa: F401  (re-exported)
from ..ops.extra.normalization import layer_norm  # noqa: F401  (re-exported)
from ..ops.extra.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d  # noqa: F401  (re-exported)
from ..ops.fused.xent import SoftmaxCrossEntropy
from .dropout import dropout, dropout1d, dropout2d  # noqa: F401  (re-exported)
from .linear import linear  # noqa: F401  (re-exported)

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


def _class_weight(weight, num_classes, like, name):
    """Per-class weights (C,) as a constant of ``like``'s dtype and device, or None."""
    if weight is None:
        return None
    weight = _as_float(weight, like).detach()
    if weight.shape != (num_classes,):
        raise OpError(f"{name}: weight of shape {weight.shape} needs one entry per class ({num_classes})")
    return weight


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                  fused=True):
    """Softmax cross-entropy of logits against class indices or class probabilities.

    input: (N, C), (C,) or (N, C, d1, ...); target: (N,), () or (N, d1, ...) ints,
    or floats of the input's shape (probabilities). ``weight`` (C,) rescales
    each class (the mean divides by the summed weights of the targets, as
    PyTorch); ``label_smoothing`` mixes the target with the uniform distribution.
    ``fused=False`` builds it from log_softmax and indexing instead of one node
    (same numbers; what a student reads)."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target), device=input.device)
    if target.dtype.kind == "f" and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    logits, t, out_shape = _class_last(input, target, "cross_entropy")
    _check_targets(t, logits.shape[1], ignore_index, "cross_entropy")
    weight = _class_weight(weight, logits.shape[1], logits, "cross_entropy")
    if fused and weight is None and label_smoothing == 0:
        loss = SoftmaxCrossEntropy.apply(logits, t, ignore_index=ignore_index, reduction=reduction)
    else:
        logp = log_softmax(logits, dim=1)
        loss = _nll(logp, t, ignore_index, reduction, weight)
        if label_smoothing:
            smooth = _nll(logp, t, ignore_index, reduction, weight, smooth=True)
            loss = (1 - label_smoothing) * loss + smooth * (label_smoothing / logits.shape[1])
    return loss.reshape(out_shape) if reduction == "none" else loss


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """-sum_c target_c * weight_c * log_softmax(input)_c; the mean is over all but the class dim."""
    dim = 0 if input.ndim == 1 else 1
    num_classes = input.shape[dim]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    logp = log_softmax(input, dim=dim)
    if weight is not None:
        weight = _class_weight(weight, num_classes, input, "cross_entropy")
        logp = logp * weight.reshape((num_classes,) + (1,) * (input.ndim - dim - 1))
    loss = -(logp * target).sum(dim=dim)
    if reduction == "mean":
        return loss.sum() / float(max(loss.numel(), 1))
    return _reduce(loss, reduction)


def _nll(logp, t, ignore_index, reduction, weight=None, smooth=False):
    """-logp at the targets (M, C), (M,), times the targets' class weights; ignored rows count 0.
    ``smooth``: the label-smoothing term, -sum over classes of (weight *) logp, instead."""
    xp = logp.xp
    valid = t._data != ignore_index
    safe = xp.where(valid, t._data, 0)
    scale = valid.astype(logp.dtype) if weight is None else weight._data[safe] * valid
    if smooth:
        per_class = logp if weight is None else logp * weight
        picked = -per_class.sum(dim=1)
        weights = Tensor._make(valid.astype(logp.dtype), t._backend)
    else:
        rows = Tensor._make(xp.arange(logp.shape[0]), t._backend)
        picked = -logp[rows, Tensor._make(safe, t._backend)]
        weights = Tensor._make(scale, t._backend)
    loss = picked * weights
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / Tensor._make(scale.sum(), t._backend)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C[, d...]) at class indices;
    ``weight`` (C,) rescales each class (the mean divides by the targets' summed weights)."""
    _check_reduction("nll_loss", reduction)
    logp, t, out_shape = _class_last(input, target, "nll_loss")
    _check_targets(t, logp.shape[1], ignore_index, "nll_loss")
    loss = _nll(logp, t, ignore_index, reduction, _class_weight(weight, logp.shape[1], logp, "nll_loss"))
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


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Huber loss of d = input - target: d**2 / 2 where |d| < delta, else
    delta * (|d| - delta / 2) (quadratic near 0, linear in the tails)."""
    return _robust_loss("huber_loss", input, target, reduction, delta, delta)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Smooth L1 of d = input - target: d**2 / (2 beta) where |d| < beta, else
    |d| - beta / 2 (the Huber loss divided by beta; beta = 0 is the L1 loss)."""
    return _robust_loss("smooth_l1_loss", input, target, reduction, beta, 1.0)


def _robust_loss(name, input, target, reduction, width, slope):
    """Quadratic for |d| < width, linear with slope ``slope`` beyond; continuous at width."""
    _check_reduction(name, reduction)
    if width < 0:
        raise OpError(f"{name}: {'delta' if name == 'huber_loss' else 'beta'} must be >= 0, got {width}")
    target = _same_shape(name, input, target)
    d = input - target
    a = ops.abs(d)
    if width == 0:
        return _reduce(a * slope, reduction)
    loss = ops.where(a < width, d * d * (0.5 * slope / width), (a - 0.5 * width) * slope)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable expression:
    max(x, 0) - x*y + log(1 + exp(-|x|)). ``weight`` (broadcast to the input)
    rescales each element; ``pos_weight`` (broadcast over the last dim, one per
    class) weights the positive term, as PyTorch."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    target = _same_shape(name, input, target)
    # log(1 + exp(-x)), whose gradient -sigmoid(-x) is right at x = 0 too (-1/2; a composition
    # through |x| and relu would give 0 there, doubling the gradient of zero logits)
    softplus_neg = _softplus(-input)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        pos_weight = _as_float(pos_weight, input)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        loss = loss * _as_float(weight, input)
    return _reduce(loss, reduction)


def _as_float(value, like):
    """A tensor or array-like as a tensor of ``like``'s dtype and device."""
    if isinstance(value, Tensor):
        return value.to(like.dtype)
    return Tensor(np.asarray(value), dtype=like.dtype, device=like.device)


# -- more activations, composed from the primitive ops -------------------------------
def leaky_relu(input, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    return ops.where(input > 0, input, input * negative_slope)


# The branches that ``where`` does not take still run, and get a zero gradient: they
# must stay finite (inf * 0 is nan), hence exp of where(...) below, never of raw x.


def elu(input, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    positive = input > 0
    return ops.where(positive, input, (ops.exp(ops.where(positive, 0.0, input)) - 1) * alpha)


def _softplus(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), with the gradient sigmoid(z) everywhere (1/2 at 0)."""
    positive = z > 0
    return ops.where(positive, z, 0.0) + ops.log1p(ops.exp(ops.where(positive, -z, z)))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    bx = input * beta
    return ops.where(bx > threshold, input, _softplus(bx) / beta)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), finite for every x."""
    return -_softplus(-input)


def silu(input):
    """x * sigmoid(x) (also called swish)."""
    return input * sigmoid(input)


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt(2))); with
    ``approximate="tanh"``, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch."""
    if approximate == "none":
        return input * 0.5 * (1.0 + ops.erf(input * _SQRT_HALF))
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (1.0 + tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


_SQRT_HALF = 0.7071067811865476
_SQRT_2_OVER_PI = 0.7978845608028654


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding with a new last dim of ``num_classes``."""
    if tensor.dtype.kind not in "iu":
        raise OpError(f"one_hot: needs an integer tensor, got {tensor.dtype}")
    data = tensor._data
    if num_classes < 0:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise OpError(f"one_hot: class values must be in [0, {num_classes}), got {int(data.min())}..{int(data.max())}")
    xp = tensor.xp
    return Tensor._make((data[..., None] == xp.arange(num_classes)).astype(np.int64), tensor._backend)


# -- layers ------------------------------------------------------------------------------
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402, F401
from .batchnorm import batch_norm  # noqa: E402, F401
