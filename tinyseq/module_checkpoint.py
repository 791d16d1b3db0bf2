"""Whole modules in checkpoints, as data: ``ts.save(model, f)`` / ``ts.load(f)``.

A module is stored as its class path (``tinyseq.nn.recurrent.stack.LSTM``), the
arguments its constructor was called with (``Module`` records them when the
module is built), its children (the same, recursively) and its
``state_dict``. Loading calls the constructor again with those arguments,
rebuilds any child that was replaced after construction, and loads the
state dict: no code from the file ever runs, only constructors of classes
that are trusted:

- classes (and functions, such as an ``activation=``) defined in tinyseq;
- classes the user allowed, by object, with ``ts.serialization.add_safe_globals([MyModel])``
  or ``with ts.serialization.safe_globals([MyModel]): ...`` (PyTorch's names).

Anything else is refused, naming the class. Constructor arguments must be
plain data: None, bools, numbers, strings, lists, tuples and dicts of them,
tensors and arrays, dtypes, devices, modules, and trusted classes or
functions. Attributes set after construction that are not parameters,
buffers or children are not saved.
"""

from __future__ import annotations

import inspect
import sys
import threading
from contextlib import contextmanager

import numpy as np


class CheckpointError(ValueError):
    """A file that is not a readable tinyseq checkpoint (truncated, corrupt, or foreign)."""


_ALLOWED: dict = {}  # "module.qualname" -> object, from add_safe_globals
_local = threading.local()  # .stack: [{path: object}], from the safe_globals context manager


# -- the allow list (PyTorch's torch.serialization names) ------------------------------------
def _path_of(obj) -> str:
    """module.qualname; for a function made by a factory (qualname ``make.<locals>.fn``) but
    published under its own name in its module, module.name."""
    qual = getattr(obj, "__qualname__", "")
    if "<locals>" in qual:
        home = sys.modules.get(getattr(obj, "__module__", None) or "")
        name = getattr(obj, "__name__", "")
        if home is not None and getattr(home, name, None) is obj:
            return f"{obj.__module__}.{name}"
    return f"{obj.__module__}.{qual}"


def _entries(safe_globals):
    out = {}
    for g in safe_globals:
        if isinstance(g, tuple) and len(g) == 2:  # PyTorch also takes (object, "path") pairs
            g, path = g
        else:
            path = _path_of(g) if hasattr(g, "__qualname__") else None
        if path is None or not callable(g):
            raise TypeError(f"safe_globals: expected classes or functions, got {g!r}")
        out[path] = g
    return out


def add_safe_globals(safe_globals) -> None:
    """Allow ``load`` to rebuild these classes (and call these functions' names) from any file."""
    _ALLOWED.update(_entries(safe_globals))


def clear_safe_globals() -> None:
    """Forget everything ``add_safe_globals`` allowed."""
    _ALLOWED.clear()


def get_safe_globals() -> list:
    """What ``add_safe_globals`` allowed (not counting tinyseq's own classes, always allowed)."""
    return list(_ALLOWED.values())


@contextmanager
def safe_globals(safe_globals):
    """``with ts.serialization.safe_globals([MyModel]): model = ts.load(f)``: allow these
    classes for the loads inside the block (in this thread) only."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(_entries(safe_globals))
    try:
        yield
    finally:
        stack.pop()


def _allowed(path):
    for entries in reversed(getattr(_local, "stack", None) or []):
        if path in entries:
            return entries[path]
    return _ALLOWED.get(path)


# -- saving ---------------------------------------------------------------------------------
def encode_module(module, path, arrays, encode, with_state=True):
    """The JSON node for ``module``; ``encode(obj, path, arrays)`` stores tensors and plain data."""
    cls = type(module)
    node = {"class": _class_path(cls), "training": bool(module.training)}
    args, kwargs = module.__dict__.get("_init_args", ((), {}))
    if _is_container(module):
        args, kwargs = (), {}  # its modules are its children, saved below (its arguments may be a spent generator)
    names = _argument_names(cls, args)
    node["args"] = [_encode_arg(a, f"{path}/args/{i}", arrays, encode, cls, names[i]) for i, a in enumerate(args)]
    node["kwargs"] = [[k, _encode_arg(v, f"{path}/kwargs/{k}", arrays, encode, cls, k)] for k, v in kwargs.items()]
    node["children"] = [
        [name, None if child is None else encode_module(child, f"{path}/children/{name}", arrays, encode, False)]
        for name, child in module._modules.items()
    ]
    if with_state:
        node["state"] = encode(module.state_dict(), f"{path}/state" if path else "state", arrays)
        node["frozen"] = [name for name, p in module.named_parameters() if not p.requires_grad]
    return {"module": node}


def _is_container(module) -> bool:
    from .nn.containers import ModuleDict, ModuleList, Sequential

    return type(module) in (Sequential, ModuleList, ModuleDict)


def _class_path(cls) -> str:
    path = _path_of(cls)
    if "<locals>" in cls.__qualname__:
        raise TypeError(
            f"save: cannot save a {cls.__qualname__}: it is defined inside a function, so load could not find "
            "it again; define the class at the top level of a module"
        )
    return path


def _argument_names(cls, args):
    """Names of the positional arguments (for error messages)."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
    return [positional[i] if i < len(positional) else f"*{var}[{i - len(positional)}]" if var else f"#{i}"
            for i in range(len(args))]  # fmt: skip


