"""Recurrent cells and layers (``ts.nn.RNN``, ``LSTM``, ``GRU`` and their cells).

The cells and their equations live in ``rnn_cells``, the layers (the time
loop, stacking, directions, lengths) in ``rnn_layers``; the fused per-step
ops they run by default in ``tinyseq.ops.fused``.
"""

from .rnn_cells import GRUCell, LSTMCell, RNNCell, gru_cell, lstm_cell, rnn_cell
from .rnn_layers import GRU, LSTM, RNN

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "rnn_cell", "lstm_cell", "gru_cell"]
