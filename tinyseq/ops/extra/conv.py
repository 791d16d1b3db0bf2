"""2-D convolution (cross-correlation, as PyTorch) with a hand-written backward.

Images go through in chunks of ``n``. A chunk is copied into a zero-padded,
channel-major buffer ``(C, n, Hbuf, Wp)``; each kernel offset (i, j) is then a
shifted window of that buffer, so im2col is ``kh * kw`` vectorised copies and
the product is one matrix multiply per group:
``(O, C*kh*kw) @ (C*kh*kw, n*Ho*Wq)``.

With stride 1 the window of offset (i, j) is the flat buffer shifted by
``i*dh*Wp + j*dw``: one long contiguous run per (channel, image) instead of
``Ho`` short rows. Its output rows are ``Wp`` wide, not ``Wo``; the extra
columns are garbage that is sliced off (and given zero gradient).

A chunk's columns fit ``CHUNK_BYTES``, so they stay in cache between the copy
and the multiply, and the working memory is bounded whatever the batch size.
Backward rebuilds the columns per chunk instead of keeping them: the graph
holds on to the input and the weight only, not 9x the input.
"""

from __future__ import annotations

from ...autograd import Function, OpError
from .args import ntuple, positive_int

# Bytes of im2col columns per chunk on the CPU: a core's L2 cache holds them. Other
# devices (GPUs: plenty of memory, costly kernel launches) get DEVICE_CHUNK_BYTES;
# a backend may set its own ``conv_chunk_bytes``.
CHUNK_BYTES = 1 << 21
DEVICE_CHUNK_BYTES = 1 << 28


def _budget(backend):
    own = getattr(backend, "conv_chunk_bytes", None)
    if own is not None:
        return own
    return CHUNK_BYTES if backend.name == "cpu" else DEVICE_CHUNK_BYTES


