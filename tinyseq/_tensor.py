"""Tensor: an array on a device, plus what autograd needs (grad, requires_grad, the
node that made it).

The ops (``+``, ``@``, ``reshape``, ``sum``, ``to``, ...) are not written here:
``tinyseq.ops`` attaches each one that its registry marks as a Tensor method, so an
op is declared in one place only. This module holds the state, autograd's entry
points, conversions and the in-place updates (never recorded in the graph).

The module is ``_tensor``, as PyTorch's ``torch._tensor``, so that ``ts.tensor`` (the
factory) does not hide it."""

from __future__ import annotations

import operator
import weakref

import numpy as np

from . import autograd, post_hooks
from .backend import device, get_backend
from .dtypes import (
    _DTYPES,
    _default_float,
    as_dtype,
    bool_,
    can_cast,
    check_cast,
    check_fill,
    get_default_dtype,
    int64,
    result_type,
    uint8,
)


def parse_to_args(args, device=None, dtype=None):
    """Split ``to(...)``'s positional arguments into (device, dtype)."""
    for a in args:
        if isinstance(a, Tensor):  # to(other): other's device and dtype
            device, dtype = a._backend, a.dtype
        elif isinstance(a, (np.dtype, type)) or (isinstance(a, str) and a in _DTYPES):
            dtype = a
        else:
            device = a
    return device, dtype


def _infer_dtype(data, array) -> np.dtype:
    """PyTorch's inference: arrays keep their dtype; Python floats -> the default float dtype."""
    if hasattr(data, "dtype"):
        return array.dtype
    if array.dtype.kind == "f":
        return _default_float[0]
    if array.dtype.kind in "iu":
        return int64
    return array.dtype


