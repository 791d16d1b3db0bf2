"""Max and average pooling layers; the functions (``F.max_pool2d`` ...) are in
``tinyseq.ops.extra.pooling``."""

from __future__ import annotations

from ..ops.extra.pooling import _max_pool, avg_pool1d, avg_pool2d
from .module import Module


class _MaxPool(Module):
    dims = 0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        op = f"max_pool{self.dims}d"
        return _max_pool(input, self.dims, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, self.return_indices, op)  # fmt: skip

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")  # fmt: skip


class MaxPool1d(_MaxPool):
    """Max pooling over the last dim of (N, C, L) or (C, L) inputs."""

    dims = 1


class MaxPool2d(_MaxPool):
    """Max pooling over the last two dims of (N, C, H, W) or (C, H, W) inputs."""

    dims = 2


class AvgPool1d(Module):
    """Average pooling over the last dim of (N, C, L) or (C, L) inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        one = (lambda v: (v,) if isinstance(v, int) else tuple(v))  # noqa: E731  (PyTorch keeps 1-tuples here)
        self.kernel_size, self.stride = one(kernel_size), one(kernel_size if stride is None else stride)
        self.padding, self.ceil_mode, self.count_include_pad = one(padding), ceil_mode, count_include_pad

    def forward(self, input):
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling over the last two dims of (N, C, H, W) or (C, H, W) inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):  # fmt: skip
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
