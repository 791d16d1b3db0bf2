"""PyTorch's path torch.nn.modules.container: containers."""

from ..containers import ModuleDict, ModuleList, Sequential

__all__ = ["Sequential", "ModuleList", "ModuleDict"]