class _ConvGeometry:
    """Sizes of one convolution: input (N, C, H, W), weight (O, C/groups, kh, kw)."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        N, C, H, W = x_shape
        O, Cg, kh, kw = w_shape
        (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = stride, padding, dilation
        self.N, self.C, self.H, self.W, self.O, self.kh, self.kw = N, C, H, W, O, kh, kw
        self.groups, self.Cg = groups, Cg
        self.sh, self.sw, self.dh, self.dw, self.pt, self.pl = sh, sw, dh, dw, pt, pl
        Hp, Wp = H + pt + pb, W + pl + pr
        self.Ho = (Hp - dh * (kh - 1) - 1) // sh + 1
        self.Wo = (Wp - dw * (kw - 1) - 1) // sw + 1
        self.Wp = Wp
        self.flat = sh == 1 and sw == 1
        # Flat windows read up to (kw - 1) * dw past the last padded row: one spare row.
        self.Hbuf = Hp + (1 if self.flat and kw > 1 else 0)
        self.Wq = Wp if self.flat else self.Wo
        self.L = self.Ho * self.Wq  # output positions per image, garbage columns included
        self.K = C * kh * kw
        self.offsets = [(i, j) for i in range(kh) for j in range(kw)]

    def chunk(self, itemsize, budget):
        return max(1, min(self.N, budget // max(1, self.K * self.L * itemsize)))

    def window(self, buf, i, j):
        """The (C, n, Ho, Wq) view of the padded ``buf`` (C, n, Hbuf, Wp) that offset (i, j) reads."""
        c, n = buf.shape[0], buf.shape[1]
        if self.flat:
            start = i * self.dh * self.Wp + j * self.dw
            flat = buf.reshape(c, n, self.Hbuf * self.Wp)  # a view: each image's plane is contiguous
            return flat[:, :, start : start + self.L].reshape(c, n, self.Ho, self.Wq)
        r0, c0 = i * self.dh, j * self.dw
        rows = slice(r0, r0 + self.sh * (self.Ho - 1) + 1, self.sh)
        return buf[:, :, rows, c0 : c0 + self.sw * (self.Wo - 1) + 1 : self.sw]

    def pad(self, x, buf):
        """Copy images ``x`` (n, C, H, W) into the interior of ``buf`` (C, n, Hbuf, Wp), whose
        border is zero and stays zero."""
        buf[:, :, self.pt : self.pt + self.H, self.pl : self.pl + self.W] = x.transpose(1, 0, 2, 3)

    def im2col(self, src, cols):
        """Fill ``cols`` (C, kh, kw, n, L), C-contiguous, from the padded input ``src`` (C, n, Hbuf, Wp)."""
        grid = cols.reshape(self.C, self.kh, self.kw, src.shape[1], self.Ho, self.Wq)  # a view: cols is contiguous
        for i, j in self.offsets:
            grid[:, i, j] = self.window(src, i, j)

    def col2im(self, gcols, gbuf):
        """Accumulate column gradients ``gcols`` (C, kh, kw, n, L) into ``gbuf`` (C, n, Hbuf, Wp)."""
        n = gbuf.shape[1]
        gbuf[...] = 0
        for i, j in self.offsets:
            win = self.window(gbuf, i, j)
            win += gcols[:, i, j].reshape(self.C, n, self.Ho, self.Wq)


class Conv2d(Function):
    """out[n, o] = sum over c, i, j of w[o, c, i, j] * xpad[n, c, h*sh + i*dh, w*sw + j*dw] (+ b[o]).

    x: (N, C, H, W); w: (O, C // groups, kh, kw); b: (O,) optional.
    stride, dilation: (h, w) ints; padding: ((top, bottom), (left, right)).
    Returns (N, O, Ho, Wo).
    """

    saved_inputs = (0, 1)

    def uses_saved_input(self, i):
        return self.needs(1 - i)  # x for the weight's gradient, the weight for x's

    def forward(self, x, w, *b, stride, padding, dilation, groups):
        xp = self.xp
        _check(x, w, b, groups)
        geo = _ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
        if geo.Ho <= 0 or geo.Wo <= 0:
            raise OpError(
                f"conv2d: input {tuple(x.shape)} padded to ({geo.H + padding[0][0] + padding[0][1]}, "
                f"{geo.Wp}) is smaller than the dilated kernel {tuple(w.shape[2:])} (dilation {dilation})"
            )
        self.geo = geo
        self.saved = (x, w)
        self.has_bias = bool(b)

        g, Og = groups, geo.O // groups
        w3 = w.reshape(g, Og, geo.K // g)
        out = xp.empty((geo.N, geo.O, geo.Ho, geo.Wo), dtype=x.dtype)
        nb = geo.chunk(x.dtype.itemsize, _budget(self.backend))
        pool = xp.empty(geo.K * nb * geo.L, dtype=x.dtype)
        buf = xp.zeros((geo.C, nb, geo.Hbuf, geo.Wp), dtype=x.dtype)
        for n0 in range(0, geo.N, nb):
            n = min(nb, geo.N - n0)
            cols = pool[: geo.K * n * geo.L].reshape(geo.C, geo.kh, geo.kw, n, geo.L)
            geo.pad(x[n0 : n0 + n], buf[:, :n])
            geo.im2col(buf[:, :n], cols)
            r = xp.matmul(w3, cols.reshape(g, geo.K // g, n * geo.L)).reshape(geo.O, n, geo.Ho, geo.Wq)
            if b:
                r += b[0].reshape(geo.O, 1, 1, 1)
            out[n0 : n0 + n] = r[..., : geo.Wo].transpose(1, 0, 2, 3)
        return out

    def backward(self, gout):
        xp = self.xp
        x, w = self.saved
        geo = self.geo
        g, Og, Kg = geo.groups, geo.O // geo.groups, geo.K // geo.groups
        need_x, need_w = self.needs(0), self.needs(1)
        gb = gout.sum(axis=(0, 2, 3)) if self.has_bias and self.needs(2) else None
        gx = gw = None
        if need_x or need_w:
            w3 = w.reshape(g, Og, Kg)
            nb = geo.chunk(gout.dtype.itemsize, _budget(self.backend))
            # Garbage output columns (flat windows) must stay zero in the gradient.
            gwide_pool = xp.zeros(geo.O * nb * geo.L, dtype=gout.dtype)
            col_pool = xp.empty(geo.K * nb * geo.L, dtype=gout.dtype)
            if need_w:
                # Accumulated transposed: cols @ g.T runs faster than g @ cols.T in BLAS.
                gwt = xp.zeros((g, Kg, Og), dtype=gout.dtype)
                buf = xp.zeros((geo.C, nb, geo.Hbuf, geo.Wp), dtype=x.dtype)
            if need_x:
                gx = xp.empty((geo.N, geo.C, geo.H, geo.W), dtype=gout.dtype)
                gbuf_all = xp.empty((geo.C, nb, geo.Hbuf, geo.Wp), dtype=gout.dtype)
            for n0 in range(0, geo.N, nb):
                n = min(nb, geo.N - n0)
                m = n * geo.L
                gwide = gwide_pool[: geo.O * m].reshape(geo.O, n, geo.Ho, geo.Wq)
                gwide[..., : geo.Wo] = gout[n0 : n0 + n].transpose(1, 0, 2, 3)
                g3 = gwide.reshape(g, Og, m)
                if need_w:
                    cols = col_pool[: geo.K * m].reshape(geo.C, geo.kh, geo.kw, n, geo.L)
                    geo.pad(x[n0 : n0 + n], buf[:, :n])
                    geo.im2col(buf[:, :n], cols)
                    gwt += xp.matmul(cols.reshape(g, Kg, m), g3.transpose(0, 2, 1))
                if need_x:
                    gcols = col_pool[: geo.K * m].reshape(g, Kg, m)
                    xp.matmul(w3.transpose(0, 2, 1), g3, out=gcols)
                    gbuf = gbuf_all[:, :n]
                    geo.col2im(gcols.reshape(geo.C, geo.kh, geo.kw, n, geo.L), gbuf)
                    inner = gbuf[:, :, geo.pt : geo.pt + geo.H, geo.pl : geo.pl + geo.W]
                    gx[n0 : n0 + n] = inner.transpose(1, 0, 2, 3)
            if need_w:
                gw = gwt.transpose(0, 2, 1).reshape(w.shape)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def _check(x, w, b, groups, dims=2):
    """Shapes and dtypes of a ``dims``-D convolution's arrays (conv1d checks its own
    before it runs as a height-1 conv2d, so that its errors show its shapes)."""
    name = f"conv{dims}d"
    if x.ndim != dims + 2 or w.ndim != dims + 2:
        spatial = ("L",) if dims == 1 else ("H", "W")
        kernel = ("k",) if dims == 1 else ("kh", "kw")
        raise OpError(f"{name}: expects a {dims + 2}-D input (N, C, {', '.join(spatial)}) and weight "
                      f"(O, C/groups, {', '.join(kernel)}), got input {tuple(x.shape)} and weight {tuple(w.shape)}")
    if x.dtype != w.dtype or (b and b[0].dtype != x.dtype):
        dts = ", ".join(str(a.dtype) for a in (x, w, *b))
        raise OpError(f"{name}: dtypes differ ({dts}) for input {tuple(x.shape)} and weight {tuple(w.shape)}")
    C, O, Cg = x.shape[1], w.shape[0], w.shape[1]
    if C % groups or O % groups:
        raise OpError(f"{name}: groups={groups} must divide input channels {C} and output channels {O} "
                      f"(input {tuple(x.shape)}, weight {tuple(w.shape)})")
    if Cg * groups != C:
        raise OpError(f"{name}: input {tuple(x.shape)} has {C} channels but weight {tuple(w.shape)} "
                      f"expects {Cg * groups} (groups={groups})")
    if b and tuple(b[0].shape) != (O,):
        raise OpError(f"{name}: bias of shape {tuple(b[0].shape)} does not match weight {tuple(w.shape)}; "
                      f"expected ({O},)")


def _conv_padding(padding, kernel, stride, dilation):
    """PyTorch's padding spellings -> ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same":
            raise OpError(f"conv2d: padding must be 'same', 'valid', an int or a pair, got {padding!r}")
        if stride != (1, 1):
            raise OpError(f"conv2d: padding='same' is not supported for strided convolutions (stride {stride})")
        # An even kernel cannot pad both sides equally: the extra row/column goes
        # after (bottom/right), as PyTorch does.
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    ph, pw = ntuple(padding, 2, "padding", "conv2d", 0)
    return ((ph, ph), (pw, pw))