def _encode_arg(value, path, arrays, encode, cls, name):
    from ._tensor import Tensor
    from .nn.module import Module

    if isinstance(value, Module):
        return encode_module(value, path, arrays, encode, with_state=False)
    if isinstance(value, np.dtype):
        return {"dtype": value.name}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"dtype": np.dtype(value).name}
    if type(value).__name__ == "device" and type(value).__module__.startswith("tinyseq"):
        return {"device": str(value)}
    if isinstance(value, (list, tuple)):
        items = [_encode_arg(v, f"{path}/{i}", arrays, encode, cls, name) for i, v in enumerate(value)]
        return {"tuple" if isinstance(value, tuple) else "list": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": [[k, _encode_arg(v, f"{path}/{k}", arrays, encode, cls, name)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str, Tensor, np.ndarray, np.generic)):
        return encode(value, path, arrays)
    if (inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value)) and hasattr(
        value, "__qualname__"
    ):
        path = _path_of(value)
        if "<locals>" in path or "<lambda>" in path:
            raise TypeError(
                f"save: cannot save {cls.__qualname__}: its constructor argument {name!r} is "
                f"{path}, a function or class made at run time; use one defined at the top level "
                "of a module"
            )
        return {"global": path}
    raise TypeError(
        f"save: cannot save {cls.__qualname__}: its constructor argument {name!r} is of type {type(value).__name__}; "
        "modules are saved as their constructor arguments, which must be None, bools, numbers, strings, "
        "lists/tuples/dicts of these, tensors, arrays, dtypes, devices, modules, classes or functions "
        "(or save model.state_dict() instead)"
    )


# -- loading --------------------------------------------------------------------------------
# Modules that moved: files saved before the move name the old home of a class.
_MOVED = {
    "tinyseq.nn.rnn_layers.": "tinyseq.nn.recurrent.stack.",
    "tinyseq.nn.rnn_cells.": "tinyseq.nn.recurrent.cells.",
    "tinyseq.nn.conv_recurrent.": "tinyseq.nn.recurrent.conv.",
    "tinyseq.tensor.": "tinyseq._tensor.",
}


def resolve(path, file_name, want_module=False):
    """The trusted object named ``path``: a tinyseq class or function, or one the user allowed."""
    for old, new in _MOVED.items():
        if path.startswith(old):
            path = new + path[len(old):]
    obj = _allowed(path)
    if obj is None and (path.startswith("tinyseq.") or path.startswith("tinyseq_gpu.")):
        obj = _import_tinyseq(path)
    if obj is None:
        short = path.rsplit(".", 1)[-1]
        raise CheckpointError(
            f"load: {file_name!r} needs {path}, which is not allowed: load rebuilds only tinyseq's classes and "
            f"those you allow. If you trust this file, allow it: with ts.serialization.safe_globals([{short}]): "
            f"ts.load(...)  (or ts.serialization.add_safe_globals([{short}]))"
        )
    if want_module:
        from .nn.module import Module

        if not (isinstance(obj, type) and issubclass(obj, Module)):
            raise CheckpointError(f"load: {file_name!r} names {path} as a module class, but it is not a Module")
    return obj


