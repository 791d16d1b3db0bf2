"""Convolutional recurrent cells and layers: ConvRNN, ConvLSTM, ConvGRU.

Shi et al. (2015), "Convolutional LSTM Network": the matrix products of a
recurrent cell become convolutions, so the state is a stack of feature maps
``(batch, hidden_channels, height, width)`` and every step sees a spatial
neighbourhood of the input frame and of the previous state. "Same" padding
keeps the state the size of the frame, for odd, even and rectangular kernels.

Each cell owns ONE weight ``(gates * hidden, in_channels + hidden, kh, kw)``:
its first ``in_channels`` input columns act on the frame x, the rest on the
state h, so ``conv(cat([x, h]), weight)`` equals ``conv(x, weight[:, :in]) +
conv(h, weight[:, in:])``. The layers use the second form when the frames
have enough channels: the frame half runs once over all time steps as one
batched convolution over ``(T*B, C, H, W)``, and only the state half runs per
step (see HOIST_MIN_COLUMNS for when the first form is faster). Slicing the
parameter is a differentiable getitem, so both halves train the one weight.

Equations (``*`` convolution, ``∘`` elementwise product, gate order as PyTorch):

    ConvRNN:  h' = tanh(W * [x, h] + b)                       (or relu)
    ConvLSTM: i, f, g, o = split(W * [x, h] + b)
              i = σ(i + w_ci ∘ c)   f = σ(f + w_cf ∘ c)       (peephole terms optional)
              c' = f ∘ c + i ∘ tanh(g)
              o = σ(o + w_co ∘ c')  h' = o ∘ tanh(c')
    ConvGRU:  r, z, n_x = split(W_x * x + b)   r_h, z_h, n_h = split(W_h * h)
              r = σ(r + r_h)   z = σ(z + z_h)
              n = tanh(n_x + r ∘ (n_h + b_hn))
              h' = (1 - z) ∘ n + z ∘ h

ConvGRU is PyTorch's GRU with convolutions: ``W_x = weight[:, :in]`` plays
``weight_ih``, ``W_h = weight[:, in:]`` plays ``weight_hh``, ``bias`` is
``bias_ih`` and ``bias_hn`` is the n-part of ``bias_hh`` (its r- and z-parts
only ever add to ``bias``, so they are not kept twice). With 1x1 kernels on
1x1 frames each cell is exactly ``RNNCell`` / ``LSTMCell`` / ``GRUCell``.

The cells and layers run the ConvLSTM gate arithmetic as one fused node per
step by default (``ConvLSTMCellOp`` below: one pass each way instead of a dozen
primitive nodes); ``fused=False`` composes it from primitive ops, which is what
``ts.viz.draw(detail="op")`` shows. Both give the same numbers (tested to
1e-12 in float64). Peephole cells always run composed. ConvRNN (one tanh) and
ConvGRU are composed.

Initialisation follows Conv2d: ``kaiming_uniform_(a=sqrt(5))`` for the weight,
i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = (in + hidden) * kh * kw,
and the same bound for the biases. Peephole weights start at zero, so a fresh
peephole ConvLSTM computes what a plain one does and learns how much to peek.
"""

from __future__ import annotations

import warnings

from .. import ops
from ..autograd import Function, OpError, scope
from ..ops import fused
from ..tensor import Tensor, zeros
from . import empty_batch
from . import functional as F
from .module import Module
from .rnn_cells import cell_ids, check_dtype, named, new_parameter

__all__ = ["ConvRNNCell", "ConvLSTMCell", "ConvGRUCell", "ConvRNN", "ConvLSTM", "ConvGRU"]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# A layer convolves the frames of all steps at once when that saves enough per
# step: with C * kh * kw frame columns or more. Below that, the all-steps gate
# tensor it materialises (T x B x gates x H x W, written, added, and split up
# again in backward) costs more memory traffic than the few im2col columns it
# saves, and one convolution over cat([x_t, h]) per step is faster. Measured
# (ConvLSTM, 3x3, 16 hidden, B=8, 64x64, T=10, one thread), time per step
# relative to hoisting: 1 frame channel 0.86x, 4: 0.92x, 16: 1.0x, 64: 1.37x.
HOIST_MIN_COLUMNS = 128


# -- arguments -----------------------------------------------------------------------
def _kernel(k, owner):
    """An int or a (kh, kw) pair -> (kh, kw), both positive."""
    pair = (k, k) if isinstance(k, int) else k
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
    ):
        raise ValueError(f"{owner}: kernel_size must be a positive int or a (kh, kw) pair, got {k!r}")
    return tuple(pair)


