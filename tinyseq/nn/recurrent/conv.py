"""Convolutional recurrent layers: ConvRNN, ConvLSTM, ConvGRU (Shi et al. 2015,
"Convolutional LSTM Network"), stacked and optionally bidirectional.

The matrix products of a recurrent layer become convolutions, so the state is a
stack of feature maps ``(batch, hidden_channels, height, width)`` and every
step sees a spatial neighbourhood of the input frame and of the previous state;
"same" padding keeps the state the size of the frame. The cells and their
parameters are those of ``cells`` (one weight over [x, h] per layer and
direction); the layers and directions run on the driver of ``stack``.

When the frames have enough channels, the frame half of every step's
convolution runs once over all time steps, as one batched convolution over
``(T*B, C, H, W)``, and only the state half runs per step (see
HOIST_MIN_COLUMNS). Slicing the parameter is a differentiable getitem, so both
halves train the one weight.
"""

from __future__ import annotations

from ... import ops
from ..._tensor import Tensor
from ...autograd import OpError
from .. import empty_batch
from . import checks
from .cells import channel_vector, conv_lstm_step, conv_params
from .equations import conv, conv_gru_cell, rnn_cell
from .stack import _Stack

__all__ = ["ConvRNN", "ConvLSTM", "ConvGRU"]

# A layer convolves the frames of all steps at once when that saves enough per
# step: with C * kh * kw frame columns or more. Below that, the all-steps gate
# tensor it materialises (T x B x gates x H x W, written, added, and split up
# again in backward) costs more memory traffic than the few im2col columns it
# saves, and one convolution over cat([x_t, h]) per step is faster. Measured
# (ConvLSTM, 3x3, 16 hidden, B=8, 64x64, T=10, one thread), time per step
# relative to hoisting: 1 frame channel 0.86x, 4: 0.92x, 16: 1.0x, 64: 1.37x.
HOIST_MIN_COLUMNS = 128