def _import_tinyseq(path):
    """tinyseq.<modules>.<qualname>, looked up among the tinyseq modules already imported
    (never importing one: a file must not be able to run a module's top level); None when
    nothing of that name exists."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get(".".join(parts[:cut]))
        if obj is None:
            continue
        for attr in parts[cut:]:
            if attr.startswith("__"):
                return None
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj if (inspect.isclass(obj) or callable(obj)) else None
    return None


def decode_module(node, decode, file_name, device=None, where="module"):
    """Rebuild the module described by ``node`` (the value of a {"module": ...} entry);
    ``decode(sub_node)`` turns stored data back into values. A malformed entry raises
    CheckpointError naming its place (``where``)."""
    _check_node(node, file_name, where)
    module = _build(node, decode, file_name)
    state = node.get("state")
    if state is not None:
        state = decode(state)
        _match_dtypes(module, state)
        module.load_state_dict(state)
    frozen = set(node.get("frozen", []))
    for name, p in module.named_parameters():
        p.requires_grad_(name not in frozen)
    _restore_training(module, node)
    if device is not None:
        module.to(device)
    return module


def _match_dtypes(module, state):
    """Give floating-point parameters and buffers the saved dtype (a model saved after
    ``.double()`` comes back in float64, as its constructor alone would not make it)."""
    from .nn.module import _move

    for prefix, mod in module.named_modules():
        for store in (mod._parameters, mod._buffers):
            for name, t in store.items():
                saved = state.get(f"{prefix}.{name}" if prefix else name)
                if t is not None and saved is not None and saved.dtype != t.dtype:
                    if saved.dtype.kind == "f" and t.dtype.kind == "f":
                        _move(t, None, saved.dtype)


def _check_node(node, file_name, where):
    """Every field of a module entry (and of its children's) has the shape save writes."""

    def bad(what):
        return CheckpointError(f"load: {file_name!r} has a malformed module entry at {where}: {what}")

    if not isinstance(node, dict) or not isinstance(node.get("class"), str):
        raise bad("expected an object with a 'class' name")
    if not isinstance(node.get("args", []), list):
        raise bad("'args' must be a list")
    for key in ("kwargs", "children"):
        pairs = node.get(key, [])
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
        ):
            raise bad(f"{key!r} must be a list of [name, value] pairs")
    if not isinstance(node.get("training", True), bool):
        raise bad("'training' must be true or false")
    frozen = node.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(n, str) for n in frozen):
        raise bad("'frozen' must be a list of parameter names")
    for name, child in node.get("children", []):
        if child is not None:
            if not isinstance(child, dict) or "module" not in child:
                raise bad(f"child {name!r} must be a module entry or null")
            _check_node(child["module"], file_name, f"{where}/children/{name}")


def _build(node, decode, file_name):
    _check_node(node, file_name, "module")
    cls = resolve(node["class"], file_name, want_module=True)
    args = [_decode_arg(a, decode, file_name) for a in node.get("args", [])]
    kwargs = {k: _decode_arg(v, decode, file_name) for k, v in node.get("kwargs", [])}
    try:
        module = cls(*args, **kwargs)
    except Exception as e:
        raise CheckpointError(f"load: {file_name!r}: rebuilding {node['class']} failed: {e}") from e
    _fix_children(module, node, decode, file_name)
    return module


def _fix_children(module, node, decode, file_name):
    """Make the rebuilt module's children match the saved ones: keep those the constructor
    made the same way (so weights it tied stay tied), rebuild those replaced after construction."""
    saved = dict((name, child) for name, child in node.get("children", []))
    for name in [n for n in module._modules if n not in saved]:
        delattr(module, name)
    for name, child_node in saved.items():
        current = module._modules.get(name)
        if child_node is None:
            if current is not None:
                module._modules[name] = None
            continue
        spec = child_node["module"]
        if current is not None and _same_construction(current, spec):
            _fix_children(current, spec, decode, file_name)
        else:
            setattr(module, name, _build(spec, decode, file_name))


def _same_construction(module, spec) -> bool:
    """Whether ``module`` was built with the class and arguments that ``spec`` records
    (array arguments compare by position only: their values come from the state dict)."""
    if _path_of(type(module)) != spec.get("class"):
        return False
    try:
        mine = encode_module(module, "", {}, _plain_or_array, with_state=False)["module"]
    except TypeError:
        return False
    return all(_without_arrays(mine.get(k)) == _without_arrays(spec.get(k)) for k in ("args", "kwargs"))


def _plain_or_array(value, path, arrays):
    """``encode`` for comparing constructions: plain data as is; a tensor, array or numpy scalar
    by its place only (its values come from the state dict)."""
    if value is None or (isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic)):
        return value
    return {"ndarray": path}


def _without_arrays(node):
    if isinstance(node, dict):
        if any(k in node for k in ("tensor", "ndarray", "npscalar")):
            return "<array>"
        if "module" in node:  # a module argument: its class and arguments, not its children
            spec = node["module"]
            return ("module", spec.get("class"), _without_arrays(spec.get("args")), _without_arrays(spec.get("kwargs")))
        return {k: _without_arrays(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_arrays(v) for v in node]
    return node


def _decode_arg(node, decode, file_name):
    if isinstance(node, dict) and len(node) == 1:
        (kind, value), = node.items()
        if kind == "module":
            return _build(value, decode, file_name)
        if kind == "dtype":
            return np.dtype(value)
        if kind == "device":
            return value
        if kind == "global":
            return resolve(value, file_name)
        if kind in ("list", "tuple"):
            items = [_decode_arg(v, decode, file_name) for v in value]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            return {k: _decode_arg(v, decode, file_name) for k, v in value}
    return decode(node)


def _restore_training(module, node):
    object.__setattr__(module, "training", bool(node.get("training", True)))
    for name, child_node in node.get("children", []):
        child = module._modules.get(name)
        if child is not None and child_node is not None:
            _restore_training(child, child_node["module"])
