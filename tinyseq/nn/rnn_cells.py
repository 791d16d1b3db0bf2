"""Recurrent cells: RNNCell, LSTMCell, GRUCell (one time step each).

The equations, as PyTorch states them (gate order as its weight rows):

    RNN:   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)                  (or relu)
    LSTM:  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)
           c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
           h' = sigmoid(o) * tanh(c')                         (then h' W_hr^T with a projection)
    GRU:   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
           z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
           n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
           h' = (1 - z) * n + z * h

Each cell runs either *composed* (``fused=False``): the functions below, built
from primitive ops, one graph node per operation — what a reader follows and
what ``ts.viz.draw(detail="op")`` shows; or *fused* (the default): one node per
step whose backward is written by hand (``tinyseq.ops.fused``). Both give the
same numbers; the tests hold them to 1e-12 in float64.
"""

from __future__ import annotations

import itertools
import math

from ..autograd import OpError, scope
from ..ops import fused as fused_ops
from ..tensor import Tensor, empty, zeros
from .init import uniform_
from .module import Module, Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "rnn_cell", "lstm_cell", "gru_cell", "GATE_LABELS", "named"]

# One id per cell invocation, so the graph drawer can box the nodes of one step.
cell_ids = itertools.count()

# What the drawer prints on the nodes of the equations (ts.viz.draw(detail="op")): the
# lecture's names for the gates and states. Fused steps are drawn with the same labels.
GATE_LABELS = {
    "i": "i = σ(·)  input",
    "f": "f = σ(·)  forget",
    "g": "g = tanh(·)  c̃",
    "o": "o = σ(·)  output",
    "f*c": "f · c",
    "i*g": "i · g",
    "c": "c = f·c + i·g",
    "tanh c": "tanh(c)",
    "h": "h = o · tanh(c)",
    "r": "r = σ(·)  reset",
    "z": "z = σ(·)  update",
    "r*hn": "r · (h W_hnᵀ + b_hn)",
    "n": "n = tanh(·)  new",
    "z*h": "z · h",
    "h_gru": "h = (1 − z)·n + z·h",
    "h_tanh": "h = tanh(·)",
    "h_relu": "h = relu(·)",
}


def named(t, key):
    """Give the node that made ``t`` its name in the equations (``GATE_LABELS[key]``); returns ``t``.

    One attribute on the node: the drawer shows it, nothing else reads it."""
    fn = t._ctx
    if fn is not None:
        fn.label = GATE_LABELS[key]
    return t


# -- the equations, composed from primitive ops ---------------------------------------
def rnn_cell(pre, nonlinearity="tanh"):
    """pre (B, H) = x W_ih^T + b_ih + h W_hh^T + b_hh -> h' (B, H)."""
    return named(pre.tanh(), "h_tanh") if nonlinearity == "tanh" else named(pre.relu(), "h_relu")


def lstm_cell(gates, c, w_hr=None):
    """gates (B, 4H) = x W_ih^T + b_ih + h W_hh^T + b_hh, c (B, H) -> (h', c').

    h' is (B, H), or (B, P) through the projection ``w_hr`` (P, H)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    i, f, g, o = named(i.sigmoid(), "i"), named(f.sigmoid(), "f"), named(g.tanh(), "g"), named(o.sigmoid(), "o")
    c = named(named(f * c, "f*c") + named(i * g, "i*g"), "c")
    h = named(o * named(c.tanh(), "tanh c"), "h")
    if w_hr is not None:
        h = h @ w_hr.T
    return h, c


def gru_cell(gx, gh, h):
    """gx (B, 3H) = x W_ih^T + b_ih, gh (B, 3H) = h W_hh^T + b_hh, h (B, H) -> h' (B, H)."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = named((x_r + h_r).sigmoid(), "r")
    z = named((x_z + h_z).sigmoid(), "z")
    n = named((x_n + named(r * h_n, "r*hn")).tanh(), "n")
    return named((1 - z) * n + named(z * h, "z*h"), "h_gru")


# -- shared by cells and layers ---------------------------------------------------------
def check_size(owner, what, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{owner}: {what} must be {kind}, got {value!r}")


def check_nonlinearity(owner, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def new_parameter(shape, device, dtype):
    return Parameter(empty(*shape, dtype=dtype, device=device))


def uniform_init(params, hidden_size):
    """PyTorch's recurrent init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), in order."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        uniform_(p, -bound, bound)


def check_features(owner, input, input_size):
    """The last dim of ``input`` must be ``input_size`` (cells and layers alike)."""
    if input.shape[-1] != input_size:
        raise OpError(
            f"{owner}: input has {input.shape[-1]} features (shape {input.shape}) but input_size is {input_size}"
        )


def check_dtype(owner, input, weight):
    if input.dtype != weight.dtype:
        raise OpError(
            f"{owner}: input of shape {input.shape} is {input.dtype} but the parameters are "
            f"{weight.dtype}; convert one with .to({weight.dtype}) or module.to({input.dtype})"
        )


class _Cell(Module):
    """Parameters and argument checks shared by the three cells."""

    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, fused=True):
        super().__init__()
        name = type(self).__name__
        check_size(name, "input_size", input_size)
        check_size(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        self.fused = fused
        G = self.gates * hidden_size
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
        check_features(name, input, self.input_size)
        check_dtype(name, input, self.weight_ih)
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
        check_dtype(type(self).__name__, state, self.weight_ih)
        return state.reshape(1, -1) if unbatched else state

    def _scope(self):
        return scope(cell=(type(self).__name__, next(cell_ids)))

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

    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None,
                 fused=True):  # fmt: skip
        check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype, fused)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, "hx", x, unbatched)
        with self._scope():
            if self.fused:
                out = fused_ops.RNNCellOp.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)
            else:
                out = rnn_cell(self._pre(x, h), self.nonlinearity)
        return out.reshape(-1) if unbatched else out


class LSTMCell(_Cell):
    """Long short-term memory cell (gates i, f, g, o).

    input (B, input_size) or (input_size,); hx = (h, c), each (B, hidden_size)
    (zeros when None) -> (h', c'). Parameters: weight_ih (4H, I), weight_hh
    (4H, H), bias_ih (4H,), bias_hh (4H,)."""

    gates = 4

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise OpError(f"LSTMCell: hx must be a pair (h, c), got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        h = self._state(h0, "h", x, unbatched)
        c = self._state(c0, "c", x, unbatched)
        with self._scope():
            if self.fused:
                h, c = fused_ops.LSTMCellOp.apply(x, h, c, *self._weights())
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

    gates = 3

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, "hx", x, unbatched)
        with self._scope():
            if self.fused:
                out = fused_ops.GRUCellOp.apply(x, h, *self._weights())
            else:
                gx = x @ self.weight_ih.T
                gh = h @ self.weight_hh.T
                if self.bias:
                    gx, gh = gx + self.bias_ih, gh + self.bias_hh
                out = gru_cell(gx, gh, h)
        return out.reshape(-1) if unbatched else out

