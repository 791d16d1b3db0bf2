"""What the recurrent layers return for a batch of 0 sequences: empty outputs of the
usual shapes (as PyTorch's RNN/LSTM/GRU), still connected to the parameters and the
initial state, so that a loss built on them backpropagates (zero gradients) like any
other. A sequence length of 0 is refused, as PyTorch refuses it."""

from __future__ import annotations

from .._tensor import Tensor
from ..autograd import OpError, is_grad_enabled


def _zeros_like_graph(shapes, x, sources):
    """Zero tensors of ``shapes`` (each of 0 elements) on ``x``'s device, that depend on
    every tensor of ``sources`` requiring grad (times 0)."""
    be = x._backend
    zero = None
    if is_grad_enabled():
        for s in sources:
            if isinstance(s, Tensor) and s.requires_grad:
                term = s.sum() * 0
                zero = term if zero is None else zero + term
    outs = []
    for shape in shapes:
        t = Tensor._make(be.xp.zeros(shape, dtype=x.dtype), be)
        outs.append(t if zero is None else t + zero)
    return outs


def _states(h0):
    if h0 is None:
        return []
    return list(h0) if isinstance(h0, (tuple, list)) else [h0]


def recurrent_layer(layer, input, x, h0):
    """RNN/LSTM/GRU on ``x`` (T, B, I) with T == 0 or B == 0: raise, or return the empty
    (output, h_n) / (output, (h_n, c_n))."""
    name = type(layer).__name__
    T, B, _ = x.shape
    if T == 0:
        raise OpError(f"{name}: expected a sequence length larger than 0, got input of shape {input.shape}")
    lstm = layer.kind == "lstm"
    H, P = layer.hidden_size, layer.proj_size or layer.hidden_size
    D = layer.num_directions
    LD = layer.num_layers * D
    if lstm:  # the initial states' shapes are checked as on any other call
        if h0 is not None and (not isinstance(h0, (tuple, list)) or len(h0) != 2):
            raise OpError(f"{name}: h0 must be a pair (h_0, c_0), got {type(h0).__name__}")
        layer._initial(None if h0 is None else h0[0], "h_0", P, B, False, x)
        layer._initial(None if h0 is None else h0[1], "c_0", H, B, False, x)
    else:
        layer._initial(h0, "h_0", P, B, False, x)
    out_shape = (B, T, D * P) if layer.batch_first else (T, B, D * P)
    shapes = [out_shape, (LD, B, P)] + ([(LD, B, H)] if lstm else [])
    outs = _zeros_like_graph(shapes, x, [input, *layer.parameters(), *_states(h0)])
    return (outs[0], (outs[1], outs[2])) if lstm else (outs[0], outs[1])


def conv_recurrent_layer(layer, x, h0, gather):
    """ConvRNN/ConvLSTM/ConvGRU on ``x`` (T, B, C, H, W) with B == 0 -> the empty
    (output, h_n) / (output, (h_n, c_n)); ``gather`` joins per-layer states as the layer does."""
    T, B, _, H, W = x.shape
    layer._initial_states(h0, B, H, W)  # checks h0's shapes
    dirs = layer.num_directions
    maps = [(B, layer.hidden_channels[i // dirs], H, W) for i in range(layer.num_layers * dirs)]
    out = (T, B, dirs * layer.hidden_channels[-1], H, W)
    if layer.batch_first:
        out = (B, T) + out[2:]
    states = [s for pair in _states(h0) for s in (_states(pair) if isinstance(pair, (tuple, list)) else [pair])]
    lstm = layer.kind == "lstm"
    zeros = _zeros_like_graph([out] + maps * (2 if lstm else 1), x, [x, *layer.parameters(), *states])
    h_n = gather(zeros[1 : 1 + len(maps)])
    if lstm:
        return zeros[0], (h_n, gather(zeros[1 + len(maps) :]))
    return zeros[0], h_n


__all__ = ["recurrent_layer", "conv_recurrent_layer"]
