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

``backward`` pops nodes from a heap, newest first (a node is made after its
inputs, so every node runs after all of its consumers), without recursion:
100,000-step chains are fine. Newest first, not deepest first: the transpose of
a Linear's weight runs right after the product that used it, so its gradient
is ready early (DistributedDataParallel starts sending it), not at the end.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import itertools
import threading

from .post_hooks import _post_hooked, count_down, count_hooked_edges, run_post_hooks


class _EngineState:
    """What the context managers change: grad mode, anomaly mode and the scope stack
    (tuples of (key, value) pairs, innermost last). One per thread, as in PyTorch: a
    thread that evaluates under no_grad leaves another thread's training graph alone."""

    __slots__ = ("grad", "anomaly", "scope", "saved_modes")

    def __init__(self):
        self.grad = True
        self.anomaly = False
        self.scope = [()]
        # the modes to restore, one per open no_grad/enable_grad/detect_anomaly: kept here,
        # not on the context object, so one object may be entered by several threads at once
        self.saved_modes = []


class _PerThread(threading.local):
    def __init__(self):  # runs once in each thread that touches the engine
        self.state = _EngineState()


_local = _PerThread()

# Creation order of graph nodes: backward's order (not id(), an address that differs
# between runs), so gradients sum in the same order every run.
_creation = itertools.count()


