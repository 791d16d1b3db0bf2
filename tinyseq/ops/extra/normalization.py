"""Layer normalisation as one node each way (``F.layer_norm``), with the composed
form beside it."""

from __future__ import annotations

from ...autograd import Function, OpError
from .math import sqrt


class LayerNorm(Function):
    """Normalise over the last ``k`` dims, then scale and shift; one node each way."""

    def forward(self, x, *affine, k, eps, has_weight):
        xp = self.xp
        axes = tuple(range(x.ndim - k, x.ndim))
        xc = x - x.mean(axis=axes, keepdims=True)
        rstd = 1 / xp.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
        xhat = xc * rstd
        weight = affine[0] if has_weight else None
        self.saved = (xhat, rstd, weight)
        self.saved_inputs = (1,) if has_weight else ()
        self.axes, self.n_affine, self.has_weight = axes, len(affine), has_weight
        y = xhat if weight is None else xhat * weight
        return y + affine[-1] if len(affine) > int(has_weight) else y

    def backward(self, g):
        xhat, rstd, weight = self.saved
        axes = self.axes
        gxhat = g if weight is None else g * weight
        gx = None
        if self.needs(0):
            gx = rstd * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                         - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))
        grads = [gx]
        if self.has_weight:
            grads.append(g * xhat if self.needs(1) else None)  # the engine sums the leading dims
        if self.n_affine > int(self.has_weight):
            grads.append(g)
        return tuple(grads)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, fused=True):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` dims
    (biased variance, as PyTorch). input: (*, *normalized_shape); weight, bias: normalized_shape.
    ``fused=False`` composes it from primitives (same numbers, more nodes)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k :] != shape or input.ndim < k:
        raise OpError(f"layer_norm: normalized_shape {shape} does not match the last dims of input {input.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise OpError(f"layer_norm: {name} of shape {p.shape} does not match normalized_shape {shape}")
    if fused:
        affine = tuple(p for p in (weight, bias) if p is not None)
        return LayerNorm.apply(input, *affine, k=k, eps=eps, has_weight=weight is not None)
    dims = tuple(range(-k, 0))
    xc = input - input.mean(dim=dims, keepdim=True)
    y = xc / sqrt((xc * xc).mean(dim=dims, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias

