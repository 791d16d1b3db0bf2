"""Fused CUDA kernels: one launch per cell step each way, one each for softmax-xent.

``kernel_table()`` is the ``backend.kernels`` of a GPU: name -> (forward,
backward) with exactly the signatures and rules of the array code in
``tinyseq.ops.fused.kernels``, which this module mirrors name for name (and
which documents them: gate layout, which arguments
may be overwritten, optional ``*_out`` arrays, opaque ``saved``). The fused
ops there call whichever pair their device has, so the autograd graph is the
same on every device and only these kernels differ.

The kernels evaluate the same expressions in the same order as that array
code (sigmoid(x) = tanh(x / 2) / 2 + 1/2, the same saved values), so GPU and
CPU agree to rounding; ``tests/test_gpu.py`` checks it. float32 and float64
run the kernels, other dtypes the array code. Kernels compile on first use
(NVRTC; CuPy caches binaries on disk), so importing this module needs no CuPy.

Gate arrays are (B, G*H) with blocks of width H; the elementwise kernels
iterate over the (B, H) state and read/write gate block q of row b, column j
at linear index b*G*H + q*H + j of a "raw" argument (CuPy maps a linear index
of a raw array through its strides, so views are fine).
"""

from __future__ import annotations

_FLOATS = ("float32", "float64")

_PREAMBLE = r"""
template <typename T> __device__ __forceinline__ T sigm(T x) {
    return tanh(x * T(0.5)) * T(0.5) + T(0.5);
}
"""


def _lstm_fwd(pre):
    """The LSTM forward body, reading pre-activation k as ``pre`` (a format string)."""
    p = [pre.format(k=k) for k in ("k", "k + n_h", "k + 2 * n_h", "k + 3 * n_h")]
    return rf"""
        const ptrdiff_t b = i / n_h, k = b * 3 * n_h + i;
        const T ig = sigm({p[0]}), fg = sigm({p[1]});
        const T gg = tanh({p[2]}), og = sigm({p[3]});
        gates[k] = ig; gates[k + n_h] = fg; gates[k + 2 * n_h] = gg; gates[k + 3 * n_h] = og;
        const T cn = fg * c_prev + ig * gg;
        const T t = tanh(cn);
        c = cn;
        tc = t;
        h = og * t;
        """


_GRU_FWD = r"""
        const T r = sigm(gx[k] + gh[k]);
        const T z = sigm(gx[k + n_h] + gh[k + n_h]);
        const T n = tanh(gx[k + 2 * n_h] + r * gh[k + 2 * n_h]);
        gx[k] = r; gx[k + n_h] = z; gx[k + 2 * n_h] = n;
        h = (h_prev - n) * z + n;
        """

# name -> (in_params, out_params, body) of a cupy.ElementwiseKernel
_SPECS = {
    # gates: (B, 4H) pre-activations i|f|g|o but for the recurrent product rec (B, 4H),
    # added here (a layer step: one launch), overwritten with the activations
    "lstm_fwd": (
        "T c_prev, raw T rec, int64 n_h",
        "T h, T c, T tc, raw T gates",
        _lstm_fwd("gates[{k}] + rec[{k}]"),
    ),
    # the same with gates complete (a cell)
    "lstm_fwd_gates": ("T c_prev, int64 n_h", "T h, T c, T tc, raw T gates", _lstm_fwd("gates[{k}]")),
    "lstm_bwd": (
        "raw T acts, T c_prev, T tc, T dh, T dc, int64 n_h",
        "T dc_prev, raw T d",
        r"""
        const ptrdiff_t b = i / n_h, k = b * 3 * n_h + i;
        const T ig = acts[k], fg = acts[k + n_h], gg = acts[k + 2 * n_h], og = acts[k + 3 * n_h];
        const T dct = (T(1) - tc * tc) * og * dh + dc;
        d[k] = dct * gg * (T(1) - ig) * ig;
        d[k + n_h] = dct * c_prev * (T(1) - fg) * fg;
        d[k + 2 * n_h] = dct * ig * (T(1) - gg) * (T(1) + gg);
        d[k + 3 * n_h] = dh * tc * (T(1) - og) * og;
        dc_prev = dct * fg;
        """,
    ),
    # gx = x W_ih^T + b_ih, overwritten with r|z|n; gh = h W_hh^T + b_hh, read only.
    "gru_fwd": (
        "raw T gh, T h_prev, int64 n_h",
        "T h, raw T gx",
        "const ptrdiff_t b = i / n_h, k = b * 2 * n_h + i;" + _GRU_FWD,
    ),
    # the same with gh = h W_hh^T, to which this kernel adds bias = b_hh first (stored: backward reads it)
    "gru_fwd_bias": (
        "T h_prev, raw T bias, int64 n_h",
        "T h, raw T gx, raw T gh",
        r"""
        const ptrdiff_t b = i / n_h, k = b * 2 * n_h + i, j = i - b * n_h;
        gh[k] = gh[k] + bias[j]; gh[k + n_h] = gh[k + n_h] + bias[j + n_h];
        gh[k + 2 * n_h] = gh[k + 2 * n_h] + bias[j + 2 * n_h];
        """
        + _GRU_FWD,
    ),
    # h = nonlinearity(pre + rec), rec = h_prev W_hh^T
    "rnn_tanh_fwd": ("T pre, T rec", "T h", "h = tanh(pre + rec);"),
    "rnn_relu_fwd": ("T pre, T rec", "T h", "const T v = pre + rec; h = (v > T(0) ? v : T(0));"),
    "gru_bwd": (
        "raw T gx, raw T gh, T h_prev, T dh, int64 n_h",
        "T dh_direct, raw T dgx, raw T dgh",
        r"""
        const ptrdiff_t b = i / n_h, k = b * 2 * n_h + i;
        const T r = gx[k], z = gx[k + n_h], n = gx[k + 2 * n_h];
        const T direct = dh * z;
        const T dn = (dh - direct) * (T(1) - n * n);
        const T dz = (h_prev - n) * dh * (T(1) - z) * z;
        const T dr = dn * gh[k + 2 * n_h] * (T(1) - r) * r;
        dgx[k] = dr; dgx[k + n_h] = dz; dgx[k + 2 * n_h] = dn;
        dgh[k] = dr; dgh[k + n_h] = dz; dgh[k + 2 * n_h] = dn * r;
        dh_direct = direct;
        """,
    ),
    "rnn_tanh_bwd": ("T h, T dh", "T d", "d = dh - dh * h * h;"),
    "rnn_relu_bwd": ("T h, T dh", "T d", "d = dh * (h > T(0) ? T(1) : T(0));"),
    # dlogits = (e / s - onehot) * scale[row], e = exp(x - m), as the CPU computes it
    "xent_bwd": (
        "T x, raw T m, raw T s, raw int64 t, raw T scale, int64 n_c",
        "T dx",
        r"""
        const ptrdiff_t row = i / n_c, col = i - row * n_c;
        const T p = exp(x - m[row]) / s[row];
        dx = (col == t[row] ? p - T(1) : p) * scale[row];
        """,
    ),
}

