"""Identity and Linear."""

from __future__ import annotations

from .. import ops
from ..autograd import OpError
from ..factories import empty
from . import init
from .module import Module, Parameter


def linear(input, weight, bias=None):
    """input @ weight.T + bias. input: (*, in_features); weight: (out_features, in_features);
    bias: (out_features,). Returns (*, out_features)."""
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise OpError(
            f"linear: input of shape {input.shape} does not fit weight of shape {weight.shape} "
            f"(expected input (*, {weight.shape[-1]}), weight (out_features, in_features))"
        )
    out = ops.matmul(input, weight.T)
    return out if bias is None else out + bias


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed layer); ignores any arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias.

    x: (*, in_features) -> (*, out_features). weight: (out_features, in_features),
    bias: (out_features,), both drawn from U(-1/sqrt(in_features), 1/sqrt(in_features))
    as PyTorch does (kaiming_uniform_ with a=sqrt(5) for the weight).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _size(in_features, "in_features", "Linear")
        self.out_features = _size(out_features, "out_features", "Linear")
        self.weight = Parameter(empty((out_features, in_features), dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty((out_features,), dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_affine_(self.weight, self.bias)

    def forward(self, input):
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _size(value, name, owner, minimum=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return value