def _check_padding(padding, kernel, owner):
    """Only size-keeping paddings make sense: the state must stay the frame's size."""
    if padding == "same":
        return
    p = (padding, padding) if isinstance(padding, int) else padding
    if isinstance(p, (tuple, list)) and len(p) == 2 and all(2 * a == k - 1 for a, k in zip(p, kernel)):
        return
    raise ValueError(
        f"{owner}: padding {padding!r} would change the spatial size with kernel {kernel}; "
        "use padding='same' (even kernels pad one more on the bottom/right, as PyTorch's 'same')"
    )


def _positive(value, name, owner):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def _per_layer(value, num_layers, name, owner, convert):
    """A single value for every layer, or a list with one entry per layer."""
    if isinstance(value, list):
        if len(value) != num_layers:
            raise ValueError(f"{owner}: {name} lists {len(value)} values for num_layers={num_layers}")
        return [convert(v) for v in value]
    return [convert(value)] * num_layers


# -- the fused ConvLSTM step -------------------------------------------------------------
#
# Gates (B, 4h, H, W) read as (B, 4 * h*H*W) are the (B, 4H) gate blocks i|f|g|o of
# an LSTM cell with H = h*H*W units, and the states (B, h, H, W) its (B, H) states:
# the step runs the LSTM cell kernels of ``tinyseq.ops.fused`` (the CUDA ones on a
# GPU) on those views, without copies. On the CPU it goes a few images at a time:
# each pass then stays in cache instead of streaming the whole batch through memory
# a dozen times (~30% faster).

_CHUNK_BYTES = 1 << 20  # gate bytes per kernel call on the CPU: a few images, cache-sized


