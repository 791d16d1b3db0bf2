"""Neural-network building blocks (``ts.nn``)."""

from . import functional, init, modules, parallel, parameter, utils  # noqa: F401  (modules, parameter: PyTorch's paths)
from .activation import ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .attention import MultiheadAttention
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .dropout import Dropout, Dropout1d, Dropout2d
from .embedding import Embedding
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .module import Module, Parameter
from .normalization import LayerNorm
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .recurrent import (
    GRU,
    LSTM,
    RNN,
    ConvGRU,
    ConvGRUCell,
    ConvLSTM,
    ConvLSTMCell,
    ConvRNN,
    ConvRNNCell,
    GRUCell,
    LSTMCell,
    RNNCell,
)
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = ["Module", "Parameter", "functional", "parallel", "utils"]
__all__ += ["init", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Embedding", "Dropout"]
__all__ += ["Conv1d", "Conv2d", "Flatten", "Unflatten", "LayerNorm", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax"]
__all__ += ["LeakyReLU", "ELU", "Softplus", "LogSigmoid", "SiLU", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"]
__all__ += ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCEWithLogitsLoss"]
__all__ += ["ConvRNNCell", "ConvLSTMCell", "ConvGRUCell", "ConvRNN", "ConvLSTM", "ConvGRU"]
__all__ += ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]
__all__ += ["GELU", "BatchNorm1d", "BatchNorm2d", "Dropout1d", "Dropout2d"]
__all__ += ["MultiheadAttention"]
__all__ += ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer"]
__all__ += ["TransformerDecoderLayer"]