# Row-wise softmax statistics, one block per row: a shared-memory tree for the
# max, then for the sum. loss[row] = log(s) - (x[t] - m), as the CPU computes it.
_XENT_FWD = r"""
extern "C" __global__ void xent_fwd_{T}(const {T}* x, const long long* t, {T}* loss, {T}* m_out, {T}* s_out,
                                       long long C, long long ignore) {
    __shared__ {T} buf[256];
    const long long row = blockIdx.x;
    const {T}* xr = x + row * C;
    const int tid = threadIdx.x;
    {T} v = xr[0];  // C >= 1; a thread with no column of its own holds a harmless candidate
    for (long long k = tid; k < C; k += blockDim.x) v = fmax(v, xr[k]);
    buf[tid] = v;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (tid < w) buf[tid] = fmax(buf[tid], buf[tid + w]);
        __syncthreads();
    }
    const {T} m = buf[0];
    __syncthreads();
    {T} acc = 0;
    for (long long k = tid; k < C; k += blockDim.x) acc += exp(xr[k] - m);
    buf[tid] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (tid < w) buf[tid] += buf[tid + w];
        __syncthreads();
    }
    if (tid == 0) {
        const {T} s = buf[0];
        const long long tr = t[row];
        m_out[row] = m;
        s_out[row] = s;
        loss[row] = tr == ignore ? ({T})0 : log(s) - (xr[tr] - m);
    }
}
"""
XENT_THREADS = 256  # a power of two: the size of `buf`

_cache: dict = {}


def kernel(name, dtype=None):
    """The compiled kernel ``name``: an ElementwiseKernel (generic over T), or for
    "xent_fwd" the RawKernel for ``dtype`` ("float32" | "float64")."""
    key = (name, dtype)
    k = _cache.get(key)
    if k is None:
        import cupy

        if name == "xent_fwd":
            ctype = {"float32": "float", "float64": "double"}[dtype]
            k = cupy.RawKernel(_XENT_FWD.replace("{T}", ctype), f"xent_fwd_{ctype}")
        else:
            ins, outs, body = _SPECS[name]
            k = cupy.ElementwiseKernel(ins, outs, body, f"tinyseq_{name}", preamble=_PREAMBLE)
        _cache[key] = k
    return k


def _fast(*arrays) -> bool:
    return all(a.dtype.name in _FLOATS for a in arrays)


def _reference(name):
    from tinyseq.ops.fused import kernels

    return getattr(kernels, name)


# -- LSTM cell -------------------------------------------------------------------------
def lstm_cell_forward(xp, gates, c_prev, h_out=None, c_out=None, rec=None, tc_out=None):
    """gates: (B, 4H) i|f|g|o pre-activations (overwritten), plus rec (B, 4H) if given;
    c_prev: (B, H) -> (h, c, saved)."""
    if not _fast(gates, c_prev):
        return _reference("lstm_cell_forward")(xp, gates, c_prev, h_out=h_out, c_out=c_out, rec=rec, tc_out=tc_out)
    h = xp.empty_like(c_prev) if h_out is None else h_out
    c = xp.empty_like(c_prev) if c_out is None else c_out
    tc = xp.empty_like(c_prev) if tc_out is None else tc_out
    if rec is None:
        kernel("lstm_fwd_gates")(c_prev, c_prev.shape[-1], h, c, tc, gates)
    else:
        kernel("lstm_fwd")(c_prev, rec, c_prev.shape[-1], h, c, tc, gates)
    return h, c, (gates, c_prev, tc)


def lstm_cell_backward(xp, saved, dh, dc, out=None):
    """dh, dc: (B, H) -> (dgates (B, 4H), dc_prev (B, H))."""
    if not _fast(dh, dc):
        return _reference("lstm_cell_backward")(xp, saved, dh, dc, out=out)
    acts, c_prev, tc = saved
    d = xp.empty_like(acts) if out is None else out
    dc_prev = xp.empty_like(tc)
    kernel("lstm_bwd")(acts, c_prev, tc, dh, dc, tc.shape[-1], dc_prev, d)
    return d, dc_prev


# -- GRU cell --------------------------------------------------------------------------
def gru_cell_forward(xp, gx, gh, h_prev, h_out=None, b_hh=None):
    """gx, gh: (B, 3H) r|z|n projections (gx overwritten; gh too when b_hh (3H,) is
    given, to gh + b_hh); h_prev: (B, H) -> (h, saved)."""
    if not _fast(gx, gh, h_prev):
        return _reference("gru_cell_forward")(xp, gx, gh, h_prev, h_out=h_out, b_hh=b_hh)
    h = xp.empty_like(h_prev) if h_out is None else h_out
    if b_hh is None:
        kernel("gru_fwd")(gh, h_prev, h_prev.shape[-1], h, gx)
    else:
        kernel("gru_fwd_bias")(h_prev, b_hh, h_prev.shape[-1], h, gx, gh)
    return h, (gx, gh, h_prev)