class ConvLSTMCellOp(Function):
    """The gate arithmetic of one ConvLSTM step as one node.

    xg (B, 4h, H, W): the frame's gate pre-activations (bias included);
    hg (B, 4h, H, W): the state's, or absent (zero state); c (B, h, H, W) or
    absent (zero). -> (h' (B, h, H, W), c' (B, h, H, W))."""

    saves = (-1,)  # c, which the cell's backward reads
    saves_outputs = True  # and h', which it reads too

    def uses_saved(self, i):
        return self.has[1]

    def forward(self, xg, *rest, has_h, has_c):
        xp = self.xp
        hg = rest[0] if has_h else None
        c_prev = rest[-1] if has_c else xp.zeros((xg.shape[0], xg.shape[1] // 4) + xg.shape[2:], xg.dtype)
        B, state = xg.shape[0], c_prev.shape
        a = xp.empty((B, xg[0].size), dtype=xg.dtype)  # becomes the activations (kept for backward)
        h, c, tc = (xp.empty((B, c_prev[0].size), dtype=xg.dtype) for _ in range(3))
        fwd, _ = fused.cell_kernels(self.backend, "lstm_cell")
        xg2, c_prev2 = xg.reshape(B, -1), c_prev.reshape(B, -1)
        hg2 = None if hg is None else hg.reshape(B, -1)
        saved = []
        for s in self._chunks(a):
            if hg2 is None:
                a[s] = xg2[s]
            else:
                xp.add(xg2[s], hg2[s], out=a[s])
            saved.append(fwd(xp, a[s], c_prev2[s], h_out=h[s], c_out=c[s], tc_out=tc[s])[2])
        self.saved = saved
        self.has = (has_h, has_c)
        return h.reshape(state), c.reshape(state)

    def backward(self, dh, dc):
        xp = self.xp
        saved = self.saved
        B = dh.shape[0]
        shape = dh.shape
        dh2, dc2 = dh.reshape(B, -1), dc.reshape(B, -1)
        d = xp.empty((B, 4 * dh2.shape[1]), dtype=dh.dtype)
        _, bwd = fused.cell_kernels(self.backend, "lstm_cell")
        dc_prev = [bwd(xp, ks, dh2[s], dc2[s], out=d[s])[1] for s, ks in zip(self._chunks(d), saved)]
        has_h, has_c = self.has
        d = d.reshape((B, 4 * shape[1]) + shape[2:])
        grads = (d, d) if has_h else (d,)
        if not has_c:
            return grads
        dc_prev = dc_prev[0] if len(dc_prev) == 1 else xp.concatenate(dc_prev)
        return grads + (dc_prev.reshape(shape),)

    def _chunks(self, x):
        """Slices of the batch, one kernel call each (the whole batch on a device with its own kernels)."""
        B = x.shape[0]
        rows = B if self.backend.fused.get("lstm_cell") else max(1, _CHUNK_BYTES // max(1, x[:1].nbytes))
        return [slice(lo, lo + rows) for lo in range(0, B, rows)]


# -- the equations, composed from primitive ops ---------------------------------------
def _conv(x, weight, bias=None):
    return F.conv2d(x, weight, bias, padding="same")


def _channel_vector(p):
    """(n,) -> (n, 1, 1), broadcasting over (B, n, H, W)."""
    return p.reshape(p.shape[0], 1, 1)


def _rnn_update(pre, nonlinearity):
    return named(ops.tanh(pre), "h_tanh") if nonlinearity == "tanh" else named(ops.relu(pre), "h_relu")


def _lstm_update(xg, hg, c, peep, fused):
    """xg, hg (B, 4h, H, W) gate pre-activations of frame and state (hg None: zero
    state); c (B, h, H, W) or None (zero); peep: (w_ci, w_cf, w_co) or None."""
    if fused and peep is None:
        args = [a for a in (xg, hg, c) if a is not None]
        return ConvLSTMCellOp.apply(*args, has_h=hg is not None, has_c=c is not None)
    i, f, g, o = ops.chunk(xg if hg is None else xg + hg, 4, dim=1)
    if peep is not None and c is not None:
        i = i + peep[0] * c
        f = f + peep[1] * c
    # the names are the drawer's (rnn_cells.GATE_LABELS); with c = 0, c' is i * g itself
    c_new = named(named(ops.sigmoid(i), "i") * named(ops.tanh(g), "g"), "c" if c is None else "i*g")
    if c is not None:
        c_new = named(named(named(ops.sigmoid(f), "f") * c, "f*c") + c_new, "c")
    if peep is not None:
        o = o + peep[2] * c_new
    return named(named(ops.sigmoid(o), "o") * named(ops.tanh(c_new), "tanh c"), "h"), c_new


def _gru_update(xg, hg, h, bias_hn):
    """xg (B, 3h, H, W) frame part incl. bias; hg the state part or None (h == 0)."""
    xr, xz, xn = ops.chunk(xg, 3, dim=1)
    if hg is None:
        # h = 0: the state convolution is zero; only b_hn survives inside the reset product
        r, z = named(ops.sigmoid(xr), "r"), named(ops.sigmoid(xz), "z")
        n = named(ops.tanh(xn + r * bias_hn) if bias_hn is not None else ops.tanh(xn), "n")
        return named(n - z * n, "h_gru")
    hr, hz, hn = ops.chunk(hg, 3, dim=1)
    r, z = named(ops.sigmoid(xr + hr), "r"), named(ops.sigmoid(xz + hz), "z")
    if bias_hn is not None:
        hn = hn + bias_hn
    n = named(ops.tanh(xn + named(r * hn, "r*hn")), "n")
    return named(n + z * (h - n), "h_gru")  # = (1 - z) n + z h


# -- parameters ----------------------------------------------------------------------
def _init_like_conv(weight, biases) -> None:
    """Conv2d's default: kaiming_uniform_(a=sqrt(5)) weight, U(±1/sqrt(fan_in)) biases."""
    from . import init

    init.default_affine_(weight, *biases)


def _make_params(module, mode, cin, hidden, kernel, bias, peephole, suffix, device, dtype):
    """Register one cell's parameters on ``module`` as <name><suffix> and initialise them."""
    weight = f"weight{suffix}"
    setattr(module, weight, new_parameter((_GATES[mode] * hidden, cin + hidden) + kernel, device, dtype))
    biases = []
    if bias:
        biases.append(f"bias{suffix}")
        setattr(module, biases[-1], new_parameter((_GATES[mode] * hidden,), device, dtype))
        if mode == "gru":
            biases.append(f"bias_hn{suffix}")
            setattr(module, biases[-1], new_parameter((hidden,), device, dtype))
    _init_like_conv(getattr(module, weight), [getattr(module, b) for b in biases])
    if peephole:
        for p in ("weight_ci", "weight_cf", "weight_co"):
            # zero: a fresh peephole cell computes what a plain one does
            setattr(module, f"{p}{suffix}", new_parameter((hidden, 1, 1), device, dtype))
            getattr(module, f"{p}{suffix}")._data[...] = 0


def _bad_shape(owner, x, want):
    got = x.shape if isinstance(x, Tensor) else type(x).__name__
    return OpError(f"{owner}: expected {want}, got {got}")


# -- cells ---------------------------------------------------------------------------
class _ConvCell(Module):
    _mode = "rnn"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", peephole=False,
                 fused=True, device=None, dtype=None):  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive(in_channels, "in_channels", name)
        self.hidden_channels = _positive(hidden_channels, "hidden_channels", name)
        self.kernel_size = _kernel(kernel_size, name)
        _check_padding(padding, self.kernel_size, name)
        self.padding = padding
        self.peephole = bool(peephole)
        self.fused = bool(fused)
        _make_params(self, self._mode, in_channels, hidden_channels, self.kernel_size, bias, peephole, "",
                     device, dtype)  # fmt: skip
        if not bias:
            self.register_parameter("bias", None)

    def _check(self, x, state):
        """Validate frame x (B, C, H, W) and each state map (B, hidden, H, W)."""
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise _bad_shape(name, x, f"a frame of shape (batch, {self.in_channels}, height, width)")
        if x.shape[1] != self.in_channels:
            raise OpError(
                f"{name}: input has {x.shape[1]} channels but in_channels={self.in_channels} (input shape {x.shape})"
            )
        check_dtype(name, x, self.weight)
        want = (x.shape[0], self.hidden_channels) + x.shape[2:]
        for s in state:
            if not isinstance(s, Tensor) or s.shape != want:
                got = s.shape if isinstance(s, Tensor) else type(s).__name__
                raise OpError(f"{name}: state of shape {got} does not fit input {x.shape}; expected {want}")

    def _zero_state(self, x):
        return zeros(x.shape[0], self.hidden_channels, *x.shape[2:], dtype=x.dtype, device=x.device)

    def _tag(self):
        return scope(cell=(type(self).__name__, next(cell_ids)))

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}"
        if self.bias is None:
            s += ", bias=False"
        return s + (", peephole=True" if self.peephole else "")


class ConvRNNCell(_ConvCell):
    """h' = tanh(conv(cat([x, h]), weight) + bias) (relu with ``nonlinearity="relu"``).

    x: (B, in_channels, H, W); state h: (B, hidden_channels, H, W) or None (zeros).
    weight: (hidden, in + hidden, kh, kw); bias: (hidden,). Returns h'."""

    _mode = "rnn"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", nonlinearity="tanh",
                 device=None, dtype=None):  # fmt: skip
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"ConvRNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(in_channels, hidden_channels, kernel_size, bias, padding, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, state=None):
        self._check(x, () if state is None else (state,))
        h = self._zero_state(x) if state is None else state
        with self._tag():
            return _rnn_update(_conv(ops.cat([x, h], dim=1), self.weight, self.bias), self.nonlinearity)


