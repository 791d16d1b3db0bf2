"""Compiled CPU cell kernels (the ``fast`` extra: numba).

The same (forward, backward) pairs as the NumPy kernels in ``kernels``, with
the same signatures and contract, computing the same values with the same
rounding: each loop does the operations of the NumPy kernel, in its order,
element by element (no fast-math, so no reassociation and no fused
multiply-adds), so float64 and float32 results agree with the reference to the
last bit or so. What changes is the number of passes over memory: one loop
replaces the five to twelve NumPy calls, and their temporaries, of a step.

``tanh`` stays NumPy's: its SIMD loop is ~20x faster than the scalar libm call
that numba makes without Intel's SVML (which current llvmlite builds do not
use), so a kernel is "loop, np.tanh, loop": two tanh passes for an LSTM step,
where every other pass is fused.

Importing this module compiles nothing; each kernel compiles on first use for
its argument types and is cached on disk (numba's ``cache=True``), so later
processes load it in milliseconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, boundscheck=False)


# -- LSTM: gates i|f|g|o; sigmoid(x) = tanh(x / 2) / 2 + 1/2 ---------------------------------


@_jit
def _lstm_pre(a, rec, k, H):
    """a = a (+ rec), then i, f, o halved: the argument of the one tanh pass."""
    half = k[0]
    if rec.shape[0] == a.shape[0]:
        for b in range(a.shape[0]):
            for j in range(2 * H):
                a[b, j] = (a[b, j] + rec[b, j]) * half
            for j in range(2 * H, 3 * H):
                a[b, j] = a[b, j] + rec[b, j]
            for j in range(3 * H, 4 * H):
                a[b, j] = (a[b, j] + rec[b, j]) * half
    else:
        for b in range(a.shape[0]):
            for j in range(2 * H):
                a[b, j] = a[b, j] * half
            for j in range(3 * H, 4 * H):
                a[b, j] = a[b, j] * half


@_jit
def _lstm_mid(a, c_prev, c, k, H):
    """Finish the sigmoids (t / 2 + 1/2) and c = f * c_prev + i * g (one loop per block vectorises best)."""
    half = k[0]
    for b in range(a.shape[0]):
        for j in range(2 * H):
            a[b, j] = a[b, j] * half + half
        for j in range(3 * H, 4 * H):
            a[b, j] = a[b, j] * half + half
        for j in range(H):
            c[b, j] = a[b, H + j] * c_prev[b, j] + a[b, j] * a[b, 2 * H + j]


@_jit
def _lstm_back(a, c_prev, tc, h, dh, dc, d, dc_prev, k, H):
    one = k[1]
    for b in range(a.shape[0]):
        for j in range(H):
            i = a[b, j]
            f = a[b, H + j]
            g = a[b, 2 * H + j]
            o = a[b, 3 * H + j]
            t = tc[b, j]
            g_h = dh[b, j]
            do = g_h * t
            dct = (o - h[b, j] * t) * g_h + dc[b, j]
            di = dct * g
            df = dct * c_prev[b, j]
            dg = dct * i
            dc_prev[b, j] = dct * f
            d[b, j] = di * (one - i) * i
            d[b, H + j] = df * (one - f) * f
            d[b, 2 * H + j] = dg * (one - g) * (g + one)
            d[b, 3 * H + j] = do * (one - o) * o


_K = {}


def _consts(dtype):
    """(1/2, 1) as an array of ``dtype``: constants of the kernels' own precision (a Python float
    would promote float32 arithmetic to float64 and round differently from the NumPy kernels)."""
    k = _K.get(dtype)
    if k is None:
        k = _K[dtype] = np.array([0.5, 1.0], dtype=dtype)
    return k


def _none_rec(a):
    return a[:0]  # a (0, n) array: "no rec" without a second compiled variant per dtype


def lstm_cell_forward(xp, gates, c_prev, h_out=None, c_out=None, rec=None, tc_out=None):
    """See fused.lstm_cell_forward."""
    B, G = gates.shape
    H = G // 4
    k = _consts(gates.dtype)
    _lstm_pre(gates, _none_rec(gates) if rec is None else rec, k, H)
    np.tanh(gates, out=gates)
    c = np.empty((B, H), dtype=gates.dtype) if c_out is None else c_out
    _lstm_mid(gates, c_prev, c, k, H)
    tc = np.tanh(c, out=tc_out)
    h = np.multiply(gates[:, 3 * H :], tc, out=h_out)
    return h, c, (gates, c_prev, tc, h)


def lstm_cell_backward(xp, saved, dh, dc, out=None):
    """See fused.lstm_cell_backward."""
    a, c_prev, tc, h = saved
    d = np.empty_like(a) if out is None else out
    dc_prev = np.empty_like(tc)
    _lstm_back(a, c_prev, tc, h, dh, dc, d, dc_prev, _consts(a.dtype), tc.shape[1])
    return d, dc_prev


# -- GRU: blocks r|z|n; n = tanh(x_n + r * (W_hn h + b_hn)) -----------------------------------


@_jit
def _gru_pre(gx, gh, b_hh, k, H):
    """gh += b_hh (when given), then r and z: (gx + gh) / 2, the argument of their tanh."""
    half = k[0]
    with_b = b_hh.shape[0] > 0
    for b in range(gx.shape[0]):
        if with_b:
            for j in range(3 * H):
                gh[b, j] = gh[b, j] + b_hh[j]
        for j in range(2 * H):
            gx[b, j] = (gx[b, j] + gh[b, j]) * half


@_jit
def _gru_mid(gx, gh, k, H):
    """Finish the sigmoids of r and z, and n's argument x_n + r * gh_n."""
    half = k[0]
    for b in range(gx.shape[0]):
        for j in range(2 * H):
            gx[b, j] = gx[b, j] * half + half
        for j in range(H):
            gx[b, 2 * H + j] = gx[b, 2 * H + j] + gx[b, j] * gh[b, 2 * H + j]


