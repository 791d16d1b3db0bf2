"""Recurrent layers: RNN, LSTM, GRU — stacked, bidirectional, variable length.

One driver (``_Stack``) runs every layer and direction of these and of the
convolutional layers (``conv``), in ``scope(layer=k, direction=d)``, with dropout
between layers; each layer supplies the run of one direction over the sequence.

A layer unrolls its cell over time, layer after layer. For each layer and
direction the input projection x W_ih^T + b of *all* steps is one matrix
product over (T * B, input); each step then adds h W_hh^T and applies the cell.
Backpropagation through time is the autograd engine walking back through the
per-step nodes; truncated BPTT is ``h.detach()`` between chunks.

Every step runs inside ``scope(layer=k, direction=d, t=t, cell=(name, id))``
(direction 0 forward in time, 1 reverse; t the true time index), so the graph
drawer can cluster an unrolled graph by step and box each cell.

``lengths`` gives each batch row's valid length (any order): a row's state
stops changing after its last valid step, so h_n holds each row's state at its
last valid step; the reverse direction starts each row at its own last valid
step; outputs past a row's length are zero. These are PyTorch's
packed-sequence results, without the PackedSequence. (Rows are masked in place
rather than sorted and shrunk: no reordering, and nothing changes when all
rows are full.)

Parameter names, shapes, registration order and initialisation follow
PyTorch, so a PyTorch state dict converted to numpy loads with
``load_state_dict`` and gives the same outputs and gradients.
"""

from __future__ import annotations

import numpy as np

from ... import ops
from ..._tensor import Tensor
from ...autograd import OpError, scope
from ...ops.shape import Stack
from .. import empty_batch
from .. import functional as F
from ..module import Module
from . import checks, packed
from .cells import GATES, cell_ids, new_parameter, uniform_init
from .equations import gru_cell, lstm_cell, rnn_cell
from .sequence import InputProjection, RecurrentSequence, SharedWeight
from .steps import GRUStep, LSTMStep, RNNStep

__all__ = ["RNN", "LSTM", "GRU"]

_CELL = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
_STEP = {"rnn": RNNStep, "lstm": LSTMStep, "gru": GRUStep}


class _Stack(Module):
    """The driver shared by the six layers: ``num_layers`` x directions x time steps.

    ``kind`` ("rnn" | "lstm" | "gru") names the cell; a subclass gives the run
    of one direction, ``run(x, k, d, h, c) -> (output, h_last, c_last)`` over
    x (T, B, features...) with c None but for an LSTM."""

    kind = "rnn"
    cell_prefix = ""  # the scope tags name each step's cell: "LSTMCell", "ConvLSTMCell", ...

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def _stack(self, x, states, run):
        """x (T, B, ...) through every layer and direction; states: one (h, c) per layer
        and direction. -> (output (T, B, D * width, ...), [h_last], [c_last]), in that order."""
        D = self.num_directions
        h_n, c_n = [], []
        for k in range(self.num_layers):
            if k and self.dropout and self.training:
                x = F.dropout(x, self.dropout, training=True)
            outs = []
            for d in range(D):
                h, c = states[k * D + d]
                with scope(layer=k, direction=d):
                    out, h, c = run(x, k, d, h, c)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if D == 1 else ops.cat(outs, dim=2)
        return x, h_n, c_n

    def _steps(self, T, reverse, step, h, c):
        """The composed time loop: ``step(t, h, c) -> (h, c)`` for each t in time order
        (reversed for a reverse direction), each in scope(t=t, cell=(cell, id)).
        -> (the outputs h_t stacked (T, ...), the last h, the last c)."""
        cell = self.cell_prefix + _CELL[self.kind]
        outs = [None] * T
        for t in range(T - 1, -1, -1) if reverse else range(T):
            with scope(t=t, cell=(cell, next(cell_ids))):
                h, c = step(t, h, c)
            outs[t] = h
        return ops.stack(outs), h, c


