"""PyTorch's path torch.nn.modules.dropout: dropout layers."""

from ..dropout import Dropout, Dropout1d, Dropout2d

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]