def gru_cell_backward(xp, saved, dh, dgx=None, dgh=None):
    """dh: (B, H) -> (dgx (B, 3H), dgh (B, 3H), dh_direct = dh * z (B, H))."""
    if not _fast(dh):
        return _reference("gru_cell_backward")(xp, saved, dh, dgx=dgx, dgh=dgh)
    gx, gh, h_prev = saved
    dgx = xp.empty_like(gx) if dgx is None else dgx
    dgh = xp.empty_like(gh) if dgh is None else dgh
    direct = xp.empty_like(h_prev)
    kernel("gru_bwd")(gx, gh, h_prev, dh, h_prev.shape[-1], direct, dgx, dgh)
    return dgx, dgh, direct


# -- vanilla RNN cell -------------------------------------------------------------------
def rnn_cell_forward(xp, pre, nonlinearity, out=None, rec=None):
    """pre: (B, H) (read only), plus rec (B, H) if given -> (h, saved)."""
    if rec is None or not _fast(pre, rec):  # without rec, the nonlinearity is one ufunc already
        return _reference("rnn_cell_forward")(xp, pre, nonlinearity, out=out, rec=rec)
    k = kernel("rnn_tanh_fwd" if nonlinearity == "tanh" else "rnn_relu_fwd")
    h = k(pre, rec) if out is None else k(pre, rec, out)
    return h, (h,)


def rnn_cell_backward(xp, saved, dh, nonlinearity, out=None):
    """dh: (B, H) -> dpre (B, H)."""
    if not _fast(dh):
        return _reference("rnn_cell_backward")(xp, saved, dh, nonlinearity, out=out)
    (h,) = saved
    k = kernel("rnn_tanh_bwd" if nonlinearity == "tanh" else "rnn_relu_bwd")
    return k(h, dh) if out is None else k(h, dh, out)


# -- softmax cross-entropy -------------------------------------------------------------
def softmax_xent_forward(xp, logits, target, ignore_index):
    """logits: (M, C), target: (M,) ints -> (loss (M,), 0 where target == ignore_index; saved)."""
    if not _fast(logits):
        return _reference("softmax_xent_forward")(xp, logits, target, ignore_index)
    logits = xp.ascontiguousarray(logits)  # the raw kernel walks rows by pointer
    t = xp.ascontiguousarray(target, dtype=xp.int64)
    M, C = logits.shape
    loss = xp.empty((M,), dtype=logits.dtype)
    m = xp.empty_like(loss)
    s = xp.empty_like(loss)
    if M and C:
        kernel("xent_fwd", logits.dtype.name)(
            (M,), (XENT_THREADS,), (logits, t, loss, m, s, xp.int64(C), xp.int64(ignore_index))
        )
    return loss, (logits, t, m, s)


def softmax_xent_backward(xp, saved, scale):
    """scale: (M,) gradient of each row's loss (0 where ignored) -> dlogits (M, C)."""
    if not _fast(scale):
        return _reference("softmax_xent_backward")(xp, saved, scale)
    logits, t, m, s = saved
    dx = xp.empty_like(logits)
    kernel("xent_bwd")(logits, m, s, t, scale.astype(logits.dtype, copy=False), logits.shape[1], dx)
    return dx


def kernel_table() -> dict:
    """name -> (forward, backward): the ``kernels`` of a CUDA backend."""
    return {
        "lstm_cell": (lstm_cell_forward, lstm_cell_backward),
        "gru_cell": (gru_cell_forward, gru_cell_backward),
        "rnn_cell": (rnn_cell_forward, rnn_cell_backward),
        "softmax_xent": (softmax_xent_forward, softmax_xent_backward),
    }
