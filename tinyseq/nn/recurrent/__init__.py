"""Recurrent cells and layers: ``ts.nn.RNN``, ``LSTM``, ``GRU``, ``ConvRNN``, ``ConvLSTM``,
``ConvGRU`` and their cells.

equations  the cells' equations composed from primitive ops (the readable twin)
cells      RNNCell, LSTMCell, GRUCell and the convolutional cells (fused by default)
stack      the layers x directions x time driver; RNN, LSTM, GRU
conv       ConvRNN, ConvLSTM, ConvGRU on that driver
sequence   the fast sequence engine that RNN/LSTM/GRU record by default
packed     PyTorch's packed sequences (public as ``ts.nn.utils.rnn``)
checks     argument checks
"""

from .cells import ConvGRUCell, ConvLSTMCell, ConvRNNCell, GRUCell, LSTMCell, RNNCell
from .conv import ConvGRU, ConvLSTM, ConvRNN
from .equations import gru_cell, lstm_cell, rnn_cell
from .stack import GRU, LSTM, RNN

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "ConvRNNCell", "ConvLSTMCell", "ConvGRUCell",
           "ConvRNN", "ConvLSTM", "ConvGRU", "rnn_cell", "lstm_cell", "gru_cell"]  # fmt: skip
