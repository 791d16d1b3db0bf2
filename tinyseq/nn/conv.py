"""Conv2d (the convolution itself is ``tinyseq/ops/conv.py``)."""

from __future__ import annotations

from ..autograd import OpError
from ..tensor import empty
from . import functional as F
from . import init
from .linear import _size
from .module import Module, Parameter


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"Conv2d: {name} must be an int or a pair of ints, got {value!r}")
    return pair


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) or unbatched (C_in, H, W) inputs -> (N, C_out, Ho, Wo).

    weight: (out_channels, in_channels // groups, kh, kw); bias: (out_channels,);
    both drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels // groups * kh * kw,
    as PyTorch. ``padding``: int, (h, w), "valid", or "same" (stride 1; an even
    kernel pads one more at the bottom/right). Only ``padding_mode="zeros"``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self.in_channels = _size(in_channels, "in_channels", "Conv2d", 1)
        self.out_channels = _size(out_channels, "out_channels", "Conv2d", 1)
        self.groups = _size(groups, "groups", "Conv2d", 1)
        if in_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} must be divisible by groups {groups}")
        if out_channels % groups:
            raise ValueError(f"Conv2d: out_channels {out_channels} must be divisible by groups {groups}")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode must be 'zeros' (the only mode supported), got {padding_mode!r}")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.dilation = _pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be 'same', 'valid', an int or a pair, got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions "
                                 f"(stride {self.stride})")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding")
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty((out_channels,), dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_affine_(self.weight, self.bias)

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise OpError(f"Conv2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