class Tensor:
    """An n-dimensional array with reverse-mode autograd.

    ``_data`` is the raw array (numpy on "cpu"); ``data`` is the same storage as a
    tensor cut from the graph, as in PyTorch; ``grad`` is a Tensor or None.
    """

    __slots__ = ("_data", "requires_grad", "_grad", "_ctx", "_idx", "_backend", "_hooks", "_version", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our operators

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        be = get_backend(device if device is not None else getattr(data, "device", None))
        if isinstance(data, Tensor):
            data = data._data
        elif isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
            data = np.stack([t.numpy() for t in data])  # a list of tensors, as PyTorch allows
        dtype = as_dtype(dtype)
        if be.owns(data):
            if dtype is not None:
                check_cast(data, dtype, "tensor")
            array = data.astype(dtype) if dtype is not None else data.copy()
        else:
            if dtype is not None and isinstance(data, np.ndarray):
                check_cast(data, dtype, "tensor")
            host = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
            if host.dtype == object:
                raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data")
            dtype = dtype or _infer_dtype(data, host)
            # np.array, not ascontiguousarray: the latter turns 0-d data into shape (1,)
            array = be.from_host(np.array(host, dtype=dtype, order="C"))
        self._data = array
        self._grad = None
        self._ctx = None
        self._idx = 0
        self._backend = be
        self._hooks = None  # a leaf's gradient hooks (a non-leaf's live on its node)
        self._version = None  # [stamp of the last in-place change], or None (see _bump_version)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, backend, ctx=None, idx=0):
        """Wrap an array of ``backend`` without copying; ``ctx`` is the node that made it.
        Always a plain Tensor (a Parameter's op results are not Parameters): the engine
        wraps results with ``inputs[0]._make`` and so needs no import of this module."""
        t = _new(Tensor)
        # numpy hands back scalars for 0-d results; a tensor's data is always an array
        t._data = data if data.ndim else backend.xp.asarray(data)
        t._grad = None
        t._ctx = ctx
        t._idx = idx
        t._backend = backend
        t._hooks = None
        t._version = None
        t.requires_grad = ctx is not None
        return t

    # -- attributes ---------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's storage as a new tensor outside the graph (PyTorch's ``.data``):
        ``p.data.add_(p.grad, alpha=-lr)`` updates ``p``. Changes made through it are
        not tracked: a graph that saved ``p`` cannot see them."""
        return Tensor._make(self._data, self._backend)

    @data.setter
    def data(self, value) -> None:
        """``p.data = t`` gives ``p`` the storage of ``t`` (its shape, dtype, device)."""
        if isinstance(value, Tensor):
            self._data, self._backend = value._data, value._backend
        elif self._backend.owns(value):
            self._data = value if value.ndim else self.xp.asarray(value)
        else:
            raise TypeError(f"data: assigned value must be a Tensor, got {type(value).__name__}")

    @property
    def shape(self) -> tuple:
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self) -> device:
        """Where the data lives: a ``ts.device``, which is also its name ("cpu", "cuda:0")."""
        return self._backend.device_name

    @property
    def xp(self):
        """The array module of this tensor's device."""
        return self._backend.xp

    @property
    def grad(self):
        """The gradient accumulated by backward (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # refused here, not at the optimizer step: a (1,) gradient for a (3,) parameter
        # would broadcast there and update every element with it
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"grad: a gradient of shape {value.shape} cannot be assigned to a tensor of shape {self.shape}"
                )
            if value._backend is not self._backend:
                raise RuntimeError(
                    f"grad: a gradient on {value.device} cannot be assigned to a tensor on {self.device}"
                )
            if value.dtype != self.dtype:
                raise RuntimeError(
                    f"grad: a gradient of dtype {value.dtype} cannot be assigned to a tensor of dtype {self.dtype}"
                )
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self._data.ndim

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- autograd -----------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            if requires_grad:
                return self  # it already does
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; use detach()")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, not {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` (same shape as self) is required unless self has one element."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph "
                "(was it made under no_grad, or from tensors without requires_grad=True?)"
            )
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {self.shape}, so pass gradient= of that shape"
                )
            g = self.xp.ones(self._data.shape, dtype=self._data.dtype)
        else:
            if isinstance(gradient, Tensor) and gradient._backend is not self._backend:
                raise RuntimeError(
                    f"backward: gradient is on {gradient.device} but the tensor is on {self.device}; "
                    f"move it with gradient.to({self.device!r})"
                )
            g = gradient._data if isinstance(gradient, Tensor) else self._backend.asarray(gradient)
            if tuple(g.shape) != self.shape:
                raise RuntimeError(f"backward: gradient has shape {tuple(g.shape)} but the tensor has {self.shape}")
            g = g.astype(self._data.dtype, copy=False)
        autograd.backward([self], [g], retain_graph=retain_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (an in-place change of either shows in both,
        and is caught by a backward that needs the old values)."""
        t = Tensor._make(self._data, self._backend)
        t._version = self._version_counter()
        return t

    def _version_counter(self) -> list:
        """[when the data last changed in place (autograd.stamp()), -1: never], one list
        shared by the tensors that share the data (``detach``, views)."""
        if self._version is None:
            self._version = [-1]
        return self._version

    def _bump_version(self) -> None:
        """Record an in-place change of ``data`` (the in-place methods, optimizers, init):
        graph nodes made before it that saved the data refuse to backpropagate."""
        if self._version is None:
            self._version = [autograd.stamp()]
        else:
            self._version[0] = autograd.stamp()

    def detach_(self) -> Tensor:
        self._ctx = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if self._ctx is None:
            return
        hooks = (self._ctx.hooks or {}).get(self._idx, ())
        if any(getattr(h, "retains_grad", False) for h in hooks):
            return
        ref = weakref.ref(self)  # a strong reference would make a node -> tensor -> node cycle

        def keep(g):
            t = ref()
            if t is not None:
                t.grad = g.clone() if t.grad is None else Tensor._make(t.grad._data + g._data, t._backend)

        keep.retains_grad = True
        self.register_hook(keep)

    def register_hook(self, hook) -> _HookHandle:
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is
        computed; a returned tensor replaces the gradient. On a leaf it runs once
        per backward, with the leaf's whole gradient, before that is added to
        ``.grad``. Returns a handle whose ``remove()`` unregisters the hook."""
        if self._ctx is None:
            if not self.requires_grad:
                raise RuntimeError(
                    "register_hook: this tensor does not require grad, so no gradient reaches it "
                    f"(shape {self.shape}); call requires_grad_() first"
                )
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return _HookHandle(self._hooks, hook)
        if self._ctx.hooks is None:
            self._ctx.hooks = {}
        hooks = self._ctx.hooks.setdefault(self._idx, [])
        # retain_grad's hook stays last so .grad holds what the other hooks made (as in PyTorch)
        if hooks and getattr(hooks[-1], "retains_grad", False):
            hooks.insert(len(hooks) - 1, hook)
        else:
            hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor) -> None`` runs on this leaf once per backward pass, after the last
        gradient this pass hands it has been added to ``.grad`` (so ``tensor.grad`` is
        complete), while the rest of the graph may still be running backward. Data-parallel
        training starts reducing gradients from here. Returns a handle whose ``remove()``
        unregisters the hook."""
        return post_hooks.register_post_accumulate_grad_hook(self, hook)

    # -- conversion ---------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A host numpy array (shares memory on the CPU)."""
        return self._backend.to_host(self._data)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t) for a CPU tensor, as PyTorch allows; a GPU tensor must be copied
        # explicitly, so that a silent device-to-host copy is never hidden in NumPy code
        if self._backend.name != "cpu":
            raise TypeError(
                f"can't convert a {self.device} tensor of shape {self.shape} to a NumPy array implicitly; "
                "call .cpu() or .numpy() first"
            )
        host = self._data
        return host if dtype is None else host.astype(dtype, copy=False)

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to Python scalars, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        """This tensor on a GPU: ``device`` an index, "cuda:1" or a ``ts.device`` (default GPU 0)."""
        if device is None or isinstance(device, int):
            device = f"cuda:{device or 0}"
        return self.to(device)

    @property
    def is_cuda(self) -> bool:
        return self._backend.name.startswith("cuda")

    def __repr__(self) -> str:
        body = _format(self.numpy())
        extra = []
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self.dtype not in (_default_float[0], int64, bool_):
            extra.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: a tensor of shape {self.shape} has no single truth value")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}" on a 0-d tensor formats its value, as in PyTorch
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    # -- in-place updates (optimizers, init, masking); never recorded -------------
    def _inplace_check(self, name):
        if self.requires_grad and autograd.is_grad_enabled() and self.is_leaf:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                "wrap it in `with ts.no_grad():`"
            )
        if self._ctx is not None and autograd.is_grad_enabled():
            raise RuntimeError(f"{name}: in-place operations on tensors in a graph are not supported")
        self._bump_version()

    def _other_data(self, other):
        return other._data if isinstance(other, Tensor) else other

    def zero_(self) -> Tensor:
        self._inplace_check("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        check_fill(value, self.dtype, "fill_")
        self._inplace_check("fill_")
        self._data[...] = self._other_data(value)
        return self

    def copy_(self, src) -> Tensor:
        self._inplace_check("copy_")
        src = src if isinstance(src, Tensor) else Tensor(src, device=self.device)
        if src._backend is not self._backend:
            src = src.to(self.device)
        self._data[...] = src._data
        return self

    def _operand(self, name, other, divides=False):
        """``other``'s raw value for an in-place op, refused (as PyTorch does) when the result
        would not fit this tensor's dtype: a float into an int tensor, say."""
        if self._data.dtype.kind not in "fc":
            result = result_type(self, other)
            if divides and result.kind not in "fc":
                result = get_default_dtype()
            if not can_cast(result, self.dtype):
                raise RuntimeError(
                    f"{name}: result type {result} can't be cast to the desired output type {self.dtype}"
                )
        if isinstance(other, Tensor):
            if other._backend is not self._backend:
                raise RuntimeError(f"{name}: tensors on different devices ({self.device} and {other.device})")
            return other._data
        return other

    def add_(self, other, alpha=1) -> Tensor:
        o = self._operand("add_", other)
        self._inplace_check("add_")
        self._data += o if alpha == 1 else alpha * o
        return self

    def sub_(self, other, alpha=1) -> Tensor:
        return self.add_(other, -alpha)

    def mul_(self, other) -> Tensor:
        o = self._operand("mul_", other)
        self._inplace_check("mul_")
        self._data *= o
        return self

    def div_(self, other) -> Tensor:
        o = self._operand("div_", other, divides=True)
        self._inplace_check("div_")
        self._data /= o
        return self

    def _augmented(self, other, inplace, op):
        # `p -= lr * p.grad` under no_grad updates p in place, as in PyTorch (without
        # these methods Python would silently rebind p to a new tensor). While a graph
        # is recorded through a non-leaf, the result is a new node instead.
        recording = autograd.is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False))
        if recording and not (self.is_leaf and self.requires_grad):
            return op(self, other)
        return inplace(other)

    def __iadd__(self, o):
        return self._augmented(o, self.add_, operator.add)

    def __isub__(self, o):
        return self._augmented(o, self.sub_, operator.sub)

    def __imul__(self, o):
        return self._augmented(o, self.mul_, operator.mul)

    def __itruediv__(self, o):
        return self._augmented(o, self.div_, operator.truediv)

    def __setitem__(self, index, value) -> None:
        self._inplace_check("__setitem__")
        self._data[normalize_index(self, index)] = self._other_data(value)

    def __pos__(self):
        return self

    def __invert__(self):
        return Tensor._make(~self._data, self._backend)

    # -- methods with PyTorch's names -----------------------------------------
    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return self.transpose(-2, -1)


