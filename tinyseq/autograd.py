"""Reverse-mode autograd: Function nodes, grad mode, time-step scopes, backward walk.

A ``Function`` runs ``forward`` on raw arrays and ``backward`` maps output
gradients to input gradients. When any input needs a gradient, ``apply``
keeps the Function as a graph node. A node holds its *parents*, not tensors:

    (fn, i)        input i-th output of another node
    (leaf, -1)     a leaf tensor that requires grad (gradients accumulate there)
    (None, shape)  a constant; only its shape is kept (for drawing)

so intermediate activations die with their tensors unless a node saved them
explicitly (``self.saved``). Nodes never reference their outputs, so graphs
hold no reference cycles and are freed by reference counting alone.

``backward`` pops nodes from a heap keyed by generation (a node's generation is
one more than its deepest parent), so every node runs after all of its
consumers, without recursion: 100,000-step chains are fine.
"""

from __future__ import annotations

import heapq
import math

_state = {"grad": True, "anomaly": False}
_scope: list = [()]  # current scope: a tuple of (key, value) pairs, innermost last


class no_grad:
    """Context manager (or decorator) that records no graph."""

    _mode = False

    def __enter__(self):
        self._prev = _state["grad"]
        _state["grad"] = self._mode

    def __exit__(self, *exc):
        _state["grad"] = self._prev

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)

        wrapper.__wrapped__ = func
        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = getattr(func, "__doc__", None)
        return wrapper


class enable_grad(no_grad):
    """Context manager (or decorator) that records the graph, even inside no_grad."""

    _mode = True


def is_grad_enabled() -> bool:
    return _state["grad"]


class detect_anomaly:
    """Context manager: the first NaN/inf made in forward or backward raises,
    naming the op and, inside a recurrent loop, its scope (layer, direction, t)."""

    def __enter__(self):
        self._prev = _state["anomaly"]
        _state["anomaly"] = True

    def __exit__(self, *exc):
        _state["anomaly"] = self._prev


class scope:
    """Tag every node created inside with ``key=value`` pairs (e.g. t=3).

    Scopes nest: ``scope(layer=0, direction=0)`` around ``scope(t=3)`` gives
    nodes the tags (("layer", 0), ("direction", 0), ("t", 3)). The graph
    drawer clusters nodes by these tags."""

    def __init__(self, **tags):
        self.tags = tuple(tags.items())

    def __enter__(self):
        _scope.append(_scope[-1] + self.tags)
        return self

    def __exit__(self, *exc):
        _scope.pop()


def current_scope() -> tuple:
    return _scope[-1]


def describe_scope(tags: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags if k != "cell")


class OpError(ValueError):
    """A bad-input error raised by an op, already naming the op and the shapes."""


class Function:
    """One differentiable op. Subclasses define::

        forward(self, *arrays, **params) -> array or tuple of arrays
        backward(self, *grads) -> grad or tuple of grads, one per input (None: no grad)

    ``self.saved`` holds the arrays backward needs; it is dropped after
    backward unless the graph is retained. ``self.needs(i)`` says whether input
    ``i`` wants a gradient, so backward can skip work.
    """

    saved = ()
    parents = ()
    out_meta = ()
    generation = 0
    scope = ()
    backend = None
    hooks = None

    @classmethod
    def apply(cls, *inputs, **params):
        be = inputs[0]._backend
        for t in inputs:
            if t._backend is not be:
                names = ", ".join(str(x.shape) + "@" + x._backend.name for x in inputs)
                raise RuntimeError(
                    f"{cls.__name__.lower()}: tensors on different devices "
                    f"({be.name} and {t._backend.name}): {names}"
                )
        fn = cls()
        fn.backend = be
        try:
            out = fn.forward(*[t.data for t in inputs], **params)
        except OpError:
            raise
        except (ValueError, IndexError, TypeError) as e:
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise type(e)(f"{fn.name.lower()}: inputs of shapes {shapes}: {e}") from None
        multi = isinstance(out, tuple)
        if _state["anomaly"]:
            _check_finite(fn, out if multi else (out,), "forward")
        from .tensor import Tensor

        if not (_state["grad"] and any(t.requires_grad for t in inputs)):
            if multi:
                return tuple(Tensor._make(o, be) for o in out)
            return Tensor._make(out, be)
        parents = []
        gen = 0
        for t in inputs:
            ctx = t._ctx
            if ctx is not None:
                parents.append((ctx, t._idx))
                if ctx.generation > gen:
                    gen = ctx.generation
            elif t.requires_grad:
                parents.append((t, -1))
            else:
                parents.append((None, t.data.shape))
        fn.parents = parents
        fn.generation = gen + 1
        fn.scope = _scope[-1]
        if multi:
            fn.out_meta = tuple((o.shape, o.dtype) for o in out)
            return tuple(Tensor._make(o, be, fn, i) for i, o in enumerate(out))
        fn.out_meta = ((out.shape, out.dtype),)
        return Tensor._make(out, be, fn, 0)

    @property
    def xp(self):
        return self.backend.xp

    def needs(self, i: int) -> bool:
        return self.parents[i][0] is not None

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        self.saved = None


