"""PyTorch's path torch.nn.modules.sparse: Embedding."""

from ..embedding import Embedding

__all__ = ["Embedding"]
