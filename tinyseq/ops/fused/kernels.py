"""The device contract: the array code of every fused op, as plain functions of ``xp``.

Each name is a (forward, backward) pair that a device may replace with its own
kernels (``backend.kernels[name]``; ``tinyseq_gpu.kernels`` mirrors this module
name for name, and ``fast`` does the CPU's cell kernels with numba). The
functions below are the reference: every other implementation must give their
numbers.

    backend.kernels["softmax_xent"] = (softmax_xent_forward, softmax_xent_backward)
    backend.kernels["lstm_cell"]    = (lstm_cell_forward, lstm_cell_backward)
    backend.kernels["gru_cell"]     = (gru_cell_forward, gru_cell_backward)
    backend.kernels["rnn_cell"]     = (rnn_cell_forward, rnn_cell_backward)
"""

from __future__ import annotations


def softmax_xent_forward(xp, logits, target, ignore_index):
    """logits: (M, C), target: (M,) ints -> (loss: (M,), 0 where target == ignore_index; saved)."""
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    rows = xp.arange(logits.shape[0])
    m = logits.max(axis=1, keepdims=True)
    p = xp.subtract(logits, m)  # the one (M, C) array: shifted logits, then exp, then the softmax
    picked = p[rows, safe]
    xp.exp(p, out=p)
    s = p.sum(axis=1, keepdims=True)
    loss = (xp.log(s[:, 0]) - picked) * valid
    p /= s
    return loss, (p, safe)


def softmax_xent_backward(xp, saved, scale):
    """scale: (M,) gradient of each row's loss (0 where ignored) -> dlogits: (M, C)."""
    p, safe = saved
    scale = scale.astype(p.dtype)
    grad = p * scale[:, None]  # (p - onehot) * scale, in one pass over (M, C)
    grad[xp.arange(p.shape[0]), safe] -= scale
    return grad


# -- recurrent cells -----------------------------------------------------------------------
#
# The elementwise part of one cell step, with exactly these signatures on every device.
# Rules every implementation keeps:
# - 2-D arrays of one float dtype: (B, G*H) gate blocks laid out as PyTorch's
#   weight rows (LSTM i|f|g|o, GRU r|z|n), (B, H) states; B may be 1.
# - Arrays named as overwritten below may be overwritten; no other input is
#   written to. Output arguments (``h_out``, ``c_out``, ``tc_out``, ``out``,
#   ``dgx``, ``dgh``; always passed by keyword) are None or C-contiguous (B, H) /
#   (B, G*H) arrays that must receive that result and be returned; they never
#   alias an input. The layers pass slices of their (T, B, ...) buffers there.
# - ``rec`` (the recurrent product h W_hh^T, read only) and ``b_hh`` are optional
#   addends of the pre-activations, passed separately so that a device can add
#   them inside its kernel instead of launching one more.
# - ``saved`` is opaque: whatever the forward returns, handed back unchanged to
#   the backward of the same implementation.
# - Gradient arguments (dh, dc) are never None, never written to, and may be
#   read-only or strided views (a broadcast gradient of a sum, a slice of one).
#
# The CPU versions use sigmoid(x) = (1 + tanh(x / 2)) / 2, so one tanh pass
# covers all four LSTM gates; it agrees with the exp-based sigmoid of the
# composed cells to ~1e-16 in float64.


class _Blocks:
    """Per (device, H, dtype) constants of the CPU kernels: the index tuples of the
    gate blocks and (1, G*H) rows, 2-D so that B = 1 needs no broadcasting (which
    costs numpy more than the arithmetic at that size)."""

    made: dict = {}  # (xp, H, G, dtype) -> _Blocks, see _consts

    def __init__(self, xp, H, G, dtype):
        import numpy as np

        self.blocks = tuple((slice(None), slice(k * H, (k + 1) * H)) for k in range(G))
        self.lead = (slice(None), slice(0, 2 * H))  # GRU: r and z together; LSTM: i and f
        # A row constant pays while it stays in cache next to the rows it scales; wide
        # rows (a ConvLSTM's: H = channels x pixels) take scalar ops on the gate blocks.
        self.wide = G * H * np.dtype(dtype).itemsize > 1 << 16
        if G == 4 and not self.wide:
            # sigmoid(x) = tanh(x * s) * s + (1 - s) with s = 1/2; s = 1 on g leaves tanh
            scale = np.full((1, 4 * H), 0.5, dtype=dtype)
            scale[:, 2 * H : 3 * H] = 1
            plus_g = np.zeros((1, 4 * H), dtype=dtype)
            plus_g[:, 2 * H : 3 * H] = 1  # activations + plus_g: s on i, f, o and 1 + tanh on g
            self.scale, self.shift, self.plus_g = (xp.asarray(a) for a in (scale, 1 - scale, plus_g))
        self.half = xp.asarray(np.full((1, 2 * H), 0.5, dtype=dtype))
        # 1 as an array of the kernels' dtype: numpy converts a Python scalar operand on every
        # call, which costs more than the arithmetic at batch 1
        self.one = xp.asarray(np.ones((), dtype=dtype))
        self.xp, self.dtype, self.temps = xp, dtype, {}

    def temp(self, B, width):
        """A (B, width) scratch array for one kernel call (kernels run one at a time)."""
        a = self.temps.get((B, width))
        if a is None:
            a = self.temps[B, width] = self.xp.empty((B, width), dtype=self.dtype)
        return a