class ConvLSTMCell(_ConvCell):
    """Convolutional LSTM step, gate order i, f, g, o (Shi et al. 2015).

    x: (B, in_channels, H, W); state (h, c), each (B, hidden_channels, H, W), or
    None (zeros). weight: (4*hidden, in + hidden, kh, kw); bias: (4*hidden,);
    with ``peephole``: weight_ci, weight_cf, weight_co of shape (hidden, 1, 1).
    Returns (h', c')."""

    _mode = "lstm"

    def forward(self, x, state=None):
        if state is not None and (not isinstance(state, (tuple, list)) or len(state) != 2):
            raise OpError(f"ConvLSTMCell: state must be a pair (h, c), got {type(state).__name__}")
        self._check(x, () if state is None else state)
        h, c = (self._zero_state(x), None) if state is None else state
        peep = (self.weight_ci, self.weight_cf, self.weight_co) if self.peephole else None
        with self._tag():
            return _lstm_update(_conv(ops.cat([x, h], dim=1), self.weight, self.bias), None, c, peep, self.fused)


class ConvGRUCell(_ConvCell):
    """Convolutional GRU step: PyTorch's GRU equations with convolutions (r, z, n).

    x: (B, in_channels, H, W); state h: (B, hidden_channels, H, W) or None (zeros).
    weight: (3*hidden, in + hidden, kh, kw); bias: (3*hidden,); bias_hn: (hidden,).
    The reset gate multiplies only the state's share of the candidate, so the
    frame and state column blocks of the weight run as two convolutions. Returns h'."""

    _mode = "gru"

    def __init__(self, in_channels, hidden_channels, kernel_size, bias=True, padding="same", device=None,
                 dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, bias, padding, device=device, dtype=dtype)
        if not bias:
            self.register_parameter("bias_hn", None)

    def forward(self, x, state=None):
        self._check(x, () if state is None else (state,))
        k = self.in_channels
        with self._tag():
            bias_hn = None if self.bias_hn is None else _channel_vector(self.bias_hn)
            xg = _conv(x, self.weight[:, :k], self.bias)
            hg = None if state is None else _conv(state, self.weight[:, k:])
            return _gru_update(xg, hg, state, bias_hn)


