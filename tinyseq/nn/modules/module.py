"""PyTorch's path torch.nn.modules.module: the Module base class."""

from ..module import Module

__all__ = ["Module"]
