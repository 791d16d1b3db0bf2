"""Recurrent cells, one time step each: RNNCell, LSTMCell, GRUCell and ConvRNNCell,
ConvLSTMCell, ConvGRUCell.

Each runs either *fused* (the default): one node per step whose backward is
written by hand (``tinyseq.ops.fused.cells``), or *composed* (``fused=False``):
the equations of ``equations``, one node per operation. Both give the same
numbers. ConvRNNCell and ConvGRUCell are always composed, and so is a peephole
ConvLSTMCell.

A convolutional cell owns ONE weight ``(gates * hidden, in_channels + hidden, kh, kw)``:
its first ``in_channels`` input columns act on the frame x, the rest on the
state h, so ``conv(cat([x, h]), weight)`` equals ``conv(x, weight[:, :in]) +
conv(h, weight[:, in:])``. ConvGRU is PyTorch's GRU with convolutions:
``W_x = weight[:, :in]`` plays ``weight_ih``, ``W_h = weight[:, in:]`` plays
``weight_hh``, ``bias`` is ``bias_ih`` and ``bias_hn`` is the n-part of
``bias_hh`` (its r- and z-parts only ever add to ``bias``, so they are not kept
twice). With 1x1 kernels on 1x1 frames each is exactly RNNCell / LSTMCell / GRUCell.
Initialisation follows Conv2d: ``kaiming_uniform_(a=sqrt(5))`` for the weight,
the same bound for the biases; peephole weights start at zero, so a fresh
peephole ConvLSTM computes what a plain one does and learns how much to peek.
"""

from __future__ import annotations

import itertools
import math

from ... import ops
from ..._tensor import Tensor
from ...autograd import OpError, scope
from ...factories import empty, zeros
from ...ops.fused.cells import ConvLSTMCellOp, GRUCellOp, LSTMCellOp, RNNCellOp
from .. import init
from ..module import Module, Parameter
from . import checks
from .equations import conv, conv_gru_cell, conv_lstm_cell, gru_cell, lstm_cell, rnn_cell

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "ConvRNNCell", "ConvLSTMCell", "ConvGRUCell"]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# One id per cell invocation, so the graph drawer can box the nodes of one step.
cell_ids = itertools.count()


def new_parameter(shape, device, dtype):
    return Parameter(empty(*shape, dtype=dtype, device=device))


