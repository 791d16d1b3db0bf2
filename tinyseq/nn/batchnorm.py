"""BatchNorm1d and BatchNorm2d (with F.batch_norm), composed from primitive ops."""

from __future__ import annotations

from .. import ops
from ..autograd import OpError, no_grad
from ..factories import empty, ones, tensor, zeros
from . import init
from .module import Module, Parameter


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):  # fmt: skip
    """Normalise each channel (dim 1) of ``input`` (N, C, *) over the batch and any trailing dims.

    Training (or no running statistics): with the batch's mean and biased variance, and
    ``running_* <- (1 - momentum) * running_* + momentum * batch_*`` in place (the running
    variance takes the unbiased batch variance), as PyTorch. Evaluation: with the running
    statistics. Then ``* weight + bias`` per channel. Returns (N, C, *)."""
    if input.ndim < 2:
        raise OpError(f"batch_norm: needs an input of shape (N, C, *), got {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):  # fmt: skip
        if t is not None and t.shape != (c,):
            raise OpError(f"batch_norm: {name} of shape {t.shape} does not match {c} channels of input {input.shape}")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training or running_mean is None or running_var is None:
        n = input.numel() // c if c else 0
        if training and n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input {input.shape}"
            )
        mean = input.mean(dim=dims, keepdim=True)
        xc = input - mean
        var = (xc * xc).mean(dim=dims, keepdim=True)
        if training and running_mean is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(c).to(running_mean.dtype), alpha=momentum)
        if training and running_var is not None:
            with no_grad():
                unbiased = var.detach().reshape(c) * (n / (n - 1))
                running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
        y = xc / ops.sqrt(var + eps)
    else:
        rm, rv = running_mean.reshape(shape), running_var.reshape(shape)
        y = (input - rm) / ops.sqrt(rv + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class _BatchNorm(Module):
    _dims = ()  # the input ranks this class accepts
    _ranks = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):  # fmt: skip
        super().__init__()
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(empty((num_features,), dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(empty((num_features,), dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        if input.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {self._ranks} input, got shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: input of shape {input.shape} has {input.shape[1]} channels, "
                f"expected num_features={self.num_features}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics while training, and in eval when no running statistics are kept.
        use_batch = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if tracked else None, self.running_var if tracked else None,
                          self.weight, self.bias, use_batch, factor, self.eps)  # fmt: skip

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")  # fmt: skip


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""

    _dims = (2, 3)
    _ranks = "2-D or 3-D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C."""

    _dims = (4,)
    _ranks = "4-D"
