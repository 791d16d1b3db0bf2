"""The one list of public ops. Each line names an op and says where it appears:

    op(name, fn, method=..., function=..., operators=...)

- ``function``: ``ts.<name>`` (and ``tinyseq.ops.<name>``), listed in ``ts.__all__``;
- ``method``: ``Tensor.<name>``, the function itself with the tensor as its first
  argument (or, when ``method`` is a function, that one: ``Tensor.where``'s order);
- ``operators``: the Tensor's dunders that run it (``__radd__`` and the other
  reflected ones swap the operands).

Adding an op takes its Function and wrapper in a family file plus one line here
(and a device case in tests/device_cases.py, keyed by the same name). The table
names each op's family file: C convert, E elementwise, R reduce, S shape, M matmul;
the PyTorch-parity ops are declared the same way in ``extra/__init__.py``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable, NamedTuple

from . import convert as C
from . import elementwise as E
from . import matmul as M
from . import reduce as R
from . import shape as S


class Op(NamedTuple):
    name: str
    fn: Callable
    method: bool | Callable
    function: bool
    operators: tuple


OPS: dict = {}  # name -> Op, in declaration order
_namespaces: list = []  # (module globals, its __all__ or None) that install() wired
_classes: list = []  # Tensor classes that install() wired
_wired: dict = {}  # (id of a namespace or class, attribute) -> the op that set it


def op(name, fn, method=False, function=True, operators=()) -> Callable:
    """Declare a public op (see the module notes); wires it into whatever is already installed."""
    entry = OPS[name] = Op(name, fn, method, function, tuple(operators))
    try:
        for namespace, names in _namespaces:
            _wire_names(namespace, names, entry)
        for cls in _classes:
            _wire_class(cls, entry)
    except ValueError:
        remove(name)  # a name already taken: nothing of this op stays
        raise
    return fn


def remove(name) -> None:
    """Undo ``op(name, ...)`` everywhere it was wired."""
    entry = OPS.pop(name)
    for namespace, names in _namespaces:
        if _wired.pop((id(namespace), name), None) == name:
            del namespace[name]
            if names is not None:
                names.remove(name)
    for cls in _classes:
        for attr in ((name,) if entry.method else ()) + entry.operators:
            if _wired.pop((id(cls), attr), None) == name:
                delattr(cls, attr)


def install(namespace=None, names=None, tensor=None) -> None:
    """Wire every op: functions into ``namespace`` (a module's globals) and its ``names``
    (``__all__``), methods and operators onto the ``tensor`` class."""
    if namespace is not None:
        _namespaces.append((namespace, names))
    if tensor is not None:
        _classes.append(tensor)
    for entry in OPS.values():
        if namespace is not None:
            _wire_names(namespace, names, entry)
        if tensor is not None:
            _wire_class(tensor, entry)


def _claim(owner, attr, taken, name) -> None:
    """Refuse to replace what this op did not put there (``ts.tensor``, ``Tensor.shape``)."""
    key = (id(owner), attr)
    if taken and _wired.get(key) != name:
        where = owner.get("__name__") if isinstance(owner, dict) else owner.__name__
        raise ValueError(f"op {name!r}: {where}.{attr} is already defined, and not by this op")
    _wired[key] = name


def _wire_names(namespace, names, entry) -> None:
    if entry.function:
        # a submodule of the same name (ops.matmul) gives way to the function, as an import would
        taken = entry.name in namespace and not isinstance(namespace[entry.name], ModuleType)
        _claim(namespace, entry.name, taken, entry.name)
        namespace[entry.name] = entry.fn
        if names is not None and entry.name not in names:
            names.append(entry.name)


_REFLECTED = {"__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rpow__", "__rfloordiv__", "__rmod__",
              "__rmatmul__"}  # fmt: skip


def _wire_class(cls, entry) -> None:
    fn = entry.fn
    attrs = {}
    if entry.method:
        # a plain function binds as a method: no wrapper call per use, and help() shows its shapes
        attrs[entry.name] = fn if entry.method is True else entry.method
    for dunder in entry.operators:
        attrs[dunder] = _swapped(fn) if dunder in _REFLECTED else fn
    for attr, value in attrs.items():
        _claim(cls, attr, attr in cls.__dict__, entry.name)
        setattr(cls, attr, value)


def _swapped(fn):
    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = fn.__name__
    return reflected


def _where_method(self, condition, other):
    """``self`` where ``condition`` else ``other`` (PyTorch's method order of ``ts.where``)."""
    return E.where(condition, self, other)


# -- core: what autograd, the recurrent layers, viz and the device switch use --------------
op("add", E.add, method=True, operators=("__add__", "__radd__"))
op("sub", E.sub, method=True, operators=("__sub__", "__rsub__"))
op("mul", E.mul, method=True, operators=("__mul__", "__rmul__"))
op("div", E.div, method=True, operators=("__truediv__", "__rtruediv__"))
op("true_divide", E.div, method=True)
op("neg", E.neg, method=True, operators=("__neg__",))
op("exp", E.exp, method=True)
op("log", E.log, method=True)
op("tanh", E.tanh, method=True)
op("sigmoid", E.sigmoid, method=True)
op("relu", E.relu, method=True)
op("where", E.where, method=_where_method)
op("eq", E.eq, method=True, operators=("__eq__",))
op("ne", E.ne, method=True, operators=("__ne__",))
op("lt", E.lt, method=True, operators=("__lt__",))
op("le", E.le, method=True, operators=("__le__",))
op("gt", E.gt, method=True, operators=("__gt__",))
op("ge", E.ge, method=True, operators=("__ge__",))
op("logical_and", E.logical_and, method=True, operators=("__and__",))
op("logical_or", E.logical_or, method=True, operators=("__or__",))
op("clone", C.clone, method=True)
op("to", C.to, method=True, function=False)
op("sum", R.sum, method=True)
op("mean", R.mean, method=True)
op("amax", R.amax, method=True)
op("amin", R.amin, method=True)
op("logsumexp", R.logsumexp, method=True)
op("softmax", R.softmax, method=True)
op("log_softmax", R.log_softmax, method=True)
op("reshape", S.reshape, method=True)
op("view", S.view, method=True)
op("reshape_as", S.reshape_as, method=True, function=False)
op("view_as", S.view_as, method=True, function=False)
op("flatten", S.flatten, method=True)
op("permute", S.permute, method=True)
op("transpose", S.transpose, method=True)
op("swapaxes", S.transpose, method=True)
op("squeeze", S.squeeze, method=True)
op("unsqueeze", S.unsqueeze, method=True)
op("expand", S.expand, method=True)
op("expand_as", S.expand_as, method=True, function=False)
op("broadcast_to", S.broadcast_to, method=True)
op("getitem", S.getitem, function=False, operators=("__getitem__",))
op("cat", S.cat)
op("concatenate", S.cat)
op("stack", S.stack)
op("split", S.split, method=True)
op("chunk", S.chunk, method=True)
op("matmul", M.matmul, method=True, operators=("__matmul__", "__rmatmul__"))
op("mm", M.mm, method=True)
op("bmm", M.bmm, method=True)
