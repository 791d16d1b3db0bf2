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

from ..autograd import Function, OpError

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


class _Geometry:
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

    saves = (0, 1)

    def uses_saved(self, i):
        return self.needs(1 - i)  # x for the weight's gradient, the weight for x's

    def forward(self, x, w, *b, stride, padding, dilation, groups):
        xp = self.xp
        _check(x, w, b, groups)
        geo = _Geometry(x.shape, w.shape, stride, padding, dilation, groups)
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