def uniform_init(params, hidden_size):
    """PyTorch's recurrent init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), in order."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        init.uniform_(p, -bound, bound)


def cell_scope(name):
    """The scope of one cell step: its nodes get the tag cell=(name, a new id)."""
    return scope(cell=(name, next(cell_ids)))


class _Cell(Module):
    """Parameters and argument checks shared by the three cells."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, fused=True):
        super().__init__()
        name = type(self).__name__
        checks.positive(name, "input_size", input_size)
        checks.positive(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        self.fused = fused
        G = GATES[self.kind] * hidden_size
        self.weight_ih = new_parameter((G, input_size), device, dtype)
        self.weight_hh = new_parameter((G, hidden_size), device, dtype)
        if bias:
            self.bias_ih = new_parameter((G,), device, dtype)
            self.bias_hh = new_parameter((G,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        uniform_init(self.parameters(), self.hidden_size)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s

    def _weights(self):
        w = [self.weight_ih, self.weight_hh]
        return w + [self.bias_ih, self.bias_hh] if self.bias else w

    def _input(self, input):
        """input (B, I) or (I,) -> (B, I) and whether it came unbatched."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise OpError(
                f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), "
                f"got {input.shape}"
            )
        checks.features(name, input, self.input_size)
        checks.dtype(name, input, self.weight_ih)
        if input.ndim == 1:
            return input.reshape(1, -1), True
        return input, False

    def _state(self, state, what, x, unbatched):
        """A state (B, H) from hx or zeros, checked against the input's batch."""
        B, H = x.shape[0], self.hidden_size
        if state is None:
            return zeros(B, H, dtype=x.dtype, device=x.device)
        expected = (H,) if unbatched else (B, H)
        if not isinstance(state, Tensor) or state.shape != expected:
            got = state.shape if isinstance(state, Tensor) else type(state).__name__
            layout = "(hidden_size,) for unbatched input" if unbatched else "(batch, hidden_size)"
            raise OpError(f"{type(self).__name__}: {what} should have shape {expected} {layout}, got {got}")
        checks.dtype(type(self).__name__, state, self.weight_ih)
        return state.reshape(1, -1) if unbatched else state

    def _pre(self, x, h):
        """x W_ih^T + b_ih + h W_hh^T + b_hh, composed."""
        pre = x @ self.weight_ih.T
        if self.bias:
            pre = pre + self.bias_ih
        pre = pre + h @ self.weight_hh.T
        if self.bias:
            pre = pre + self.bias_hh
        return pre


class RNNCell(_Cell):
    """Elman cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    input (B, input_size) or (input_size,); hx like it with hidden_size (zeros
    when None) -> h' of hx's shape. Parameters: weight_ih (H, I), weight_hh
    (H, H), bias_ih (H,), bias_hh (H,)."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None,
                 fused=True):  # fmt: skip
        checks.nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype, fused)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, "hx", x, unbatched)
        with cell_scope(type(self).__name__):
            if self.fused:
                out = RNNCellOp.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)
            else:
                out = rnn_cell(self._pre(x, h), self.nonlinearity)
        return out.reshape(-1) if unbatched else out


class LSTMCell(_Cell):
    """Long short-term memory cell (gates i, f, g, o).

    input (B, input_size) or (input_size,); hx = (h, c), each (B, hidden_size)
    (zeros when None) -> (h', c'). Parameters: weight_ih (4H, I), weight_hh
    (4H, H), bias_ih (4H,), bias_hh (4H,)."""

    kind = "lstm"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise OpError(f"LSTMCell: hx must be a pair (h, c), got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        h = self._state(h0, "h", x, unbatched)
        c = self._state(c0, "c", x, unbatched)
        with cell_scope(type(self).__name__):
            if self.fused:
                h, c = LSTMCellOp.apply(x, h, c, *self._weights())
            else:
                h, c = lstm_cell(self._pre(x, h), c)
        if unbatched:
            return h.reshape(-1), c.reshape(-1)
        return h, c


class GRUCell(_Cell):
    """Gated recurrent unit cell (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

    input (B, input_size) or (input_size,); hx (B, hidden_size) (zeros when
    None) -> h'. Parameters: weight_ih (3H, I), weight_hh (3H, H), bias_ih
    (3H,), bias_hh (3H,)."""

    kind = "gru"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, "hx", x, unbatched)
        with cell_scope(type(self).__name__):
            if self.fused:
                out = GRUCellOp.apply(x, h, *self._weights())
            else:
                gx = x @ self.weight_ih.T
                gh = h @ self.weight_hh.T
                if self.bias:
                    gx, gh = gx + self.bias_ih, gh + self.bias_hh
                out = gru_cell(gx, gh, h)
        return out.reshape(-1) if unbatched else out


# -- the convolutional cells -----------------------------------------------------------
def channel_vector(p):
    """(n,) -> (n, 1, 1), broadcasting over (B, n, H, W)."""
    return p.reshape(p.shape[0], 1, 1)


def conv_lstm_step(xg, hg, c, peep, fused):
    """One ConvLSTM step from its gate pre-activations (see equations.conv_lstm_cell): one
    fused node unless composed or with peepholes."""
    if fused and peep is None:
        args = [a for a in (xg, hg, c) if a is not None]
        return ConvLSTMCellOp.apply(*args, has_h=hg is not None, has_c=c is not None)
    return conv_lstm_cell(xg, hg, c, peep)


def conv_params(module, kind, cin, hidden, kernel, bias, peephole, suffix, device, dtype):
    """Register one cell's parameters on ``module`` as <name><suffix> and initialise them."""
    weight = f"weight{suffix}"
    setattr(module, weight, new_parameter((GATES[kind] * hidden, cin + hidden) + kernel, device, dtype))
    biases = []
    if bias:
        biases.append(f"bias{suffix}")
        setattr(module, biases[-1], new_parameter((GATES[kind] * hidden,), device, dtype))
        if kind == "gru":
            biases.append(f"bias_hn{suffix}")
            setattr(module, biases[-1], new_parameter((hidden,), device, dtype))
    # as Conv2d: kaiming_uniform_(a=sqrt(5)) weight, U(±1/sqrt(fan_in)) biases
    init.default_affine_(getattr(module, weight), *[getattr(module, b) for b in biases])
    if peephole:
        for p in ("weight_ci", "weight_cf", "weight_co"):
            # zero: a fresh peephole cell computes what a plain one does
            setattr(module, f"{p}{suffix}", new_parameter((hidden, 1, 1), device, dtype))
            getattr(module, f"{p}{suffix}")._data[...] = 0


class _ConvCell(Module):
    """Parameters and argument checks shared by the three convolutional cells."""

    kind = "rnn"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", peephole=False,
                 fused=True, device=None, dtype=None):  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.in_channels = checks.positive(name, "in_channels", in_channels, word="int")
        self.hidden_channels = checks.positive(name, "hidden_channels", hidden_channels, word="int")
        self.kernel_size = checks.kernel_size(name, kernel_size)
        checks.padding(name, padding, self.kernel_size)
        self.padding = padding
        self.peephole = bool(peephole)
        self.fused = bool(fused)
        conv_params(self, self.kind, in_channels, hidden_channels, self.kernel_size, bias, peephole, "",
                     device, dtype)  # fmt: skip
        if not bias:
            self.register_parameter("bias", None)

    def _check(self, x, state):
        """Validate frame x (B, C, H, W) and each state map (B, hidden, H, W)."""
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise checks.bad_shape(name, x, f"a frame of shape (batch, {self.in_channels}, height, width)")
        if x.shape[1] != self.in_channels:
            raise OpError(
                f"{name}: input has {x.shape[1]} channels but in_channels={self.in_channels} (input shape {x.shape})"
            )
        checks.dtype(name, x, self.weight)
        want = (x.shape[0], self.hidden_channels) + x.shape[2:]
        for s in state:
            if not isinstance(s, Tensor) or s.shape != want:
                got = s.shape if isinstance(s, Tensor) else type(s).__name__
                raise OpError(f"{name}: state of shape {got} does not fit input {x.shape}; expected {want}")

    def _zero_state(self, x):
        return zeros(x.shape[0], self.hidden_channels, *x.shape[2:], dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}"
        if self.bias is None:
            s += ", bias=False"
        return s + (", peephole=True" if self.peephole else "")


class ConvRNNCell(_ConvCell):
    """h' = tanh(conv(cat([x, h]), weight) + bias) (relu with ``nonlinearity="relu"``).

    x: (B, in_channels, H, W); state h: (B, hidden_channels, H, W) or None (zeros).
    weight: (hidden, in + hidden, kh, kw); bias: (hidden,). Returns h'."""

    kind = "rnn"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", nonlinearity="tanh",
                 device=None, dtype=None):  # fmt: skip
        checks.nonlinearity("ConvRNNCell", nonlinearity)
        super().__init__(in_channels, hidden_channels, kernel_size, bias, padding, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, state=None):
        self._check(x, () if state is None else (state,))
        h = self._zero_state(x) if state is None else state
        with cell_scope(type(self).__name__):
            return rnn_cell(conv(ops.cat([x, h], dim=1), self.weight, self.bias), self.nonlinearity)


class ConvLSTMCell(_ConvCell):
    """Convolutional LSTM step, gate order i, f, g, o (Shi et al. 2015).

    x: (B, in_channels, H, W); state (h, c), each (B, hidden_channels, H, W), or
    None (zeros). weight: (4*hidden, in + hidden, kh, kw); bias: (4*hidden,);
    with ``peephole``: weight_ci, weight_cf, weight_co of shape (hidden, 1, 1).
    Returns (h', c')."""

    kind = "lstm"

    def forward(self, x, state=None):
        if state is not None and (not isinstance(state, (tuple, list)) or len(state) != 2):
            raise OpError(f"ConvLSTMCell: state must be a pair (h, c), got {type(state).__name__}")
        self._check(x, () if state is None else state)
        h, c = (self._zero_state(x), None) if state is None else state
        peep = (self.weight_ci, self.weight_cf, self.weight_co) if self.peephole else None
        with cell_scope(type(self).__name__):
            return conv_lstm_step(conv(ops.cat([x, h], dim=1), self.weight, self.bias), None, c, peep, self.fused)


class ConvGRUCell(_ConvCell):
    """Convolutional GRU step: PyTorch's GRU equations with convolutions (r, z, n).

    x: (B, in_channels, H, W); state h: (B, hidden_channels, H, W) or None (zeros).
    weight: (3*hidden, in + hidden, kh, kw); bias: (3*hidden,); bias_hn: (hidden,).
    The reset gate multiplies only the state's share of the candidate, so the
    frame and state column blocks of the weight run as two convolutions. Returns h'."""

    kind = "gru"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", device=None,
                 dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, bias, padding, device=device, dtype=dtype)
        if not bias:
            self.register_parameter("bias_hn", None)

    def forward(self, x, state=None):
        self._check(x, () if state is None else (state,))
        k = self.in_channels
        with cell_scope(type(self).__name__):
            bias_hn = None if self.bias_hn is None else channel_vector(self.bias_hn)
            xg = conv(x, self.weight[:, :k], self.bias)
            hg = None if state is None else conv(state, self.weight[:, k:])
            return conv_gru_cell(xg, hg, state, bias_hn)
