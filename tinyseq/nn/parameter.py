"""PyTorch's path torch.nn.parameter: Parameter."""

from .module import Parameter  # noqa: F401

__all__ = ["Parameter"]