# -- layers --------------------------------------------------------------------------
class _ConvRecurrent(Module):
    """Parameters, argument checks and the time loop shared by the three layers."""

    _mode = "rnn"
    _cell = "ConvRNNCell"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, peephole=False, nonlinearity="tanh", fused=True, device=None,
                 dtype=None):  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive(in_channels, "in_channels", name)
        self.num_layers = _positive(num_layers, "num_layers", name)
        self.hidden_channels = _per_layer(
            hidden_channels, num_layers, "hidden_channels", name, lambda v: _positive(v, "hidden_channels", name)
        )
        self.kernel_size = _per_layer(kernel_size, num_layers, "kernel_size", name, lambda v: _kernel(v, name))
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers only, and num_layers=1", UserWarning, stacklevel=3
            )
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        self.peephole = bool(peephole)
        self.nonlinearity = nonlinearity
        self.fused = bool(fused)
        dirs = 2 if bidirectional else 1
        for k in range(num_layers):
            cin = in_channels if k == 0 else dirs * self.hidden_channels[k - 1]
            for d in range(dirs):
                hid, ker = self.hidden_channels[k], self.kernel_size[k]
                _make_params(self, self._mode, cin, hid, ker, bias, peephole, _suffix(k, d), device, dtype)

    @property
    def _dirs(self) -> int:
        return 2 if self.bidirectional else 1

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
            raise _bad_shape(name, x, f"input of shape {order}{self.in_channels}, height, width)")
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B, C, H, W = x.shape
        if C != self.in_channels:
            raise OpError(f"{name}: input has {C} channels but in_channels={self.in_channels} (input shape {x.shape})")
        if T == 0:
            raise OpError(f"{name}: input of shape {x.shape} has no time steps")
        check_dtype(name, x, self.weight_l0)
        if B == 0:  # an empty batch: empty outputs, as PyTorch's recurrent layers give
            return empty_batch.conv_recurrent_layer(self, x, h0)
        states = self._initial_states(h0, B, H, W)
        dirs = self._dirs
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for d in range(dirs):
                with scope(layer=k, direction=d):
                    out, state = self._run(x, k, d, states[k * dirs + d])
                outs.append(out)
                finals.append(state)
            x = outs[0] if dirs == 1 else ops.cat(outs, dim=2)
        output = x.transpose(0, 1) if self.batch_first else x
        h_n = _gather([s[0] for s in finals])
        if self._mode == "lstm":
            return output, (h_n, _gather([s[1] for s in finals]))
        return output, h_n

    def _run(self, x, k, d, state):
        """One layer, one direction over x (T, B, C, H, W) -> ((T, B, hidden, H, W), (h, c))."""
        T, B, C, H, W = x.shape
        sfx = _suffix(k, d)
        weight = getattr(self, f"weight{sfx}")
        bias = getattr(self, f"bias{sfx}") if self.bias else None
        G = weight.shape[0]
        hoist = C * weight.shape[2] * weight.shape[3] >= HOIST_MIN_COLUMNS
        if hoist:
            # the frame half of every step in one convolution; per step only the state half
            xg = _conv(x.reshape(T * B, C, H, W), weight[:, :C], bias).reshape(T, B, G, H, W)
            xs = ops.split(xg, 1, dim=0) if T > 1 else (xg,)
        else:
            xs = ops.split(x, 1, dim=0) if T > 1 else (x,)
        w_x, w_h = weight[:, :C], weight[:, C:]
        peep = bias_hn = None
        if self.peephole:
            peep = tuple(getattr(self, f"{p}{sfx}") for p in ("weight_ci", "weight_cf", "weight_co"))
        if self._mode == "gru" and self.bias:
            bias_hn = _channel_vector(getattr(self, f"bias_hn{sfx}"))
        h, c = state
        outs = [None] * T
        for t in range(T) if d == 0 else range(T - 1, -1, -1):
            with scope(t=t, cell=(self._cell, next(cell_ids))):
                if hoist:
                    g = xs[t].reshape(B, G, H, W)
                    hg = None if h is None else _conv(h, w_h)
                else:
                    x_t = xs[t].reshape(B, C, H, W)
                    if h is None or self._mode == "gru":
                        g = _conv(x_t, w_x, bias)
                        hg = None if h is None else _conv(h, w_h)
                    else:
                        g, hg = _conv(ops.cat([x_t, h], dim=1), weight, bias), None
                if self._mode == "lstm":
                    h, c = _lstm_update(g, hg, c, peep, self.fused)
                elif self._mode == "gru":
                    h = _gru_update(g, hg, h, bias_hn)
                else:
                    h = _rnn_update(g if hg is None else g + hg, self.nonlinearity)
            outs[t] = h
        return ops.stack(outs), (h, c)

    def _initial_states(self, h0, B, H, W):
        """[(h, c)] per layer and direction; None stands for zero maps."""
        n = self.num_layers * self._dirs
        if h0 is None:
            return [(None, None)] * n
        name = type(self).__name__
        if self._mode == "lstm":
            if not isinstance(h0, (tuple, list)) or len(h0) != 2:
                raise OpError(f"{name}: h0 must be a pair (h_0, c_0), got {type(h0).__name__}")
            hs = self._split_state(h0[0], "h_0", B, H, W)
            cs = self._split_state(h0[1], "c_0", B, H, W)
            return list(zip(hs, cs))
        return [(h, None) for h in self._split_state(h0, "h0", B, H, W)]

    def _split_state(self, s, label, B, H, W):
        """A (n, B, hidden, H, W) tensor or a list of n maps -> list of n (B, hidden_k, H, W) maps."""
        name = type(self).__name__
        dirs = self._dirs
        n = self.num_layers * dirs
        wants = [(B, self.hidden_channels[i // dirs], H, W) for i in range(n)]
        if isinstance(s, Tensor):
            if len(set(wants)) != 1 or s.shape != (n,) + wants[0]:
                want = (n,) + wants[0] if len(set(wants)) == 1 else f"a list of {n} maps {wants}"
                raise OpError(f"{name}: {label} has shape {s.shape}, expected {want}")
            check_dtype(name, s, self.weight_l0)
            return [p.reshape(wants[0]) for p in ops.split(s, 1, dim=0)] if n > 1 else [s.reshape(wants[0])]
        if not isinstance(s, (tuple, list)) or len(s) != n:
            got = f"{len(s)} maps" if isinstance(s, (tuple, list)) else type(s).__name__
            raise OpError(f"{name}: {label} must be a tensor or a list of {n} maps, got {got}")
        for i, (m, want) in enumerate(zip(s, wants)):
            if not isinstance(m, Tensor) or m.shape != want:
                got = m.shape if isinstance(m, Tensor) else type(m).__name__
                raise OpError(f"{name}: {label}[{i}] has shape {got}, expected {want}")
            check_dtype(name, m, self.weight_l0)
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

    _mode = "rnn"
    _cell = "ConvRNNCell"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, nonlinearity="tanh", device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, nonlinearity=nonlinearity, device=device, dtype=dtype)  # fmt: skip


class ConvLSTM(_ConvRecurrent):
    """Stacked (optionally bidirectional) ConvLSTM; forward(x, (h_0, c_0)=None) -> (output, (h_n, c_n)).

    Parameters per layer k and direction: weight_l{k}[_reverse]
    (4*hidden, in + hidden, kh, kw), bias_l{k}[_reverse] (4*hidden,), and with
    ``peephole`` weight_ci/cf/co_l{k}[_reverse] (hidden, 1, 1)."""

    _mode = "lstm"
    _cell = "ConvLSTMCell"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, peephole=False, fused=True, device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, peephole=peephole, fused=fused, device=device, dtype=dtype)  # fmt: skip


class ConvGRU(_ConvRecurrent):
    """Stacked (optionally bidirectional) ConvGRU (PyTorch's GRU equations, convolutions).

    Parameters per layer k and direction: weight_l{k}[_reverse]
    (3*hidden, in + hidden, kh, kw), bias_l{k}[_reverse] (3*hidden,) and
    bias_hn_l{k}[_reverse] (hidden,)."""

    _mode = "gru"
    _cell = "ConvGRUCell"

    def __init__(self, in_channels, hidden_channels, kernel_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False, dropout=0.0, device=None, dtype=None):  # fmt: skip
        super().__init__(in_channels, hidden_channels, kernel_size, num_layers, bias, batch_first, bidirectional,
                         dropout, device=device, dtype=dtype)  # fmt: skip
