"""PyTorch's path torch.nn.modules.flatten: Flatten and Unflatten."""

from ..flatten import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