class no_grad:
    """Context manager (or decorator, with or without parentheses) that records no graph."""

    _mode = False

    def __new__(cls, func=None):
        if func is not None:  # used as @no_grad, without parentheses
            return super().__new__(cls)(func)
        return super().__new__(cls)

    def __enter__(self):
        st = _local.state
        st.saved_modes.append(st.grad)
        st.grad = self._mode

    def __exit__(self, *exc):
        st = _local.state
        st.grad = st.saved_modes.pop()

    def __call__(self, func):
        mode = type(self)
        if inspect.isgeneratorfunction(func):
            # the body runs at each next(), long after the call returned: switch the
            # mode around every resumption, and give the caller's mode back in between
            @functools.wraps(func)
            def generator(*args, **kwargs):
                gen = func(*args, **kwargs)
                try:
                    with mode():
                        item = next(gen)
                    while True:
                        try:
                            sent = yield item
                        except GeneratorExit:
                            with mode():
                                gen.close()
                            raise
                        except BaseException as e:  # thrown in by the caller: the body sees it
                            with mode():
                                item = gen.throw(e)
                        else:
                            with mode():
                                item = gen.send(sent)
                except StopIteration as stop:
                    return stop.value

            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode():
                return func(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager (or decorator) that records the graph, even inside no_grad."""

    _mode = True


def is_grad_enabled() -> bool:
    return _local.state.grad


def is_anomaly_enabled() -> bool:
    return _local.state.anomaly


class detect_anomaly:
    """Context manager: the first NaN/inf made in forward or backward raises,
    naming the op and, inside a recurrent loop, its scope (layer, direction, t)."""

    def __enter__(self):
        st = _local.state
        st.saved_modes.append(st.anomaly)
        st.anomaly = True

    def __exit__(self, *exc):
        st = _local.state
        st.anomaly = st.saved_modes.pop()


class scope:
    """Tag every node created inside with ``key=value`` pairs (e.g. t=3).

    Scopes nest: ``scope(layer=0, direction=0)`` around ``scope(t=3)`` gives
    nodes the tags (("layer", 0), ("direction", 0), ("t", 3)). The graph
    drawer clusters nodes by these tags."""

    def __init__(self, **tags):
        self.tags = tuple(tags.items())

    def __enter__(self):
        stack = _local.state.scope
        stack.append(stack[-1] + self.tags)
        return self

    def __exit__(self, *exc):
        _local.state.scope.pop()


def current_scope() -> tuple:
    return _local.state.scope[-1]


def describe_scope(tags: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags if k != "cell")


class OpError(ValueError):
    """A bad-input error raised by an op, already naming the op and the shapes."""


def _raise_devices(name, inputs):
    devices = list(dict.fromkeys(t._backend.name for t in inputs))
    shapes = ", ".join(f"{t.shape}@{t._backend.name}" for t in inputs)
    raise RuntimeError(f"{name}: tensors on different devices ({' and '.join(devices)}): {shapes}")


def _explain(name, inputs, error) -> str:
    """An array library's error, restated with the op's name and its input shapes."""
    shapes = [tuple(t.shape) for t in inputs]
    if "broadcast" in str(error) and len(shapes) > 1:
        return f"{name}: shapes {' and '.join(map(str, shapes))} cannot be broadcast together"
    return f"{name}: inputs of shapes {', '.join(map(str, shapes))}: {error}"


class Function:
    """One differentiable op. Subclasses define::

        forward(self, *arrays, **params) -> array or tuple of arrays
        backward(self, *grads) -> grad or tuple of grads, one per input (None: no grad)

    ``self.saved`` holds the arrays backward needs; it is dropped after
    backward unless the graph is retained. ``self.needs(i)`` says whether input
    ``i`` wants a gradient, so backward can skip work.

    ``fresh_grads = True`` promises that backward returns arrays made for that
    call alone (no views of its inputs, of its saved arrays or of each other):
    the engine then keeps a leaf's first gradient without the defensive copy,
    and sums another gradient of the same tensor into them in place.
    """

    fresh_grads = False
    saved = ()
    parents = ()
    out_meta = ()
    generation = 0
    seq = 0
    scope = ()
    backend = None
    hooks = None
    # Indices of the inputs whose arrays ``forward`` keeps for backward (negative: from the
    # end). ``apply`` keeps those inputs' tensors, and backward first checks that none was
    # changed in place after this node was made (an optimizer step before a retained
    # graph's second backward): that raises instead of giving a wrong gradient, if
    # ``uses_saved_input`` says that backward reads the array (a product reads each factor for
    # the other's gradient only).
    saved_inputs = ()
    versions = None  # the input tensors, when ``saved_inputs`` names some
    # True when ``forward`` keeps its own output(s) for backward (exp, tanh, sigmoid, ...):
    # ``apply`` then gives the outputs version counters and keeps them in ``out_versions``,
    # so that an in-place change through ``detach()`` or a view is caught as for inputs.
    saves_outputs = False
    out_versions = None
    view = False  # True: the outputs are views of input 0, and share its version counter

    @classmethod
    def apply(cls, *inputs, **params):
        """Run ``forward`` on the inputs' arrays -> Tensor (or a tuple of them), and
        record this op as a graph node when grad mode is on and an input requires grad."""
        be = inputs[0]._backend
        # One pass over the inputs gathers both the arrays and the would-be parents:
        # this runs once per op, so it is kept to plain loops and local names.
        arrays = []
        parents = []
        gen = 0
        track = False
        for t in inputs:
            if t._backend is not be:
                _raise_devices(cls.__name__.lower(), inputs)
            data = t._data
            arrays.append(data)
            ctx = t._ctx
            if ctx is not None:
                parents.append((ctx, t._idx))
                if ctx.generation > gen:
                    gen = ctx.generation
            elif t.requires_grad:
                parents.append((t, -1))
            else:
                parents.append((None, data.shape))
            if t.requires_grad:
                track = True
        fn = cls()
        fn.backend = be
        try:
            out = fn.forward(*arrays, **params)
        except OpError:
            raise
        except (ValueError, IndexError, TypeError) as e:
            raise type(e)(_explain(fn.name.lower(), inputs, e)) from None
        multi = out.__class__ is tuple
        st = _local.state
        if st.anomaly:
            _check_finite(fn, out if multi else (out,), "forward")
        make = inputs[0]._make  # the engine makes tensors the way its inputs do
        if not (track and st.grad):
            res = tuple([make(o, be) for o in out]) if multi else make(out, be)
            if fn.view:
                _share_version(inputs[0], res)
            return res
        fn.parents = parents
        fn.generation = gen + 1
        fn.seq = next(_creation)
        fn.scope = st.scope[-1]
        if fn.saved_inputs:
            fn.versions = inputs
        if multi:
            meta = []
            tensors = []
            i = 0
            for o in out:
                meta.append((o.shape, o.dtype))
                tensors.append(make(o, be, fn, i))
                i += 1
            fn.out_meta = tuple(meta)
            res = tuple(tensors)
        else:
            fn.out_meta = ((out.shape, out.dtype),)
            res = make(out, be, fn, 0)
        if fn.view:
            _share_version(inputs[0], res)
        elif fn.saves_outputs:
            fn.out_versions = [t._version_counter() for t in res] if multi else [res._version_counter()]
        return res

    def record(self, parents, generation, out_meta, tags) -> None:
        """Make this op, whose forward has already run, a graph node by hand: what
        ``apply`` does, for a caller that knows the parents without looking at
        tensors (the recurrent layers' time loop). ``tags``: its whole scope, the
        current one and its own, as ``scope(**own)`` around ``apply`` would give."""
        self.parents = parents
        self.generation = generation
        self.out_meta = out_meta
        self.seq = next(_creation)
        self.scope = tags

    @property
    def xp(self):
        return self.backend.xp

    def needs(self, i: int) -> bool:
        return self.parents[i][0] is not None

    def uses_saved_input(self, i: int) -> bool:
        """Whether backward reads the saved array of input ``i`` (one of ``saved_inputs``)."""
        return True

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        self.saved = None


_release = Function.release


def stamp() -> int:
    """A mark of "now" on the clock that numbers graph nodes (``Function.seq``): a tensor's
    in-place change records one, so a change after a node was made has a larger mark."""
    return next(_creation)


def _share_version(source, outputs) -> None:
    """Views see in-place changes of the tensor they view, and it theirs (as in PyTorch)."""
    shared = source._version_counter()
    if outputs.__class__ is tuple:
        for t in outputs:
            t._version = shared
    else:
        outputs._version = shared


def check_versions(fn) -> None:
    """Raise if an input or output array that ``fn`` saved was changed in place after
    ``fn`` was made."""
    if fn.out_versions is not None:
        for i, changed in enumerate(fn.out_versions):
            if changed[0] > fn.seq:
                raise RuntimeError(
                    f"backward: {fn.name} needs its output {i} (shape {fn.out_meta[i][0]}) as it was "
                    "in the forward pass, but that tensor (or a view or detach() of it) was modified "
                    "in place since. Change a clone() instead, or make the change before the op."
                )
    inputs = fn.versions
    if inputs is None:
        return
    for i in fn.saved_inputs:
        changed = inputs[i]._version
        if changed is not None and changed[0] > fn.seq and fn.uses_saved_input(i):
            raise RuntimeError(
                f"backward: {fn.name} needs its input {i % len(inputs)} (shape {inputs[i].shape}) as it was "
                "in the forward pass, but that tensor was modified in place since. An optimizer step or "
                "another in-place update between forward and backward does this: call backward before "
                "updating, or run the forward again (in truncated BPTT, detach() the state between "
                "chunks instead of retain_graph=True)."
            )


def _check_finite(fn, arrays, phase):
    for a in arrays:
        if a is None or a.dtype.kind not in "fc":
            continue
        a = dense(a)
        finite = fn.xp.isfinite(a)
        if not bool(finite.all()):
            where = describe_scope(_local.state.scope[-1] if phase == "forward" else fn.scope)
            where = f" at {where}" if where else ""
            what = "output" if phase == "forward" else "input gradient"
            first = tuple(int(i) for i in fn.xp.argwhere(~finite)[0])  # for a (T, ...) output, [0] is t
            raise FloatingPointError(
                f"detect_anomaly: {fn.name} produced NaN or inf in its {phase} pass{where} "
                f"({what} of shape {tuple(a.shape)}, first at index {first})"
            )


class Terms(list):
    """A gradient kept as a list of terms until something needs its value (``dense()``).

    A fused op that computes many terms of one sum more cheaply together (all
    time steps' dW_hh in one GEMM) returns each term as a one-element Terms;
    where terms of the same sum meet, the engine joins them (``extend``, O(1) a
    term), and the node that consumes the sum evaluates it once. Everything else
    sees a Terms as the array it stands for: adding an array evaluates it."""

    __slots__ = ()
    __array_ufunc__ = None  # so that `array + terms` reaches __radd__ instead of numpy

    def dense(self):
        raise NotImplementedError


def dense(g):
    """A gradient as an array: one kept as a sum of terms (see nn.recurrent.sequence.StepTerms) is evaluated."""
    return g.dense() if hasattr(g, "dense") else g


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


def _accumulate_leaf(leaf, g, fresh=False):
    data = leaf._data
    if g.shape != data.shape:
        g = _reduce_to(g, data.shape)
        fresh = False  # the reduction may be a reshaped view of g
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
        fresh = True
    if leaf.grad is None:
        # A backward output may be a view shared with other gradients (or the
        # caller's own array); copy so in-place updates of one .grad reach no other.
        if not fresh:
            g = leaf._backend.xp.array(g, copy=True)
        leaf._grad = leaf._make(g, leaf._backend)
    else:
        total = leaf.grad._data + g
        # the same grad tensor, as PyTorch keeps it (0-d sums come back as numpy scalars)
        leaf.grad._data = total if total.ndim else leaf._backend.xp.asarray(total)


def _hold_leaf(held, leaf, g, fresh):
    """Sum a gradient for a leaf that has hooks into ``held`` (leaf -> [sum, fresh]):
    its hooks see the whole gradient of this backward pass, once, as in PyTorch."""
    shape = leaf._data.shape
    if g.shape != shape:
        g, fresh = _reduce_to(g, shape), False
    slot = held.get(leaf)
    if slot is None:
        held[leaf] = [g, fresh]
    else:
        slot[0], slot[1] = slot[0] + g, True


def _release_leaves(held) -> None:
    """Run each held leaf's hooks on its gradient, then add the result to ``.grad``."""
    for leaf, (g, fresh) in held.items():
        if g.dtype != leaf._data.dtype:  # hooks see the leaf's dtype, as .grad will hold it
            g, fresh = g.astype(leaf._data.dtype), True
        for hook in list(leaf._hooks):
            new = hook(leaf._make(g, leaf._backend))
            if new is not None:
                g, fresh = getattr(new, "_data", new), False
        _accumulate_leaf(leaf, g, fresh)


def _run_hooks(fn, out_grads, make, accumulate=True) -> None:
    """Tensor hooks (``register_hook``) of ``fn``'s outputs; each may replace its gradient.

    Without ``accumulate``, ``retain_grad``'s hooks are skipped: such a pass
    (e.g. the graph drawer measuring gradients) must leave every ``.grad`` alone."""
    for i, hooks in fn.hooks.items():
        for hook in list(hooks):
            if not accumulate and getattr(hook, "retains_grad", False):
                continue
            new = hook(make(out_grads[i], fn.backend))
            if new is not None:
                out_grads[i] = getattr(new, "_data", new)


def backward(roots, grads, retain_graph=False, accumulate=True, observer=None, input_observer=None):
    """Backpropagate ``grads`` (arrays) from ``roots`` (tensors).

    Leaves that require grad, and tensors that ``retain_grad()``, receive
    ``.grad`` (only when ``accumulate``).
    ``observer(fn, out_grads)``, if given, sees each node's output gradients
    before its backward runs; ``input_observer(fn, in_grads)`` sees what its
    backward hands to each parent (one per parent, None for none; broadcast
    shapes not yet reduced). The graph drawer's gradient-flow view uses both.

    A leaf's post-accumulate-grad hooks run once its last gradient of this pass is
    in ``.grad``: every gradient edge from the reached graph to it is counted first.
    Edges of a branch that received no gradient never arrive; such leaves run
    their hooks at the end.
    """
    pending: dict = {}
    held: dict = {}  # gradients of leaves with hooks, released at the end
    heap: list = []
    push = heapq.heappush
    counts = count_hooked_edges(roots) if _post_hooked and accumulate else None
    for root, g in zip(roots, grads):
        fn = root._ctx
        if fn is None:
            if accumulate and root.requires_grad:
                if root._hooks:
                    _hold_leaf(held, root, g, False)
                else:
                    _accumulate_leaf(root, g)
            continue
        slot = pending.get(fn)
        if slot is None:
            slot = pending[fn] = [None] * len(fn.out_meta)
            push(heap, (-fn.seq, fn))
        slot[root._idx] = g if slot[root._idx] is None else slot[root._idx] + g
    if counts:
        count_down([(root, -1) for root in roots if root._ctx is None], counts, held)
    anomaly = _local.state.anomaly
    pop = heapq.heappop
    while heap:
        fn = pop(heap)[1]
        out_grads = pending.pop(fn)
        if fn.saved is None:
            raise RuntimeError(
                f"backward: trying to backward through {fn.name} a second time; its saved "
                "arrays were freed after the first backward. Pass retain_graph=True to the "
                "first backward() if you need to call it twice."
            )
        if len(out_grads) > 1:
            # Outputs of a multi-output node that nothing used get zero gradients.
            for i, g in enumerate(out_grads):
                if g is None:
                    shape, dtype = fn.out_meta[i]
                    out_grads[i] = fn.backend.xp.zeros(shape, dtype=dtype)
        if fn.versions or fn.out_versions:
            check_versions(fn)
        if fn.hooks:
            _run_hooks(fn, out_grads, roots[0]._make, accumulate)
        if observer is not None:
            observer(fn, [dense(g) for g in out_grads])
        in_grads = fn.backward(*out_grads)
        if in_grads.__class__ is not tuple:
            in_grads = (in_grads,)
        if input_observer is not None:
            input_observer(fn, tuple(dense(g) for g in in_grads))
        if anomaly:
            _check_finite(fn, in_grads, "backward")
        if not retain_graph:
            if type(fn).release is _release:
                fn.saved = None  # what Function.release does, without the call: this runs for every node
            else:
                fn.release()
        fresh = fn.fresh_grads
        for (parent, idx), g in zip(fn.parents, in_grads):
            if parent is None or g is None:
                continue
            if idx < 0:
                if not accumulate:
                    continue
                if parent._hooks:
                    _hold_leaf(held, parent, g, fresh)
                else:
                    _accumulate_leaf(parent, g, fresh)
                continue
            slot = pending.get(parent)
            if slot is None:
                slot = pending[parent] = [None] * len(parent.out_meta)
                push(heap, (-parent.seq, parent))
            so_far = slot[idx]
            if fresh and so_far.__class__ is g.__class__ and isinstance(g, Terms):
                so_far.extend(g)  # one input's terms: one sum (of the shape the first one was checked for)
                continue
            shape = parent.out_meta[idx][0]
            if g.shape != shape:
                g = _reduce_to(g, shape)
            if so_far is None:
                slot[idx] = g
            elif not fresh:
                slot[idx] = so_far + g
            else:  # g is ours to overwrite: sum into it rather than into a new array
                g += so_far
                slot[idx] = g
        if counts:
            count_down(fn.parents, counts, held)
    if held:
        _release_leaves(held)
    if counts:
        for leaf in counts:  # held by register_hook, or on a branch no gradient reached
            run_post_hooks(leaf)

