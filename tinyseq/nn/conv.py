"""Conv1d and Conv2d (the convolution itself is ``tinyseq/ops/extra/conv.py``)."""

from __future__ import annotations

from ..autograd import OpError
from ..factories import empty
from ..ops.extra.args import ntuple
from . import functional as F
from . import init
from .linear import _size
from .module import Module, Parameter


class _ConvNd(Module):
    """What Conv1d and Conv2d share: PyTorch's constructor arguments, parameters, init, repr."""

    dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        layer, n = type(self).__name__, self.dims
        self.in_channels = _size(in_channels, "in_channels", layer, 1)
        self.out_channels = _size(out_channels, "out_channels", layer, 1)
        self.groups = _size(groups, "groups", layer, 1)
        if in_channels % groups:
            raise ValueError(f"{layer}: in_channels {in_channels} must be divisible by groups {groups}")
        if out_channels % groups:
            raise ValueError(f"{layer}: out_channels {out_channels} must be divisible by groups {groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{layer}: padding_mode must be 'zeros' (the only mode supported), got {padding_mode!r}")
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", layer)
        self.stride = ntuple(stride, n, "stride", layer)
        self.dilation = ntuple(dilation, n, "dilation", layer)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                kinds = "an int" if n == 1 else "an int or a pair"
                raise ValueError(f"{layer}: padding must be 'same', 'valid', {kinds}, got {padding!r}")
            if padding == "same" and self.stride != (1,) * n:
                raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions "
                                 f"(stride {self.stride})")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, "padding", layer)
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

    def _check_input(self, input, layout):
        n = self.dims
        if input.ndim not in (n + 1, n + 2):
            raise OpError(f"{type(self).__name__}: expected a {n + 1}-D (C, {layout}) or {n + 2}-D "
                          f"(N, C, {layout}) input, got shape {input.shape}")

    def extra_repr(self):
        n = self.dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over time: (N, C_in, L) or unbatched (C_in, L) -> (N, C_out, Lo).

    weight: (out_channels, in_channels // groups, k); bias: (out_channels,); drawn
    from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels // groups * k, as
    PyTorch. ``padding``: int, "valid", or "same" (stride 1; an even kernel pads one
    more at the end). Only ``padding_mode="zeros"``.
    """

    dims = 1

    def forward(self, input):
        self._check_input(input, "L")
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(input, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or unbatched (C_in, H, W) inputs -> (N, C_out, Ho, Wo).

    weight: (out_channels, in_channels // groups, kh, kw); bias: (out_channels,);
    both drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels // groups * kh * kw,
    as PyTorch. ``padding``: int, (h, w), "valid", or "same" (stride 1; an even
    kernel pads one more at the bottom/right). Only ``padding_mode="zeros"``.
    """

    dims = 2

    def forward(self, input):
        self._check_input(input, "H, W")
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
