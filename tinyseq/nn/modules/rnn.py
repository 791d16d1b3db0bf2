"""PyTorch's path torch.nn.modules.rnn: recurrent layers and cells."""

from ..recurrent.cells import GRUCell, LSTMCell, RNNCell
from ..recurrent.stack import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
