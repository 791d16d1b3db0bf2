"""PyTorch's path torch.nn.modules.linear: Identity and Linear."""

from ..linear import Identity, Linear

__all__ = ["Identity", "Linear"]
