"""PyTorch's path torch.nn.modules.pooling: pooling layers."""

from ..pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d

__all__ = ["AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]
