"""PyTorch's path torch.nn.modules.normalization: LayerNorm."""

from ..normalization import LayerNorm

__all__ = ["LayerNorm"]