def _consts(xp, H, G, dtype):
    """The _Blocks of (xp, H, G, dtype), made once (kept in ``_Blocks.made``, at most a few hundred)."""
    made = _Blocks.made
    key = (xp, H, G, dtype)
    k = made.get(key)
    if k is None:
        if len(made) > 256:
            made.clear()
        k = made[key] = _Blocks(xp, H, G, dtype)
    return k


def lstm_cell_forward(xp, gates, c_prev, h_out=None, c_out=None, rec=None, tc_out=None):
    """LSTM cell, elementwise part.

    gates: (B, 4H) pre-activations x W_ih^T + b_ih + h W_hh^T + b_hh, blocks i|f|g|o
        (without the h W_hh^T term when ``rec`` holds it: (B, 4H));
        overwritten with the activations (sigmoid i, f, o; tanh g).
    c_prev: (B, H). h_out, c_out, tc_out: optional (B, H) outputs (tc: tanh(c), kept
    for backward).
    Returns (h, c, saved): h = o * tanh(c) (B, H) and c = f * c_prev + i * g (B, H).
    """
    k = _consts(xp, c_prev.shape[1], 4, gates.dtype)
    a = gates
    bi, bf, bg, bo = k.blocks
    if rec is not None:
        xp.add(a, rec, a)
    if k.wide:
        sig = (a[k.lead], a[bo])  # i|f and o
        for s in sig:
            s *= 0.5
        xp.tanh(a, a)
        for s in sig:
            s *= 0.5
            s += 0.5
    else:
        xp.multiply(a, k.scale, a)
        xp.tanh(a, a)
        xp.multiply(a, k.scale, a)
        xp.add(a, k.shift, a)
    i, f, g, o = a[bi], a[bf], a[bg], a[bo]
    c = xp.multiply(f, c_prev, c_out)
    c += xp.multiply(i, g, k.temp(*c.shape))
    tc = xp.tanh(c, tc_out)
    h = xp.multiply(o, tc, h_out)
    return h, c, (a, (i, f, g, o), c_prev, tc, h, k)  # the gate views too: backward needs no new ones


def lstm_cell_backward(xp, saved, dh, dc, out=None):
    """Gradients of one LSTM cell step.

    dh, dc: (B, H) gradients reaching h and c. out: optional (B, 4H) for dgates.
    Returns (dgates (B, 4H) w.r.t. the pre-activations, dc_prev (B, H)).
    """
    a, (i, f, g, o), c_prev, tc, h, k = saved
    d = xp.empty_like(a) if out is None else out
    bi, bf, bg, bo = k.blocks
    xp.multiply(dh, tc, d[bo])
    # everything that reaches c: dh * o * (1 - tanh(c)^2) through h, written o - h tanh(c)
    # (h = o tanh(c)), and dc from the next step
    dct = xp.multiply(h, tc)
    xp.subtract(o, dct, dct)
    xp.multiply(dct, dh, dct)
    xp.add(dct, dc, dct)
    xp.multiply(dct, g, d[bi])
    xp.multiply(dct, c_prev, d[bf])
    xp.multiply(dct, i, d[bg])
    dc_prev = xp.multiply(dct, f, dct)
    # Through the activations: s' = s (1 - s) for i, f, o and t' = (1 + t)(1 - t) for g.
    tmp = xp.subtract(k.one, a, k.temp(*a.shape))
    xp.multiply(d, tmp, d)
    if k.wide:
        xp.add(a[bg], k.one, tmp[bg])
        d[bg] *= tmp[bg]
        d[k.lead] *= a[k.lead]
        d[bo] *= o
    else:
        xp.add(a, k.plus_g, tmp)
        xp.multiply(d, tmp, d)
    return d, dc_prev


def gru_cell_forward(xp, gx, gh, h_prev, h_out=None, b_hh=None):
    """GRU cell, elementwise part (PyTorch's equations: n uses r * (W_hn h + b_hn)).

    gx: (B, 3H) = x W_ih^T + b_ih, blocks r|z|n; overwritten with the activations r, z, n.
    gh: (B, 3H) = h_prev W_hh^T + b_hh (saved for backward); with ``b_hh`` (3H,)
        given, gh lacks it and is overwritten with gh + b_hh; else read only.
    h_prev: (B, H).
    Returns (h, saved): h = (1 - z) * n + z * h_prev (B, H).
    """
    k = _consts(xp, h_prev.shape[1], 3, gx.dtype)
    if b_hh is not None:
        xp.add(gh, b_hh, gh)
    br, bz, bn = k.blocks
    rz = gx[k.lead]
    xp.add(rz, gh[k.lead], rz)
    xp.multiply(rz, k.half, rz)
    xp.tanh(rz, rz)
    xp.multiply(rz, k.half, rz)
    xp.add(rz, k.half, rz)
    n = gx[bn]
    n += gx[br] * gh[bn]
    xp.tanh(n, n)
    h = xp.subtract(h_prev, n, h_out)
    xp.multiply(h, gx[bz], h)
    xp.add(h, n, h)
    return h, (gx, gh, h_prev, k)


