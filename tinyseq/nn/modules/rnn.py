"""PyTorch's path torch.nn.modules.rnn: recurrent layers and cells."""

from ..rnn_cells import GRUCell, LSTMCell, RNNCell
from ..rnn_layers import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