def _check_conv_args(input, weight, groups, dims):
    """The ranks of a ``dims``-D convolution's input (batched) and weight, and its groups."""
    name = f"conv{dims}d"
    spatial, kernel = ("L", "k") if dims == 1 else ("H, W", "kh, kw")
    if input.ndim != dims + 2:
        raise OpError(f"{name}: expected a {dims + 1}-D (C, {spatial}) or {dims + 2}-D (N, C, {spatial}) input, "
                      f"got shape {input.shape}")  # fmt: skip
    if weight.ndim != dims + 2:
        raise OpError(f"{name}: weight must be {dims + 2}-D (out_channels, in_channels/groups, {kernel}), "
                      f"got {weight.shape}")  # fmt: skip
    positive_int(groups, "groups", name)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, PyTorch's ``F.conv2d``.

    input: (N, C, H, W) or unbatched (C, H, W); weight: (O, C // groups, kh, kw);
    bias: (O,). stride, dilation: int or (h, w); padding: int, (h, w), "same"
    (stride 1 only) or "valid". Returns (N, O, Ho, Wo) with
    Ho = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1 (likewise Wo)."""
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check_conv_args(input, weight, groups, 2)
    stride = ntuple(stride, 2, "stride", "conv2d", 1)
    dilation = ntuple(dilation, 2, "dilation", "conv2d", 1)
    pads = _conv_padding(padding, weight.shape[2:], stride, dilation)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over time, PyTorch's ``F.conv1d``.

    input: (N, C, L) or unbatched (C, L); weight: (O, C // groups, k); bias: (O,).
    stride, dilation: int; padding: int, "same" (stride 1 only; an even kernel pads
    one more at the end) or "valid". Returns (N, O, Lo) with
    Lo = (L + 2*p - d*(k - 1) - 1) // s + 1. Runs as conv2d on a height-1 image."""
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check_conv_args(input, weight, groups, 1)
    _check(input._data, weight._data, () if bias is None else (bias._data,), groups, dims=1)
    (stride,), (dilation,) = ntuple(stride, 1, "stride", "conv1d", 1), ntuple(dilation, 1, "dilation", "conv1d", 1)
    k, L = weight.shape[2], input.shape[2]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise OpError(f"conv1d: padding must be 'same', 'valid' or an int, got {padding!r}")
        if padding == "same" and stride != 1:
            raise OpError(f"conv1d: padding='same' is not supported for strided convolutions (stride {stride})")
        total = 0 if padding == "valid" else dilation * (k - 1)
    else:
        total = 2 * ntuple(padding, 1, "padding", "conv1d", 0)[0]
    if L + total < dilation * (k - 1) + 1:
        raise OpError(f"conv1d: input {input.shape} padded to length {L + total} is shorter than the "
                      f"dilated kernel ({k} taps, dilation {dilation})")
    pads = ((0, 0), (total // 2, total - total // 2))
    inputs = (input.unsqueeze(2), weight.unsqueeze(2)) + (() if bias is None else (bias,))
    out = Conv2d.apply(*inputs, stride=(1, stride), padding=pads, dilation=(1, dilation), groups=groups)
    return out.squeeze(2)

