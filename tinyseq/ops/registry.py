"""The one list of public ops. Each line names an op and says where it appears:

    op(name, fn, method=..., function=..., operators=...)

- ``function``: ``ts.<name>`` (and ``tinyseq.ops.<name>``), listed in ``ts.__all__``;
- ``method``: ``Tensor.<name>``, the function itself with the tensor as its first
  argument (or, when ``method`` is a function, that one: ``Tensor.where``'s order);
- ``operators``: the Tensor's dunders that run it (``__radd__`` and the other
  reflected ones swap the operands).

Adding an op takes its Function and wrapper in a family file plus one line here
(and a device case in tests/device_cases.py, keyed by the same name).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ..factories import multinomial
from .convert import clone, to
from .elementwise import (
    abs,
    add,
    clamp,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    logical_and,
    logical_or,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    square,
    sub,
    tanh,
    where,
)  # fmt: skip
from .extra.einsum import einsum
from .extra.math import (
    allclose,
    cos,
    floor_divide,
    isclose,
    isfinite,
    isnan,
    log1p,
    prod,
    remainder,
    sign,
    sin,
    tril,
    triu,
)  # fmt: skip
from .extra.select import argsort, cumsum, flip, gather, index_select, narrow, repeat, sort, topk, unbind
from .extra.special import erf
from .matmul import bmm, matmul, mm
from .reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    softmax,
    std,
    sum,
    var,
)  # fmt: skip
from .shape import (
    broadcast_to,
    cat,
    chunk,
    expand,
    expand_as,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    reshape_as,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
    view_as,
)  # fmt: skip


class Op(NamedTuple):
    name: str
    fn: Callable
    method: bool | Callable
    function: bool
    operators: tuple


OPS: dict = {}  # name -> Op, in declaration order
_namespaces: list = []  # (module globals, its __all__ or None) that install() wired
_classes: list = []  # Tensor classes that install() wired


def op(name, fn, method=False, function=True, operators=()) -> Callable:
    """Declare a public op (see the module notes); wires it into whatever is already installed."""
    entry = OPS[name] = Op(name, fn, method, function, tuple(operators))
    for namespace, names in _namespaces:
        _put(namespace, names, entry)
    for cls in _classes:
        _attach(cls, entry)
    return fn


def remove(name) -> None:
    """Undo ``op(name, ...)`` everywhere it was wired."""
    entry = OPS.pop(name)
    for namespace, names in _namespaces:
        if entry.function:
            namespace.pop(name, None)
            if names is not None and name in names:
                names.remove(name)
    for cls in _classes:
        for attr in ((name,) if entry.method else ()) + entry.operators:
            if attr in cls.__dict__:
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
            _put(namespace, names, entry)
        if tensor is not None:
            _attach(tensor, entry)


def _put(namespace, names, entry) -> None:
    if entry.function:
        namespace[entry.name] = entry.fn
        if names is not None and entry.name not in names:
            names.append(entry.name)


_REFLECTED = {"__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rpow__", "__rfloordiv__", "__rmod__",
              "__rmatmul__"}  # fmt: skip


def _attach(cls, entry) -> None:
    fn = entry.fn
    if entry.method:
        # a plain function binds as a method: no wrapper call per use, and help() shows its shapes
        setattr(cls, entry.name, fn if entry.method is True else entry.method)
    for dunder in entry.operators:
        setattr(cls, dunder, _swapped(fn) if dunder in _REFLECTED else fn)


def _swapped(fn):
    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = fn.__name__
    return reflected


def _where_method(self, condition, other):
    """``self`` where ``condition`` else ``other`` (PyTorch's method order of ``ts.where``)."""
    return where(condition, self, other)


# -- elementwise -------------------------------------------------------------------
op("add", add, method=True, operators=("__add__", "__radd__"))
op("sub", sub, method=True, operators=("__sub__", "__rsub__"))
op("mul", mul, method=True, operators=("__mul__", "__rmul__"))
op("div", div, method=True, operators=("__truediv__", "__rtruediv__"))
op("true_divide", div, method=True)
op("pow", pow, method=True, operators=("__pow__", "__rpow__"))
op("neg", neg, method=True, operators=("__neg__",))
op("abs", abs, method=True, operators=("__abs__",))
op("square", square, method=True)
op("exp", exp, method=True)
op("log", log, method=True)
op("sqrt", sqrt, method=True)
op("tanh", tanh, method=True)
op("sigmoid", sigmoid, method=True)
op("relu", relu, method=True)
op("maximum", maximum, method=True)
op("minimum", minimum, method=True)
op("clamp", clamp, method=True)
op("clip", clamp, method=True)
op("where", where, method=_where_method)
op("masked_fill", masked_fill, method=True)
op("eq", eq, method=True, operators=("__eq__",))
op("ne", ne, method=True, operators=("__ne__",))
op("lt", lt, method=True, operators=("__lt__",))
op("le", le, method=True, operators=("__le__",))
op("gt", gt, method=True, operators=("__gt__",))
op("ge", ge, method=True, operators=("__ge__",))
op("logical_and", logical_and, method=True, operators=("__and__",))
op("logical_or", logical_or, method=True, operators=("__or__",))
op("clone", clone, method=True)
op("to", to, method=True, function=False)
# -- reductions --------------------------------------------------------------------
op("sum", sum, method=True)
op("mean", mean, method=True)
op("max", max, method=True)
op("min", min, method=True)
op("amax", amax, method=True)
op("amin", amin, method=True)
op("argmax", argmax, method=True)
op("argmin", argmin, method=True)
op("any", any, method=True)
op("all", all, method=True)
op("var", var, method=True)
op("std", std, method=True)
op("norm", norm, method=True)
op("logsumexp", logsumexp, method=True)
op("softmax", softmax, method=True)
op("log_softmax", log_softmax, method=True)
# -- shapes ------------------------------------------------------------------------
op("reshape", reshape, method=True)
op("view", view, method=True)
op("reshape_as", reshape_as, method=True, function=False)
op("view_as", view_as, method=True, function=False)
op("flatten", flatten, method=True)
op("permute", permute, method=True)
op("transpose", transpose, method=True)
op("swapaxes", transpose, method=True)
op("squeeze", squeeze, method=True)
op("unsqueeze", unsqueeze, method=True)
op("expand", expand, method=True)
op("expand_as", expand_as, method=True, function=False)
op("broadcast_to", broadcast_to, method=True)
op("getitem", getitem, function=False, operators=("__getitem__",))
op("cat", cat)
op("concatenate", cat)
op("stack", stack)
op("split", split, method=True)
op("chunk", chunk, method=True)
op("pad", pad)
# -- products ----------------------------------------------------------------------
op("matmul", matmul, method=True, operators=("__matmul__", "__rmatmul__"))
op("mm", mm, method=True)
op("bmm", bmm, method=True)
# -- extra: PyTorch parity (ops/extra/) ----------------------------------------------
op("floor_divide", floor_divide, method=True, operators=("__floordiv__", "__rfloordiv__"))
op("remainder", remainder, method=True, operators=("__mod__", "__rmod__"))
op("log1p", log1p, method=True)
op("sin", sin, method=True)
op("cos", cos, method=True)
op("sign", sign, method=True)
op("erf", erf, method=True)
op("isnan", isnan, method=True)
op("isfinite", isfinite, method=True)
op("isclose", isclose, method=True)
op("allclose", allclose, method=True)
op("prod", prod, method=True)
op("tril", tril, method=True)
op("triu", triu, method=True)
op("flip", flip, method=True)
op("narrow", narrow, method=True)
op("unbind", unbind, method=True)
op("index_select", index_select, method=True)
op("gather", gather, method=True)
op("sort", sort, method=True)
op("argsort", argsort, method=True)
op("topk", topk, method=True)
op("cumsum", cumsum, method=True)
op("repeat", repeat, method=True)
op("einsum", einsum)
op("multinomial", multinomial, method=True)