@_jit
def _gru_out(gx, h_prev, h, H):
    for b in range(gx.shape[0]):
        for j in range(H):
            n = gx[b, 2 * H + j]
            h[b, j] = (h_prev[b, j] - n) * gx[b, H + j] + n


@_jit
def _gru_back(gx, gh, h_prev, dh, dgx, dgh, dh_direct, k, H):
    one = k[1]
    for b in range(gx.shape[0]):
        for j in range(H):
            r = gx[b, j]
            z = gx[b, H + j]
            n = gx[b, 2 * H + j]
            g_h = dh[b, j]
            dd = g_h * z
            dh_direct[b, j] = dd
            dn = (g_h - dd) * (one - n * n)
            dz = (h_prev[b, j] - n) * g_h
            dr = dn * gh[b, 2 * H + j]
            dr = dr * (one - r) * r
            dz = dz * (one - z) * z
            dgx[b, j] = dr
            dgx[b, H + j] = dz
            dgx[b, 2 * H + j] = dn
            dgh[b, j] = dr
            dgh[b, H + j] = dz
            dgh[b, 2 * H + j] = dn * r


_EMPTY = {}


def gru_cell_forward(xp, gx, gh, h_prev, h_out=None, b_hh=None):
    """See fused.gru_cell_forward."""
    B, G = gx.shape
    H = G // 3
    if b_hh is None:
        b_hh = _EMPTY.get(gx.dtype)
        if b_hh is None:
            b_hh = _EMPTY[gx.dtype] = np.empty(0, dtype=gx.dtype)
    k = _consts(gx.dtype)
    _gru_pre(gx, gh, b_hh, k, H)
    rz = gx[:, : 2 * H]
    np.tanh(rz, out=rz)
    _gru_mid(gx, gh, k, H)
    n = gx[:, 2 * H :]
    np.tanh(n, out=n)
    h = np.empty((B, H), dtype=gx.dtype) if h_out is None else h_out
    _gru_out(gx, h_prev, h, H)
    return h, (gx, gh, h_prev)


def gru_cell_backward(xp, saved, dh, dgx=None, dgh=None):
    """See fused.gru_cell_backward."""
    gx, gh, h_prev = saved
    dgx = np.empty_like(gx) if dgx is None else dgx
    dgh = np.empty_like(gh) if dgh is None else dgh
    dh_direct = np.empty_like(h_prev)
    _gru_back(gx, gh, h_prev, dh, dgx, dgh, dh_direct, _consts(gx.dtype), h_prev.shape[1])
    return dgx, dgh, dh_direct


# -- vanilla RNN -------------------------------------------------------------------------------


@_jit
def _tanh_back(h, dh, d):
    for b in range(h.shape[0]):
        for j in range(h.shape[1]):
            v, g = h[b, j], dh[b, j]
            d[b, j] = g - g * v * v  # dh (1 - h^2), rounded as the NumPy kernel does


def rnn_cell_forward(xp, pre, nonlinearity, out=None, rec=None):
    """See fused.rnn_cell_forward (two NumPy passes already: nothing to fuse)."""
    if rec is not None:
        out = pre = np.add(pre, rec, out=out)
    h = np.tanh(pre, out=out) if nonlinearity == "tanh" else np.maximum(pre, 0, out=out)
    return h, (h,)


def rnn_cell_backward(xp, saved, dh, nonlinearity, out=None):
    """See fused.rnn_cell_backward."""
    (h,) = saved
    if nonlinearity != "tanh":
        return np.multiply(dh, h > 0, out=out)
    d = np.empty_like(h) if out is None else out
    _tanh_back(h, dh, d)
    return d


KERNELS = {
    "lstm_cell": (lstm_cell_forward, lstm_cell_backward),
    "gru_cell": (gru_cell_forward, gru_cell_backward),
    "rnn_cell": (rnn_cell_forward, rnn_cell_backward),
}
