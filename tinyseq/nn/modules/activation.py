"""PyTorch's path torch.nn.modules.activation: activations and MultiheadAttention."""

from ..activation import ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from ..attention import MultiheadAttention

__all__ = [
    "ELU", "GELU", "LeakyReLU", "LogSigmoid", "LogSoftmax", "ReLU", "Sigmoid", "SiLU", "Softmax", "Softplus", "Tanh",
    "MultiheadAttention"
]
