"""Module and Parameter, with PyTorch's registration and state-dict semantics."""

from __future__ import annotations

import copy
import functools
import weakref
from collections import OrderedDict, namedtuple

import numpy as np

from .._tensor import Tensor, _HookHandle, as_dtype, parse_to_args
from ..autograd import scope
from ..backend import get_backend

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A tensor that a Module registers as trainable (requires_grad=True by default)."""

    __slots__ = ("_owner", "_called_as")

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            be, array = data._backend, data._data
        else:
            t = Tensor(data)
            be, array = t._backend, t._data
        self._data = array
        self._grad = None
        self._ctx = None
        self._idx = 0
        self._backend = be
        self._hooks = None
        self._version = None
        self._owner = None
        self._called_as = None  # (module path, attribute) at the last forward call, see Module.__call__
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    @property
    def qualified_name(self):
        """Dotted name from the outermost module that owns it (``lstm.weight_ih_l0``), or None.

        When the owner is gone (a module built inline, ``ts.nn.LSTM(3, 4)(x)``),
        the name recorded by its last forward call is used, so a drawing made
        after the module was dropped still names its weights."""
        if self._owner is not None:
            module, name = self._owner[0](), self._owner[1]
            if module is not None:
                return module._qualify(name)
        called = self._called_as
        if called is None:
            return None
        path, name = called
        return f"{path}.{name}" if path else name


def _check_name(who, kind, name) -> None:
    """A parameter, buffer or submodule name: state_dict keys join names with '.', so a
    dotted or empty name would load into the wrong place (PyTorch raises KeyError too)."""
    if not isinstance(name, str):
        raise TypeError(f"{who}: {kind} name must be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{who}: {kind} name {name!r} must be non-empty and contain no '.'")


def _record_init_args(cls) -> None:
    """Wrap ``cls.__init__`` so that the outermost constructor call of an instance records
    (args, kwargs) on it as ``_init_args``; a subclass's ``super().__init__(...)`` does not
    overwrite what its own caller passed."""
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_records_init_args", False):
        return

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "_init_args" not in self.__dict__:
            object.__setattr__(self, "_init_args", (args, kwargs))
        init(self, *args, **kwargs)

    __init__._records_init_args = True
    cls.__init__ = __init__


class Module:
    """Base class of layers. Assigning a Parameter or Module attribute registers it."""

    def __init_subclass__(cls, **kwargs):
        # Every layer records the arguments it was built with, so ts.save(model) can store a
        # whole model as data (class, arguments, state dict) and ts.load can rebuild it.
        super().__init_subclass__(**kwargs)
        _record_init_args(cls)

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_pre_hooks", [])  # [(hook, with_kwargs)], in call order
        object.__setattr__(self, "_forward_hooks", [])

    # -- registration ---------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            _check_name("add_module", "module", name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
            object.__setattr__(value, "_parent", (weakref.ref(self), name))
        elif name in self._parameters or name in self._modules:
            # As PyTorch: silently unregistering a weight (``m.weight = m.weight * 2``) hides bugs.
            store, kind = (self._parameters, "Parameter") if name in self._parameters else (self._modules, "Module")
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to {name!r}, "
                    f"which is a registered {kind} (assign a {kind} or None)"
                )
            store[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to buffer {name!r} "
                    "(assign a tensor or None)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Drop ``name`` from the attribute stores, except ``keep`` (re-assignment keeps its position)."""
        self.__dict__.pop(name, None)
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        getattr(self, "_non_persistent", set()).discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        _check_name("register_parameter", "parameter", name)
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        if param is not None:
            param._owner = (weakref.ref(self), name)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """A tensor (or None) that belongs to the module's state (moved by ``to``, saved in the
        state dict unless ``persistent=False``) but is not trained."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a tensor or None, got {type(tensor).__name__}")
        _check_name("register_buffer", "buffer", name)
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            object.__setattr__(self, "_non_persistent", getattr(self, "_non_persistent", set()) | {name})

    def add_module(self, name: str, module) -> None:
        _check_name("add_module", "module", name)
        setattr(self, name, module)

    def _qualify(self, name: str) -> str:
        parts = [name]
        node = self
        while node._parent is not None:
            parent, attr = node._parent[0](), node._parent[1]
            if parent is None:
                break
            parts.append(attr)
            node = parent
        return ".".join(reversed(parts))

    # -- traversal -----------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """(name, module) for this module and every descendant, depth first, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children before parents) and on this one,
        e.g. a custom initialisation. Returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def named_children(self):
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, parameter), in registration order; shared parameters once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, mod in mods:
            for k, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = ""):
        for mname, mod in self.named_modules(prefix):
            for k, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{k}" if mname else k), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # -- state ------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Ordered name -> tensor (detached, sharing memory) for parameters and persistent buffers."""
        out = OrderedDict()
        for mname, mod in self.named_modules():
            skip = getattr(mod, "_non_persistent", set())
            for k, p in mod._parameters.items():
                if p is not None:
                    out[f"{mname}.{k}" if mname else k] = p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in skip:
                    out[f"{mname}.{k}" if mname else k] = b.detach() if isinstance(b, Tensor) else b
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays/tensors into the existing parameters and buffers, in place (keeping
        their dtype and device), from tensors or numpy arrays on any device.

        Missing, unexpected and wrong-shape keys are all listed in one RuntimeError
        (wrong shapes raise even when not ``strict``). Returns (missing_keys, unexpected_keys)."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong = []
        for k, v in state_dict.items():
            if k in own:
                shape = tuple(v.shape) if hasattr(v, "shape") else np.shape(v)
                if shape != own[k].shape:
                    wrong.append(f"{k} (expected {own[k].shape}, got {shape})")
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if wrong:
            problems.append("wrong shapes: " + ", ".join(wrong))
        if wrong or (strict and problems):
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for k, v in state_dict.items():
            if k not in own:
                continue
            t = own[k]  # a detached view of the parameter's own array: writing it writes the parameter
            if isinstance(v, Tensor) and v._backend is t._backend:
                src = v._data
            else:
                host = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
                src = t._backend.from_host(host)
            t._data[...] = src.astype(t.dtype, copy=False)
            t._bump_version()
        return IncompatibleKeys(missing, unexpected)

    # -- modes and devices -------------------------------------------------------------
    def train(self, mode: bool = True):
        """Training mode (``mode=True``) or evaluation mode for this module and all below it."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data = p.xp.zeros_like(p.grad._data)

    def to(self, *args, device=None, dtype=None):
        """Move/convert parameters and buffers in place (``to("cuda")``, ``to(ts.float64)``)."""
        device, dtype = parse_to_args(args, device, dtype)
        be = get_backend(device) if device is not None else None
        dtype = as_dtype(dtype)
        for t in list(self.parameters()) + [b for b in self.buffers() if isinstance(b, Tensor)]:
            _move(t, be, dtype)
        return self

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index: int = 0):
        return self.to(f"cuda:{index}")

    # -- calling ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        # Nodes made inside are tagged with the module's name, so the graph
        # drawer can collapse a whole layer into one box (detail="module").
        label = self._label()
        if self._parameters:
            # Names for the drawer, recorded now: the module may be a temporary.
            # A top-level module's own parameters go by their attribute names.
            path = label if self._parent is not None else ""
            for name, p in self._parameters.items():
                if p is not None:
                    p._called_as = (path, name)
        with scope(module=label):
            if self._forward_pre_hooks or self._forward_hooks:
                return self._hooked_forward(args, kwargs)
            return self.forward(*args, **kwargs)

    # -- hooks ------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before ``forward``; it may return new args (a
        tuple, or one value). With ``with_kwargs``: ``hook(module, args, kwargs)``,
        returning None or a pair (args, kwargs). ``prepend`` runs it before the
        hooks already registered. Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("register_forward_pre_hook", self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args, output)`` runs after ``forward``; a value it returns
        replaces the output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("register_forward_hook", self._forward_hooks, hook, prepend, with_kwargs)

    @staticmethod
    def _add_hook(name, hooks, hook, prepend, with_kwargs):
        if not callable(hook):
            raise TypeError(f"{name}: a hook must be callable, got {type(hook).__name__}")
        entry = (hook, bool(with_kwargs))
        hooks.insert(0, entry) if prepend else hooks.append(entry)
        return _HookHandle(hooks, entry)

    def _hooked_forward(self, args, kwargs):
        for hook, with_kwargs in list(self._forward_pre_hooks):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"{type(self).__name__}: a forward pre-hook with kwargs must return None or "
                            f"(args, kwargs), got {type(result).__name__}"
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(self._forward_hooks):
            result = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _label(self) -> str:
        """Dotted path from the outermost module ("encoder.lstm"), or the class name at the top."""
        parent = self._parent[0]() if self._parent else None
        return parent._qualify(self._parent[1]) if parent is not None else type(self).__name__

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, mod in self._modules.items():
            child = repr(mod).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def __deepcopy__(self, memo):
        """``copy.deepcopy(model)``: new parameters and buffers (same values, device, dtype),
        with their names pointing at the copy."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, None if k == "_parent" else copy.deepcopy(v, memo))
        for name, child in new._modules.items():
            if child is not None:
                object.__setattr__(child, "_parent", (weakref.ref(new), name))
        for name, p in new._parameters.items():
            if p is not None:
                p._owner = (weakref.ref(new), name)
        return new

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(self._buffers)


def _move(t, be, dtype):
    """Move a tensor's storage (and its grad) in place, so references stay valid."""
    if dtype is not None and t.dtype.kind == "f" and t.dtype != dtype:
        t._data = t._data.astype(dtype)
        if t.grad is not None:
            t.grad._data = t.grad._data.astype(dtype)
    if be is not None and be is not t._backend:
        t._data = be.from_host(t._backend.to_host(t._data))
        if t.grad is not None:
            t.grad._data = be.from_host(t._backend.to_host(t.grad._data))
            t.grad._backend = be
        t._backend = be
