"""Fused ops: one node (and one pass each way) where the composed ops would make
several, kept only where that buys speed. Each is tested equal to its composed twin.

kernels  the array code they run, per device replaceable (the device contract)
fast     the CPU's cell kernels compiled with numba (the ``fast`` extra)
cells    RNN/LSTM/GRU cell steps and the ConvLSTM gate step
xent     softmax cross-entropy

Not part of the core's line budget. The recurrent layers' per-step nodes live with
the layers (``tinyseq.nn.recurrent.steps``).
"""
