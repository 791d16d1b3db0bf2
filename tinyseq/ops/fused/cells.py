"""Fused recurrent cell ops: one node per cell step, backward by hand.

RNNCellOp, LSTMCellOp and GRUCellOp are the fused twins of ``ts.nn.RNNCell``,
``LSTMCell`` and ``GRUCell``'s composed equations (``tinyseq.nn.recurrent.equations``);
ConvLSTMCellOp is the gate arithmetic of a ConvLSTM step. Their elementwise work
runs the device's cell kernels (``kernels.cell_kernels``).
"""

from __future__ import annotations

from ...autograd import Function
from .kernels import cell_kernels


def _cell_gates(x, h, w_ih, w_hh, b_ih, b_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh, summed in the composed cells' order."""
    gates = x @ w_ih.T
    if b_ih is not None:
        gates += b_ih
    gates += h @ w_hh.T
    if b_hh is not None:
        gates += b_hh
    return gates


def _weight_grads(fn, dgx, dgh, x, h, w_ih, w_hh, at):
    """Gradients of x, h (the matrix-product part), W_ih, W_hh[, b_ih, b_hh] from the
    gate gradients dgx (w.r.t. x W_ih^T + b_ih) and dgh (w.r.t. h W_hh^T + b_hh);
    ``at`` lists those inputs' indices. None where an input needs no gradient."""
    need = fn.needs
    i_x, i_h, i_wih, i_whh, i_bih, i_bhh = at
    out = [
        dgx @ w_ih if need(i_x) else None,
        dgh @ w_hh if need(i_h) else None,
        dgx.T @ x if need(i_wih) else None,
        dgh.T @ h if need(i_whh) else None,
    ]
    if len(fn.parents) > i_bih:
        db_ih = dgx.sum(0) if need(i_bih) or (dgh is dgx and need(i_bhh)) else None
        db_hh = (db_ih if dgh is dgx else dgh.sum(0)) if need(i_bhh) else None
        out += [db_ih if need(i_bih) else None, db_hh]
    return out


class RNNCellOp(Function):
    """Vanilla RNN cell as one node.

    x (B, I), h (B, H), W_ih (H, I), W_hh (H, H)[, b_ih (H,), b_hh (H,)] -> h' (B, H)."""

    saved_inputs = (0, 1, 2, 3)
    saves_outputs = True  # the kernel's backward reads h'

    def uses_saved_input(self, i):  # x and h for the weights' gradients, the weights for theirs
        return self.needs((2, 3, 0, 1)[i])

    def forward(self, x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
        fwd, _ = cell_kernels(self.backend, "rnn_cell")
        pre = _cell_gates(x, h, w_ih, w_hh, b_ih, b_hh)
        out, ks = fwd(self.xp, pre, nonlinearity)
        self.saved = (x, h, w_ih, w_hh, ks)
        self.nonlinearity = nonlinearity
        return out

    def backward(self, dh):
        x, h, w_ih, w_hh, ks = self.saved
        _, bwd = cell_kernels(self.backend, "rnn_cell")
        d = bwd(self.xp, ks, dh, self.nonlinearity)
        return tuple(_weight_grads(self, d, d, x, h, w_ih, w_hh, (0, 1, 2, 3, 4, 5)))


class LSTMCellOp(Function):
    """LSTM cell as one node.

    x (B, I), h (B, H), c (B, H), W_ih (4H, I), W_hh (4H, H)[, b_ih (4H,), b_hh (4H,)]
    -> (h' (B, H), c' (B, H))."""

    saved_inputs = (0, 1, 2, 3, 4)
    saves_outputs = True  # the kernel's backward reads h'

    def uses_saved_input(self, i):  # as RNNCellOp's, and c, which the cell's backward reads
        return i == 2 or self.needs((3, 4, None, 0, 1)[i])

    def forward(self, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
        fwd, _ = cell_kernels(self.backend, "lstm_cell")
        h2, c2, ks = fwd(self.xp, _cell_gates(x, h, w_ih, w_hh, b_ih, b_hh), c)
        self.saved = (x, h, w_ih, w_hh, ks)
        return h2, c2

    def backward(self, dh, dc):
        x, h, w_ih, w_hh, ks = self.saved
        _, bwd = cell_kernels(self.backend, "lstm_cell")
        d, dc_prev = bwd(self.xp, ks, dh, dc)
        dx, dh_prev, *rest = _weight_grads(self, d, d, x, h, w_ih, w_hh, (0, 1, 3, 4, 5, 6))
        return (dx, dh_prev, dc_prev if self.needs(2) else None, *rest)


class GRUCellOp(Function):
    """GRU cell as one node.

    x (B, I), h (B, H), W_ih (3H, I), W_hh (3H, H)[, b_ih (3H,), b_hh (3H,)] -> h' (B, H)."""

    saved_inputs = (0, 1, 2, 3)

    def uses_saved_input(self, i):  # as RNNCellOp's, and h, which the cell's backward reads
        return i == 1 or self.needs((2, None, 0, 1)[i])

    def forward(self, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
        fwd, _ = cell_kernels(self.backend, "gru_cell")
        gx = x @ w_ih.T
        if b_ih is not None:
            gx += b_ih
        gh = h @ w_hh.T
        if b_hh is not None:
            gh += b_hh
        out, ks = fwd(self.xp, gx, gh, h)
        self.saved = (x, h, w_ih, w_hh, ks)
        return out

    def backward(self, dh):
        x, h, w_ih, w_hh, ks = self.saved
        _, bwd = cell_kernels(self.backend, "gru_cell")
        dgx, dgh, dh_direct = bwd(self.xp, ks, dh)
        dx, dh_prev, *rest = _weight_grads(self, dgx, dgh, x, h, w_ih, w_hh, (0, 1, 2, 3, 4, 5))
        if dh_prev is not None:
            dh_prev += dh_direct
        return (dx, dh_prev, *rest)


# -- the fused ConvLSTM step -------------------------------------------------------------
#
# Gates (B, 4h, H, W) read as (B, 4 * h*H*W) are the (B, 4H) gate blocks i|f|g|o of
# an LSTM cell with H = h*H*W units, and the states (B, h, H, W) its (B, H) states:
# the step runs the LSTM cell kernels of ``kernels`` (the CUDA ones on a
# GPU) on those views, without copies. On the CPU it goes a few images at a time:
# each pass then stays in cache instead of streaming the whole batch through memory
# a dozen times (~30% faster).

_CHUNK_BYTES = 1 << 20  # gate bytes per kernel call on the CPU: a few images, cache-sized


class ConvLSTMCellOp(Function):
    """The gate arithmetic of one ConvLSTM step as one node.

    xg (B, 4h, H, W): the frame's gate pre-activations (bias included);
    hg (B, 4h, H, W): the state's, or absent (zero state); c (B, h, H, W) or
    absent (zero). -> (h' (B, h, H, W), c' (B, h, H, W))."""

    saved_inputs = (-1,)  # c, which the cell's backward reads
    saves_outputs = True  # and h', which it reads too

    def uses_saved_input(self, i):
        return self.has[1]

    def forward(self, xg, *rest, has_h, has_c):
        xp = self.xp
        hg = rest[0] if has_h else None
        c_prev = rest[-1] if has_c else xp.zeros((xg.shape[0], xg.shape[1] // 4) + xg.shape[2:], xg.dtype)
        B, state = xg.shape[0], c_prev.shape
        a = xp.empty((B, xg[0].size), dtype=xg.dtype)  # becomes the activations (kept for backward)
        h, c, tc = (xp.empty((B, c_prev[0].size), dtype=xg.dtype) for _ in range(3))
        fwd, _ = cell_kernels(self.backend, "lstm_cell")
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
        _, bwd = cell_kernels(self.backend, "lstm_cell")
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
        rows = B if self.backend.kernels.get("lstm_cell") else max(1, _CHUNK_BYTES // max(1, x[:1].nbytes))
        return [slice(lo, lo + rows) for lo in range(0, B, rows)]