_new = object.__new__


def _dtype_method(name, dtype):
    def method(self) -> Tensor:
        return self.to(dtype)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"This tensor as {dtype} (``to({dtype})``)."
    return method


# PyTorch's dtype shortcuts: t.float(), t.long(), t.bool(), ...
for _name in ("float", "double", "half", "long", "int", "short", "bool"):
    setattr(Tensor, _name, _dtype_method(_name, _DTYPES[_name]))
Tensor.byte = _dtype_method("byte", uint8)


class _HookHandle:
    """What ``register_hook`` returns; ``remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _format(array) -> str:
    """Array text the way PyTorch prints it: 4 decimals unless every value is whole."""
    fixed = False
    if array.dtype.kind == "f" and array.size:
        finite = array[np.isfinite(array)]
        fixed = bool(finite.size) and not bool((finite == np.round(finite)).all())
    return np.array2string(
        array, precision=4, separator=", ", prefix="tensor(", floatmode="fixed" if fixed else "maxprec"
    )


def _size(size) -> tuple:
    """A size given as ints or as one sequence of them -> a tuple of ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _draw(be, generator, draw):
    """``draw(rng)`` from the device's generator, or from a ``ts.Generator`` (host draws, moved)."""
    return draw(be.rng) if generator is None else be.from_host(np.asarray(draw(generator.rng)))


_BASIC_INDEX = (int, slice, type(None), type(Ellipsis))


def normalize_index(x, index):
    """PyTorch indices (ints, slices, None, ..., lists, int/bool tensors) as array indices
    of ``x``'s device. An empty list is an empty *integer* index (numpy would make it
    float64, which no array accepts as an index)."""
    if index.__class__ in _BASIC_INDEX:
        return index
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            if p._backend is not x._backend:
                raise RuntimeError(f"getitem: index on {p.device} for a tensor on {x.device}")
            p = p._data
        elif isinstance(p, (list, np.ndarray)):
            a = np.asarray(p)
            p = x._backend.from_host(a.astype(np.int64) if a.size == 0 and a.dtype.kind == "f" else a)
        elif isinstance(p, np.integer):
            p = int(p)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]