def gru_cell_backward(xp, saved, dh, dgx=None, dgh=None):
    """Gradients of one GRU cell step.

    dh: (B, H). dgx, dgh: optional (B, 3H) outputs.
    Returns (dgx (B, 3H) w.r.t. x W_ih^T + b_ih, dgh (B, 3H) w.r.t. h W_hh^T + b_hh,
    dh_direct (B, H) = dh * z, the part of dh_prev that skips the matrix product).
    """
    gx, gh, h_prev, k = saved
    br, bz, bn = k.blocks
    dgx = xp.empty_like(gx) if dgx is None else dgx
    dgh = xp.empty_like(gh) if dgh is None else dgh
    n, dn = gx[bn], dgx[bn]
    dh_direct = xp.multiply(dh, gx[bz])
    xp.subtract(dh, dh_direct, dn)
    tmp = xp.multiply(n, n)
    xp.subtract(k.one, tmp, tmp)
    xp.multiply(dn, tmp, dn)  # through tanh: now w.r.t. n's pre-activation
    dz = xp.subtract(h_prev, n, dgx[bz])
    xp.multiply(dz, dh, dz)
    xp.multiply(dn, gh[bn], dgx[br])
    drz, rz = dgx[k.lead], gx[k.lead]
    s = xp.subtract(k.one, rz)
    xp.multiply(drz, s, drz)
    xp.multiply(drz, rz, drz)
    dgh[k.lead] = drz
    xp.multiply(dn, gx[br], dgh[bn])
    return dgx, dgh, dh_direct


def rnn_cell_forward(xp, pre, nonlinearity, out=None, rec=None):
    """Vanilla RNN cell: h = tanh(pre) or relu(pre).

    pre: (B, H) = x W_ih^T + b_ih + h W_hh^T + b_hh (read only), or without the
    h W_hh^T term when ``rec`` (B, H) holds it; nonlinearity: "tanh" | "relu".
    Returns (h, saved).
    """
    if rec is not None:
        out = pre = xp.add(pre, rec, out)  # the nonlinearity then runs in place
    h = xp.tanh(pre, out) if nonlinearity == "tanh" else xp.maximum(pre, 0, out=out)
    return h, (h,)


def rnn_cell_backward(xp, saved, dh, nonlinearity, out=None):
    """dh: (B, H) -> dpre (B, H), the gradient w.r.t. the pre-activation."""
    (h,) = saved
    if nonlinearity == "tanh":  # dh (1 - h^2) as dh - (dh h) h: no scalar operand (see _Blocks.one)
        d = xp.multiply(dh, h, out)
        xp.multiply(d, h, d)
        xp.subtract(dh, d, d)
        return d
    return xp.multiply(dh, h > 0, out)


_CPU_KERNELS = {
    "lstm_cell": (lstm_cell_forward, lstm_cell_backward),
    "gru_cell": (gru_cell_forward, gru_cell_backward),
    "rnn_cell": (rnn_cell_forward, rnn_cell_backward),
}


_cpu_choice: list = []  # [(choice, kernels)] once chosen


def select_cpu_kernels(choice=None):
    """Choose the CPU's cell kernels: "numpy" (the array code above, the reference),
    "fast" (compiled, from the ``fast`` extra: numba) or "auto" (fast when installed).
    None reads TINYSEQ_KERNELS (default "auto"). Returns the choice made; the first
    cell kernel call on the CPU makes it when nothing did before."""
    import os

    if choice is None:
        choice = os.environ.get("TINYSEQ_KERNELS", "auto") or "auto"
    if choice not in ("auto", "numpy", "fast"):
        raise ValueError(f"TINYSEQ_KERNELS: expected 'auto', 'numpy' or 'fast', got {choice!r}")
    kernels = _CPU_KERNELS
    if choice != "numpy":
        try:
            from . import fast
        except ImportError as e:
            if choice == "fast":
                raise ImportError(f"fast CPU kernels need the 'fast' extra (pip install tinyseq[fast]): {e}") from e
        else:
            kernels = fast.KERNELS
    _cpu_choice[:] = [(choice, kernels)]
    return "numpy" if kernels is _CPU_KERNELS else "fast"


def cell_kernels(backend, name):
    """The (forward, backward) pair for ``name`` on ``backend``: its own; on the CPU, the
    compiled ones when chosen (see select_cpu_kernels); else the array code above."""
    own = backend.kernels.get(name)
    if own is not None:
        return own
    if backend.name != "cpu":
        return _CPU_KERNELS[name]
    if not _cpu_choice:
        select_cpu_kernels()
    return _cpu_choice[0][1][name]