class _ConvRecurrent(_Stack):
    """Parameters, argument checks and the run of one direction, shared by the three layers."""

    kind = "rnn"
    cell_prefix = "Conv"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, peephole=False, nonlinearity="tanh", fused=True, device=None,
                 dtype=None):  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.in_channels = checks.positive(name, "in_channels", in_channels, word="int")
        self.num_layers = checks.positive(name, "num_layers", num_layers, word="int")
        self.hidden_channels = checks.per_layer(
            name, "hidden_channels", hidden_channels, num_layers,
            lambda v: checks.positive(name, "hidden_channels", v, word="int"),
        )  # fmt: skip
        self.kernel_size = checks.per_layer(
            name, "kernel_size", kernel_size, num_layers, lambda v: checks.kernel_size(name, v)
        )
        self.dropout = checks.dropout(name, dropout, num_layers)
        self.nonlinearity = checks.nonlinearity(name, nonlinearity)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.peephole = bool(peephole)
        self.fused = bool(fused)
        dirs = 2 if bidirectional else 1
        for k in range(num_layers):
            cin = in_channels if k == 0 else dirs * self.hidden_channels[k - 1]
            for d in range(dirs):
                hid, ker = self.hidden_channels[k], self.kernel_size[k]
                conv_params(self, self.kind, cin, hid, ker, bias, peephole, _suffix(k, d), device, dtype)

    def forward(self, x, h0=None):
        """x: (T, B, C, H, W), or (B, T, C, H, W) with batch_first.

        h0: None (zeros), a tensor (num_layers * directions, B, hidden, H, W) or a
        list of one (B, hidden_k, H, W) map per layer and direction; ConvLSTM
        takes the pair (h_0, c_0). Returns (output, h_n) — ConvLSTM: (output,
        (h_n, c_n)) — with output (T, B, directions * hidden_last, H, W)
        ((B, T, ...) with batch_first) and h_n shaped like h0 (a list when
        hidden_channels differ between layers)."""
        name = type(self).__name__
        order = "(batch, seq_len, " if self.batch_first else "(seq_len, batch, "
        if not isinstance(x, Tensor) or x.ndim != 5:
            raise checks.bad_shape(name, x, f"input of shape {order}{self.in_channels}, height, width)")
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B, C, H, W = x.shape
        if C != self.in_channels:
            raise OpError(f"{name}: input has {C} channels but in_channels={self.in_channels} (input shape {x.shape})")
        if T == 0:
            raise OpError(f"{name}: input of shape {x.shape} has no time steps")
        checks.dtype(name, x, self.weight_l0)
        if B == 0:  # an empty batch: empty outputs, as PyTorch's recurrent layers give
            return empty_batch.conv_recurrent_layer(self, x, h0, _gather)
        x, h_n, c_n = self._stack(x, self._initial_states(h0, B, H, W), self._direction)
        output = x.transpose(0, 1) if self.batch_first else x
        if self.kind == "lstm":
            return output, (_gather(h_n), _gather(c_n))
        return output, _gather(h_n)

    def _direction(self, x, k, d, h, c):
        """One layer, one direction over x (T, B, C, H, W); h, c: (B, hidden, H, W) or None
        (zeros) -> ((T, B, hidden, H, W), h_last, c_last)."""
        T, B, C, H, W = x.shape
        sfx = _suffix(k, d)
        weight = getattr(self, f"weight{sfx}")
        bias = getattr(self, f"bias{sfx}") if self.bias else None
        G = weight.shape[0]
        hoist = C * weight.shape[2] * weight.shape[3] >= HOIST_MIN_COLUMNS
        if hoist:
            # the frame half of every step in one convolution; per step only the state half
            xg = conv(x.reshape(T * B, C, H, W), weight[:, :C], bias).reshape(T, B, G, H, W)
            xs = ops.split(xg, 1, dim=0) if T > 1 else (xg,)
        else:
            xs = ops.split(x, 1, dim=0) if T > 1 else (x,)
        w_x, w_h = weight[:, :C], weight[:, C:]
        peep = bias_hn = None
        if self.peephole:
            peep = tuple(getattr(self, f"{p}{sfx}") for p in ("weight_ci", "weight_cf", "weight_co"))
        if self.kind == "gru" and self.bias:
            bias_hn = channel_vector(getattr(self, f"bias_hn{sfx}"))

        def step(t, h, c):
            if hoist:
                g = xs[t].reshape(B, G, H, W)
                hg = None if h is None else conv(h, w_h)
            else:
                x_t = xs[t].reshape(B, C, H, W)
                if h is None or self.kind == "gru":
                    g = conv(x_t, w_x, bias)
                    hg = None if h is None else conv(h, w_h)
                else:
                    g, hg = conv(ops.cat([x_t, h], dim=1), weight, bias), None
            if self.kind == "lstm":
                return conv_lstm_step(g, hg, c, peep, self.fused)
            if self.kind == "gru":
                return conv_gru_cell(g, hg, h, bias_hn), None
            return rnn_cell(g if hg is None else g + hg, self.nonlinearity), None

        return self._steps(T, bool(d), step, h, c)

    def _initial_states(self, h0, B, H, W):
        """[(h, c)] per layer and direction; None stands for zero maps."""
        n = self.num_layers * self.num_directions
        if h0 is None:
            return [(None, None)] * n
        name = type(self).__name__
        if self.kind == "lstm":
            if not isinstance(h0, (tuple, list)) or len(h0) != 2:
                raise OpError(f"{name}: h0 must be a pair (h_0, c_0), got {type(h0).__name__}")
            hs = self._split_state(h0[0], "h_0", B, H, W)
            cs = self._split_state(h0[1], "c_0", B, H, W)
            return list(zip(hs, cs))
        return [(h, None) for h in self._split_state(h0, "h0", B, H, W)]

    def _split_state(self, s, label, B, H, W):
        """A (n, B, hidden, H, W) tensor or a list of n maps -> list of n (B, hidden_k, H, W) maps."""
        name = type(self).__name__
        dirs = self.num_directions
        n = self.num_layers * dirs
        wants = [(B, self.hidden_channels[i // dirs], H, W) for i in range(n)]
        if isinstance(s, Tensor):
            if len(set(wants)) != 1 or s.shape != (n,) + wants[0]:
                want = (n,) + wants[0] if len(set(wants)) == 1 else f"a list of {n} maps {wants}"
                raise OpError(f"{name}: {label} has shape {s.shape}, expected {want}")
            checks.dtype(name, s, self.weight_l0)
            return [p.reshape(wants[0]) for p in ops.split(s, 1, dim=0)] if n > 1 else [s.reshape(wants[0])]
        if not isinstance(s, (tuple, list)) or len(s) != n:
            got = f"{len(s)} maps" if isinstance(s, (tuple, list)) else type(s).__name__
            raise OpError(f"{name}: {label} must be a tensor or a list of {n} maps, got {got}")
        for i, (m, want) in enumerate(zip(s, wants)):
            if not isinstance(m, Tensor) or m.shape != want:
                got = m.shape if isinstance(m, Tensor) else type(m).__name__
                raise OpError(f"{name}: {label}[{i}] has shape {got}, expected {want}")
            checks.dtype(name, m, self.weight_l0)
        return list(s)

    def extra_repr(self) -> str:
        hid = self.hidden_channels if len(set(self.hidden_channels)) > 1 else self.hidden_channels[0]
        ker = self.kernel_size if len(set(self.kernel_size)) > 1 else self.kernel_size[0]
        s = f"{self.in_channels}, {hid}, kernel_size={ker}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for flag in ("batch_first", "bidirectional", "peephole"):
            if getattr(self, flag):
                s += f", {flag}=True"
        if not self.bias:
            s += ", bias=False"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s


def _suffix(k, d):
    return f"_l{k}" + ("_reverse" if d else "")


def _gather(maps):
    """Stack per-layer states when they share a shape; otherwise keep the list."""
    return ops.stack(maps) if len({m.shape for m in maps}) == 1 else maps


class ConvRNN(_ConvRecurrent):
    """Stacked (optionally bidirectional) ConvRNN; forward(x, h0=None) -> (output, h_n).

    Parameters per layer k and direction: weight_l{k}[_reverse]
    (hidden, in + hidden, kh, kw) and bias_l{k}[_reverse] (hidden,), where ``in``
    is in_channels for layer 0 and directions * hidden of the layer below."""

    kind = "rnn"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, nonlinearity="tanh", device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, nonlinearity=nonlinearity, device=device, dtype=dtype)  # fmt: skip


class ConvLSTM(_ConvRecurrent):
    """Stacked (optionally bidirectional) ConvLSTM; forward(x, (h_0, c_0)=None) -> (output, (h_n, c_n)).

    Parameters per layer k and direction: weight_l{k}[_reverse]
    (4*hidden, in + hidden, kh, kw), bias_l{k}[_reverse] (4*hidden,), and with
    ``peephole`` weight_ci/cf/co_l{k}[_reverse] (hidden, 1, 1)."""

    kind = "lstm"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, peephole=False, fused=True, device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, peephole=peephole, fused=fused, device=device, dtype=dtype)  # fmt: skip


class ConvGRU(_ConvRecurrent):
    """Stacked (optionally bidirectional) ConvGRU (PyTorch's GRU equations, convolutions).

    Parameters per layer k and direction: weight_l{k}[_reverse]
    (3*hidden, in + hidden, kh, kw), bias_l{k}[_reverse] (3*hidden,) and
    bias_hn_l{k}[_reverse] (hidden,)."""

    kind = "gru"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, device=device, dtype=dtype)  # fmt: skip
