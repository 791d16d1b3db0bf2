"""Shape ops: reshape/view, permute/transpose, squeeze, expand, indexing, cat/stack/split."""

from __future__ import annotations

import math

from .._tensor import Tensor, _size, normalize_index
from ..autograd import Function, OpError, _share_version
from .args import as_tensors, axes_of
from .convert import clone


class Reshape(Function):
    def forward(self, a, shape):
        self.in_shape = a.shape
        out = a.reshape(shape)
        # a view, unless a non-contiguous input had to be copied (which has its own data)
        self.view = a.flags.c_contiguous or bool(self.xp.may_share_memory(a, out))
        return out

    def backward(self, g):
        return g.reshape(self.in_shape)


def reshape(x, *shape):
    """Same data, new shape (one entry may be -1)."""
    shape = _size(shape)
    in_shape = x._data.shape
    if shape == in_shape:
        return x
    n = x._data.size
    holes = shape.count(-1)
    size = math.prod(shape) * (-1 if holes == 1 else 1)
    if holes > 1 or (holes == 0 and size != n) or (holes == 1 and (size <= 0 or n % size)):
        raise OpError(f"reshape: cannot reshape a tensor of shape {x.shape} ({n} elements) to {shape}")
    return Reshape.apply(x, shape=shape)


def view(x, *shape):
    """Same data, new shape, always sharing memory with ``x`` (writes to one show in the
    other). A tensor whose strides do not allow that (a transpose, say) raises, as in
    PyTorch: ``reshape`` copies instead."""
    out = reshape(x, *shape)
    a = x._data
    if out is not x and a.size and not a.flags.c_contiguous and not x.xp.may_share_memory(a, out._data):
        raise RuntimeError(
            f"view: a tensor of shape {x.shape} whose strides do not fit {_size(shape)} cannot be viewed "
            "without a copy (it is not contiguous, e.g. a transpose); use .reshape(...) instead, or "
            ".contiguous().view(...)"
        )
    return out


def reshape_as(x, other):
    return reshape(x, other.shape)


def view_as(x, other):
    return view(x, other.shape)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :]
    return reshape(x, shape)


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


def permute(x, *dims):
    dims = _size(dims)
    n = x._data.ndim
    if len(dims) != n:
        raise OpError(f"permute: {dims} is not a permutation of the {n} dims of shape {x.shape}")
    if n == 0:
        return x
    dims = axes_of(x, dims, "permute")  # in range and no repeats: a permutation
    if dims == tuple(range(n)):
        return x
    return Permute.apply(x, axes=dims)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    n = x._data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    (d0,) = axes_of(x, dim0, "transpose")
    (d1,) = axes_of(x, dim1, "transpose")
    if d0 == d1:
        return x
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(x, axes=tuple(dims))


def squeeze(x, dim=None):
    """Remove size-1 dims (only ``dim`` if given; a no-op when it is not size 1)."""
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = axes_of(x, dim, "squeeze") or ()
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    n = x.ndim + 1
    if not -n <= dim < n:
        raise OpError(f"unsqueeze: dim {dim} out of range for a tensor of shape {x.shape}")
    dim %= n
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


class Expand(Function):
    """Broadcast to ``shape``; the engine sums the gradient back to the input's shape."""

    view = True

    def forward(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def backward(self, g):
        return g


def expand(x, *sizes):
    """Broadcast to ``sizes`` (-1 keeps a dim) without copying."""
    sizes = _size(sizes)
    if len(sizes) < x.ndim:
        raise OpError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, n in enumerate(x.shape):
        if n != 1 and n != shape[lead + i]:
            raise OpError(f"expand: cannot expand shape {x.shape} to {sizes} (dim {i} has size {n})")
    if shape == x.shape:
        return x
    return Expand.apply(x, shape=shape)


def expand_as(x, other):
    return expand(x, other.shape)


def broadcast_to(x, shape):
    return expand(x, shape)


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


def _split_ints(index):
    """PyTorch applies integer indices before array indices (numpy mixes them, which
    moves the array dims elsewhere): split ``index`` into a basic index holding the
    ints, and the rest to apply to its result. None when no such mix is present."""
    if index.__class__ is not tuple:
        return None
    arrays = [p for p in index if not isinstance(p, (int, slice, type(None), type(Ellipsis)))]
    if not arrays or not any(isinstance(p, int) for p in index):
        return None
    first, rest = [], []
    for p in index:
        if isinstance(p, int):
            first.append(p)
        elif isinstance(p, (slice, type(None), type(Ellipsis))):
            first.append(p)
            rest.append(p if p is Ellipsis else slice(None))
        else:  # an index array; a boolean mask consumes one dim per mask dim
            width = p.ndim if getattr(p, "dtype", None) is not None and p.dtype == bool else 1
            first.extend([slice(None)] * width)
            rest.append(p)
    return tuple(first), tuple(rest)


def getitem(x, index):
    """``x[index]``: ints, slices (with steps), None, ..., integer or boolean arrays."""
    index = normalize_index(x, index)
    split = _split_ints(index)
    if split is not None:
        return getitem(getitem(x, split[0]), split[1])
    if x.requires_grad:
        return GetItem.apply(x, index=index)
    try:
        out = Tensor._make(x._data[index], x._backend)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} for a tensor of shape {x.shape}: {e}") from None
    if not _is_advanced(index):  # a view, as GetItem's outputs are
        _share_version(x, out)
    return out


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


def cat(tensors, dim=0):
    """Join tensors along an existing dim; other dims must match."""
    tensors = as_tensors(tensors, "cat")
    nd = tensors[0].ndim
    if nd == 0:
        raise OpError("cat: zero-dimensional tensors cannot be concatenated")
    (axis,) = axes_of(tensors[0], dim, "cat")
    ref = tensors[0].shape
    for t in tensors:
        if t.ndim != nd or t.shape[:axis] + t.shape[axis + 1 :] != ref[:axis] + ref[axis + 1 :]:
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise OpError(f"cat: shapes {shapes} differ outside dim {dim}")
    if len(tensors) == 1:  # a new tensor, as PyTorch's: writing to it must not change the input
        return clone(tensors[0])
    return Cat.apply(*tensors, axis=axis)


class Stack(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        if axis == 0:  # the same, without np.stack's checks, which cost more than the copy at small sizes
            return self.xp.concatenate([a[None] for a in arrays])
        return self.xp.stack(arrays, axis=axis)

    def backward(self, g):
        n = g.shape[self.axis]
        # views, not copies (take would copy): backward never writes into a gradient
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] if self.needs(i) else None for i in range(n))


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = as_tensors(tensors, "stack")
    ref = tensors[0].shape
    for t in tensors:
        if t.shape != ref:
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise OpError(f"stack: all tensors need the same shape, got {shapes}")
    n = len(ref) + 1
    if not -n <= dim < n:
        raise OpError(f"stack: dim {dim} out of range for tensors of shape {ref}")
    return Stack.apply(*tensors, axis=dim % n)


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


def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
    (axis,) = axes_of(x, dim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise OpError(f"split: split_size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise OpError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape {x.shape})")
    if len(sizes) == 1:
        return (x,)
    return Split.apply(x, sizes=sizes, axis=axis)


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    (axis,) = axes_of(x, dim, "chunk")
    n = x.shape[axis]
    return split(x, max(-(-n // chunks), 1), dim)


