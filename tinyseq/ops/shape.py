"""Shape primitives: reshape, permute, expand, indexing, cat/stack/split, pad."""

from __future__ import annotations

from ..autograd import Function, OpError


class Reshape(Function):
    def forward(self, a, shape):
        self.in_shape = a.shape
        out = a.reshape(shape)
        # a view, unless a non-contiguous input had to be copied (which has its own data)
        self.view = a.flags.c_contiguous or bool(self.xp.may_share_memory(a, out))
        return out

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    view = True

    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        inv = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inv[ax] = i
        return g.transpose(inv)


class Expand(Function):
    """Broadcast to ``shape``; the engine sums the gradient back to the input's shape."""

    view = True

    def forward(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def backward(self, g):
        return g


_BASIC = (int, slice, type(None), type(Ellipsis))


def _is_advanced(index) -> bool:
    """True when ``index`` holds an array or list (repeats possible: scatter-add back)."""
    for p in index if index.__class__ is tuple else (index,):
        if not isinstance(p, _BASIC):
            return True
    return False


class GetItem(Function):
    """``a[index]``; advanced (integer-array) indices accumulate repeated gradients."""

    def forward(self, a, index):
        advanced = _is_advanced(index)
        self.args = (a.shape, index, advanced)
        self.view = not advanced  # basic indexing gives a view, advanced a copy
        return a[index]

    def backward(self, g):
        shape, index, advanced = self.args
        gx = self.xp.zeros(shape, dtype=g.dtype)
        if advanced:
            self.backend.scatter_add(gx, index, g)
        else:
            gx[index] = g
        return gx


class Cat(Function):
    def forward(self, *arrays, axis):
        self.args = (axis, [a.shape[axis] for a in arrays])
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        axis, sizes = self.args
        out, start = [], 0
        for i, n in enumerate(sizes):
            if self.needs(i):
                sl = [slice(None)] * g.ndim
                sl[axis] = slice(start, start + n)
                out.append(g[tuple(sl)])
            else:
                out.append(None)
            start += n
        return tuple(out)


class Stack(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        return self.xp.stack(arrays, axis=axis)

    def backward(self, g):
        n = g.shape[self.axis]
        # views, not copies (take would copy): backward never writes into a gradient
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] if self.needs(i) else None for i in range(n))


class Split(Function):
    """Split along ``axis`` into pieces of the given sizes (several outputs)."""

    view = True

    def forward(self, a, sizes, axis):
        self.axis = axis
        bounds, start = [], 0
        for n in sizes:
            sl = [slice(None)] * a.ndim
            sl[axis] = slice(start, start + n)
            bounds.append(tuple(sl))
            start += n
        return tuple(a[b] for b in bounds)

    def backward(self, *grads):
        return self.xp.concatenate(grads, axis=self.axis)


class Pad(Function):
    """Constant padding; ``widths`` is numpy's ((before, after), ...) per axis."""

    def forward(self, a, widths, value):
        if any(w < 0 for pair in widths for w in pair):
            raise OpError(f"pad: negative padding {widths} is not supported (shape {a.shape})")
        self.slices = tuple(slice(b, n + b) for (b, _), n in zip(widths, a.shape))
        return self.xp.pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.slices]


class Gather(Function):
    """``out[..., i, ...] = a[..., index[..., i, ...], ...]`` along ``axis`` (PyTorch's
    gather): ``index`` has ``a``'s number of dims, and no dim but ``axis`` larger than
    ``a``'s. Repeated indices accumulate their gradients."""

    def forward(self, a, index, axis):
        xp = self.xp
        crop = tuple(slice(0, n) if d != axis else slice(None) for d, n in enumerate(index.shape))
        self.args = (a.shape, index, axis)
        return xp.take_along_axis(a[crop], index, axis=axis)

    def backward(self, g):
        xp = self.xp
        shape, index, axis = self.args
        n = index.ndim  # every position's own index along each dim (broadcasting), the gathered one along axis
        full = [xp.arange(m).reshape([m if d == k else 1 for d in range(n)]) for k, m in enumerate(index.shape)]
        full[axis] = index
        gx = xp.zeros(shape, dtype=g.dtype)
        self.backend.scatter_add(gx, tuple(full), g)
        return gx