def _check_finite(fn, arrays, phase):
    for a in arrays:
        if a is None or a.dtype.kind not in "fc":
            continue
        if not bool(fn.xp.isfinite(a).all()):
            where = describe_scope(_scope[-1] if phase == "forward" else fn.scope)
            where = f" at {where}" if where else ""
            raise FloatingPointError(
                f"detect_anomaly: {fn.name} produced NaN or inf in its {phase} pass{where} "
                f"(output shape {tuple(a.shape)})"
            )


def _reduce_to(g, shape):
    """Sum a broadcast gradient back to ``shape`` (the one place this happens)."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1
    )
    g = g.sum(axis=axes, keepdims=True) if axes else g
    return g.reshape(shape)


def _accumulate_leaf(leaf, g):
    from .tensor import Tensor

    g = _reduce_to(g, leaf.data.shape)
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if leaf.grad is None:
        # A backward output may be a view shared with other gradients; copy so
        # in-place updates of one .grad never reach another.
        leaf.grad = Tensor._make(g.copy(), leaf._backend)
    else:
        leaf.grad.data = leaf.grad.data + g


def backward(roots, grads, retain_graph=False, accumulate=True, observer=None):
    """Backpropagate ``grads`` (arrays) from ``roots`` (tensors).

    Leaves that require grad receive ``.grad`` (when ``accumulate``).
    ``observer(fn, out_grads)``, if given, sees each node's output gradients
    before its backward runs (the graph drawer's gradient-flow view uses it).
    """
    pending: dict = {}
    heap: list = []
    for root, g in zip(roots, grads):
        fn = root._ctx
        if fn is None:
            if accumulate and root.requires_grad:
                _accumulate_leaf(root, g)
            continue
        slot = pending.get(fn)
        if slot is None:
            slot = pending[fn] = [None] * len(fn.out_meta)
            heapq.heappush(heap, (-fn.generation, id(fn), fn))
        slot[root._idx] = g if slot[root._idx] is None else slot[root._idx] + g
    anomaly = _state["anomaly"]
    while heap:
        fn = heapq.heappop(heap)[2]
        out_grads = pending.pop(fn)
        if fn.saved is None:
            raise RuntimeError(
                f"backward: trying to backward through {fn.name} a second time; its saved "
                "arrays were freed after the first backward. Pass retain_graph=True to the "
                "first backward() if you need to call it twice."
            )
        xp = fn.backend.xp
        for i, g in enumerate(out_grads):
            if g is None:
                shape, dtype = fn.out_meta[i]
                out_grads[i] = xp.zeros(shape, dtype=dtype)
        if fn.hooks:
            for i, hook_list in fn.hooks.items():
                for hook in hook_list:
                    new = hook(out_grads[i])
                    if new is not None:
                        out_grads[i] = new
        if observer is not None:
            observer(fn, out_grads)
        in_grads = fn.backward(*out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if anomaly:
            _check_finite(fn, in_grads, "backward")
        if not retain_graph:
            fn.release()
        for (parent, idx), g in zip(fn.parents, in_grads):
            if parent is None or g is None:
                continue
            if idx < 0:
                if accumulate:
                    _accumulate_leaf(parent, g)
                continue
            g = _reduce_to(g, parent.out_meta[idx][0])
            slot = pending.get(parent)
            if slot is None:
                slot = pending[parent] = [None] * len(parent.out_meta)
                heapq.heappush(heap, (-parent.generation, id(parent), parent))
                slot[idx] = g
            elif slot[idx] is None:
                slot[idx] = g
            else:
                slot[idx] = slot[idx] + g


def numel(shape) -> int:
    return math.prod(shape)