class _RecurrentLayer(_Stack):
    """What RNN, LSTM and GRU share: parameters, argument checks and the time loop."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, nonlinearity="tanh", device=None, dtype=None,
                 fused=True):  # fmt: skip
        super().__init__()
        name = type(self).__name__
        checks.positive(name, "input_size", input_size)
        checks.positive(name, "hidden_size", hidden_size)
        checks.positive(name, "num_layers", num_layers)
        checks.positive(name, "proj_size", proj_size, minimum=0)
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size must be smaller than hidden_size ({hidden_size}), got {proj_size}")
        self.dropout = checks.dropout(name, dropout, num_layers)
        self.nonlinearity = checks.nonlinearity(name, nonlinearity)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.proj_size = proj_size
        self.fused = fused
        D = 2 if bidirectional else 1
        G = GATES[self.kind] * hidden_size
        P = proj_size or hidden_size
        self._names = {}
        for k in range(num_layers):
            layer_input = input_size if k == 0 else P * D
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (G, layer_input)), ("weight_hh", (G, P))]
                if bias:
                    shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for pname, shape in shapes:
                    setattr(self, pname + sfx, new_parameter(shape, device, dtype))
                self._names[k, d] = [pname + sfx for pname, _ in shapes]
        self.reset_parameters()

    def reset_parameters(self):
        uniform_init(self.parameters(), self.hidden_size)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
                    "proj_size": 0}  # fmt: skip
        if self.kind == "rnn" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default:
                s += f", {key}={value}"
        return s

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def _weights(self, k, d):
        # read the parameter store directly (getattr through Module costs ~0.5 us a name, on
        # every call); a name moved out of it (a reparametrization) still resolves by getattr
        params = self._parameters
        return [params[n] if n in params else getattr(self, n) for n in self._names[k, d]]

    @property
    def all_weights(self):
        """The parameters of each layer and direction, as lists (PyTorch's ``all_weights``)."""
        return [self._weights(k, d) for k in range(self.num_layers) for d in range(self.num_directions)]

    def flatten_parameters(self):
        """No-op, for code written for PyTorch (whose cuDNN path wants one weight buffer)."""

    # -- arguments -------------------------------------------------------------------------
    def _input(self, input):
        """-> (T, B, I) input and whether it came unbatched (T, I)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
        layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
        if input.ndim not in (2, 3):
            raise OpError(f"{name}: expected input {layout} or unbatched (seq, input_size), got shape {input.shape}")
        checks.features(name, input, self.input_size)
        checks.dtype(name, input, self.weight_ih_l0)
        if input.ndim == 2:
            return input.reshape(input.shape[0], 1, input.shape[1]), True
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _initial(self, state, what, width, B, unbatched, x):
        """h_0 or c_0 (num_layers * D, B, width) -> one (B, width) tensor per layer and direction."""
        LD = self.num_layers * self.num_directions
        if state is None:  # zeros on the input's device, made directly: this runs on every call
            be = x._backend
            return [Tensor._make(be.xp.zeros((B, width), dtype=x.dtype), be) for _ in range(LD)]
        expected = (LD, width) if unbatched else (LD, B, width)
        if not isinstance(state, Tensor) or state.shape != expected:
            got = state.shape if isinstance(state, Tensor) else type(state).__name__
            size = "proj_size" if what == "h_0" and self.proj_size else "hidden_size"
            layout = f"(num_layers * num_directions, {'' if unbatched else 'batch, '}{size})"
            raise OpError(f"{type(self).__name__}: {what} should have shape {expected} {layout}, got {got}")
        checks.dtype(type(self).__name__, state, self.weight_ih_l0)
        parts = ops.split(state, 1, dim=0) if LD > 1 else (state,)
        return [p.reshape(B, width) for p in parts]

    def _masks(self, lengths, T, B):
        """lengths (B,) -> (T, B, 1) bool host array (True: a valid step), or None when all are full."""
        if lengths is None:
            return None
        name = type(self).__name__
        host = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
        if host.dtype.kind not in "iu":
            raise OpError(f"{name}: lengths must be integers, got {host.dtype} {host.tolist()!r}")
        if host.shape != (B,):
            raise OpError(f"{name}: lengths must have one entry per batch row ({B}), got shape {host.shape}")
        bad = np.flatnonzero((host < 1) | (host > T))
        if bad.size:
            raise OpError(
                f"{name}: lengths must be in [1, {T}] (the sequence length); row {int(bad[0])} has {int(host[bad[0]])}"
            )
        if (host == T).all():
            return None
        return (np.arange(T)[:, None] < host[None, :])[:, :, None]

    # -- the time loop ---------------------------------------------------------------------
    def forward(self, input, h0=None, lengths=None, hx=None):
        """input: (T, B, input_size), or (B, T, input_size) with batch_first, or
        unbatched (T, input_size). h0: (num_layers * D, B, P) (LSTM: a pair
        (h_0, c_0), c_0 of width hidden_size); zeros when None (``hx`` is an
        alias). lengths: B valid lengths in [1, T], any order, or None.

        Returns (output, h_n) — LSTM: (output, (h_n, c_n)) — with output
        (T, B, D * P) (batch_first: (B, T, D * P)) and h_n (num_layers * D, B, P);
        D = 2 if bidirectional else 1, P = proj_size or hidden_size."""
        name = type(self).__name__
        if hx is not None:
            if h0 is not None:
                raise TypeError(f"{name}: pass the initial state as h0 or hx, not both")
            h0 = hx
        if isinstance(input, packed.PackedSequence):
            if lengths is not None:
                raise TypeError(f"{name}: a PackedSequence carries its lengths; do not pass lengths= too")
            return packed.forward_packed(self, input, h0)
        x, unbatched = self._input(input)
        T, B, _ = x.shape
        if T == 0 or B == 0:  # empty outputs for an empty batch (as PyTorch); no steps: an error
            return empty_batch.recurrent_layer(self, input, x, h0)
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        lstm = self.kind == "lstm"
        if lstm:
            if h0 is not None and (not isinstance(h0, (tuple, list)) or len(h0) != 2):
                raise OpError(f"{name}: h0 must be a pair (h_0, c_0), got {type(h0).__name__}")
            h_init, c_init = (None, None) if h0 is None else h0
            hs = self._initial(h_init, "h_0", P, B, unbatched, x)
            cs = self._initial(c_init, "c_0", H, B, unbatched, x)
        else:
            if isinstance(h0, (tuple, list)):
                raise OpError(f"{name}: h0 must be a tensor, got a {type(h0).__name__} (only LSTM takes (h_0, c_0))")
            hs = self._initial(h0, "h_0", P, B, unbatched, x)
            cs = [None] * len(hs)
        masks = self._masks(lengths, T, B)

        direction = self._direction_fused if self.fused else self._direction_composed
        x, h_n, c_n = self._stack(x, list(zip(hs, cs)), lambda x, k, d, h, c: direction(x, k, d, h, c, masks))
        if masks is not None:
            x = x * Tensor._make(x._backend.from_host(masks.astype(x.dtype)), x._backend)

        # Stack copies: h_n and c_n share no memory with the output or with what backward reads.
        # (Its node directly: the shapes are known to match, and this runs on every call.)
        h_n = Stack.apply(*h_n, axis=0)
        if lstm:
            c_n = Stack.apply(*c_n, axis=0)
        if unbatched:
            x = x.reshape(T, -1)
            h_n = h_n.reshape(h_n.shape[0], -1)
            c_n = c_n.reshape(c_n.shape[0], -1) if lstm else None
        elif self.batch_first:
            x = x.transpose(0, 1)
        return (x, (h_n, c_n)) if lstm else (x, h_n)

    def _direction_fused(self, x, k, d, h, c, masks):
        """One layer direction as the lecture's unrolled graph (see ``sequence``):
        InputProjection, a SharedWeight per weight the steps read, T step nodes and
        RecurrentOutput -> (output (T, B, P), h_last, c_last)."""
        be = x._backend
        gru = self.kind == "gru"
        seq = RecurrentSequence(
            self.kind, reverse=bool(d), bias=self.bias, proj=bool(self.proj_size),
            masks=None if masks is None else be.from_host(masks), nonlinearity=self.nonlinearity,
        )  # fmt: skip
        w_ih, w_hh, *rest = self._weights(k, d)
        b_ih, b_hh = rest[:2] if self.bias else (None, None)
        w_hr = rest[-1] if self.proj_size else None
        seq.start(be, x.shape[0], x.shape[1], w_hh._data, b_hh._data if gru and self.bias else None,
                  None if w_hr is None else w_hr._data)  # fmt: skip
        biases = ([b_ih] if gru else [b_ih, b_hh]) if self.bias else []
        gx = InputProjection.apply(x, w_ih, *biases, seq=seq)
        named = {"w_hh": w_hh, "b_hh": b_hh, "w_hr": w_hr}
        weights = [SharedWeight.apply(named[what], seq=seq, what=what) for what in seq.shared]
        seq.consumers = [t._ctx is not None for t in (gx, *weights)].count(True)
        # one node per step t, in scope(t=t, cell=(cell name, id)), as _steps tags them
        return _STEP[self.kind].unroll(gx, h, c, weights, seq, _CELL[self.kind], cell_ids)

    def _direction_composed(self, x, k, d, h, c, masks):
        """One layer direction from primitive ops: the equations, step by step."""
        w = {name.rsplit("_l", 1)[0]: getattr(self, name) for name in self._names[k, d]}
        T, B, I = x.shape
        # The input's part of every step's pre-activation, for all steps in one product.
        gx = x.reshape(T * B, I) @ w["weight_ih"].T
        if self.bias:
            gx = gx + w["bias_ih"] if self.kind == "gru" else gx + w["bias_ih"] + w["bias_hh"]
        gx = ops.split(gx.reshape(T, B, -1), 1, dim=0) if T > 1 else [gx]
        w_hh_t = w["weight_hh"].T

        def step(t, h, c):
            x_t = gx[t].reshape(B, -1)
            c_new = None
            if self.kind == "lstm":
                h_new, c_new = lstm_cell(x_t + h @ w_hh_t, c, w.get("weight_hr"))
            elif self.kind == "gru":
                gh = h @ w_hh_t
                h_new = gru_cell(x_t, gh + w["bias_hh"] if self.bias else gh, h)
            else:
                h_new = rnn_cell(x_t + h @ w_hh_t, self.nonlinearity)
            if masks is not None:  # rows past their length keep their state
                valid = Tensor._make(x._backend.from_host(masks[t]), x._backend)
                h_new = ops.where(valid, h_new, h)
                c_new = None if c is None else ops.where(valid, c_new, c)
            return h_new, c_new

        return self._steps(T, bool(d), step, h, c)


class RNN(_RecurrentLayer):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``fused=False``
    builds each step from primitive ops. Parameters per layer k and direction:
    weight_ih_l{k}[_reverse] (H, in), weight_hh_l{k} (H, H), bias_ih_l{k} (H,),
    bias_hh_l{k} (H,). See ``forward`` for shapes."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, fused=True):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity, device=device, dtype=dtype, fused=fused)  # fmt: skip


class LSTM(_RecurrentLayer):
    """Long short-term memory, stacked, optionally bidirectional and projected.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0)``. Parameters per layer k and
    direction: weight_ih_l{k}[_reverse] (4H, in), weight_hh_l{k} (4H, P),
    bias_ih_l{k} (4H,), bias_hh_l{k} (4H,), and weight_hr_l{k} (P, H) when
    proj_size > 0 (gate order i, f, g, o). forward(x, (h_0, c_0), lengths)
    -> (output, (h_n, c_n))."""

    kind = "lstm"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, fused=True):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size=proj_size, device=device, dtype=dtype, fused=fused)  # fmt: skip


class GRU(_RecurrentLayer):
    """Gated recurrent unit, stacked, optionally bidirectional (gate order r, z, n;
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)), as PyTorch).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``. Parameters per layer k and direction:
    weight_ih_l{k}[_reverse] (3H, in), weight_hh_l{k} (3H, H), bias_ih_l{k}
    (3H,), bias_hh_l{k} (3H,)."""

    kind = "gru"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, fused=True):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype, fused=fused)  # fmt: skip
