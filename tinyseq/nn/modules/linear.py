"""PyTorch's path torch.nn.modules.linear: Identity, Linear (and attention's output projection)."""

from ..attention import NonDynamicallyQuantizableLinear
from ..linear import Identity, Linear

__all__ = ["Identity", "Linear", "NonDynamicallyQuantizableLinear"]
