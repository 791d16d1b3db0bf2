"""Reading a recorded graph: the nodes behind some tensors, and their scope tags.

Every node records the scope it was made in (``fn.scope``): a tuple of
``(key, value)`` pairs, outermost first. The drawer understands these keys:

    module     dotted path of the Module whose ``__call__`` made the node
    layer      index of a stacked recurrent layer
    direction  0 (forward in time) or 1 (reverse) in a bidirectional layer
    t          time step
    cell       (cell class name, unique int): one invocation of a recurrent cell

A node belongs to a *step* when its scope holds a ``t``; its step key is the
tuple of its ``layer``/``direction``/``t`` pairs, in scope order.
"""

from __future__ import annotations

from .. import autograd

STEP_KEYS = frozenset(("layer", "direction", "t"))


def step(t):
    """Context manager: nodes made inside belong to time step ``t``.

    Use it in a hand-written loop so that ``ts.viz.draw`` clusters the
    unrolled graph by step (the recurrent layers tag their own steps)::

        for t in range(T):
            with ts.viz.step(t):
                h = (x[t] @ W_xh.T + h @ W_hh.T + b).tanh()
    """
    return autograd.scope(t=t)


def as_roots(root, who: str) -> list:
    """A tensor or a sequence of tensors -> a list of tensors."""
    from .._tensor import Tensor

    roots = [root] if isinstance(root, Tensor) else list(root) if isinstance(root, (list, tuple)) else None
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError(f"{who}: expected a tensor or a list of tensors, got {type(root).__name__}")
    return roots


class ScopeInfo:
    """What the drawer needs from one scope tuple (shared by all nodes made in it)."""

    __slots__ = ("step", "cell", "cell_step", "modules", "pairs", "loop_module")

    def __init__(self, tags: tuple):
        steps = []  # the step pairs seen so far, to know what encloses a cell or module
        modules = []  # (module path, step pairs enclosing that module's call)
        self.cell = self.cell_step = None
        self.loop_module = None  # the innermost module called outside the time step: it runs the loop
        for pair in tags:
            key = pair[0]
            if key in STEP_KEYS:
                steps.append(pair)
            elif key == "module":
                modules.append((pair[1], tuple(steps)))
                if as_step(tuple(steps)) is None:
                    self.loop_module = pair[1]
            elif key == "cell":
                self.cell = pair[1]
                self.cell_step = as_step(tuple(steps))
        self.pairs = tuple(steps)
        self.step = as_step(self.pairs)
        self.modules = tuple(modules)


def as_step(pairs: tuple):
    """The step key for these step pairs, or None when they hold no time step."""
    for key, _ in pairs:
        if key == "t":
            return pairs
    return None


def split_step(key: tuple):
    """Step key -> (sequence key, t): the innermost ``t`` taken out."""
    for i in range(len(key) - 1, -1, -1):
        if key[i][0] == "t":
            return key[:i] + key[i + 1 :], key[i][1]
    raise ValueError(f"viz: step key {key!r} holds no time step")


def _sort_value(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def step_sort_key(key: tuple) -> tuple:
    """Order steps by layer, direction, then t (numbers numerically, anything else by text)."""
    return tuple((k, _sort_value(v)) for k, v in key)


def step_label(key: tuple) -> str:
    """``(("layer", 0), ("direction", 1), ("t", 3))`` -> ``"layer 0 ← · t=3"``."""
    parts = []
    for k, v in key:
        if k == "direction":
            arrow = {0: "→", 1: "←"}.get(v, f"direction {v}")
            if parts and parts[-1].startswith("layer"):
                parts[-1] += " " + arrow
            else:
                parts.append(arrow)
        elif k == "layer":
            parts.append(f"layer {v}")
        else:
            parts.append(f"{k}={v}")
    return " · ".join(parts)


class Graph:
    """The nodes behind ``roots``, found by an explicit stack (never recursion).

    ``fns``: the Function nodes, parents before children (by generation);
    ``leaves``: id -> leaf tensor that requires grad, in order of discovery;
    ``info``: id(fn) -> ScopeInfo.
    """

    def __init__(self, roots: list):
        self.roots = roots
        seen = set()
        fns = []
        leaves = {}
        stack = [r._ctx for r in roots if r._ctx is not None]
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            fns.append(fn)
            for parent, idx in fn.parents:
                if parent is None:
                    continue
                if idx < 0:
                    leaves.setdefault(id(parent), parent)
                elif id(parent) not in seen:
                    stack.append(parent)
        fns.sort(key=lambda f: f.generation)
        self.fns = fns
        self.leaves = leaves
        for r in roots:
            if r._ctx is None and r.requires_grad:
                leaves.setdefault(id(r), r)
        parsed: dict = {}  # scope tuple -> ScopeInfo: nodes of one scope share it
        info = {}
        for fn in fns:
            tags = fn.scope
            s = parsed.get(tags)
            if s is None:
                s = parsed[tags] = ScopeInfo(tags)
            info[id(fn)] = s
        self.info = info

    def check_alive(self, who: str) -> None:
        """Raise if backward() already freed the arrays a gradient pass needs."""
        for fn in self.fns:
            if fn.saved is None:
                raise RuntimeError(
                    f"{who}: the graph was freed by backward() ({fn.name} has no saved arrays); "
                    "call backward(retain_graph=True), or compute this before backward()"
                )

    def leaving(self) -> tuple[dict, dict]:
        """Tensors each step hands to the rest of the graph, and who takes them.

        A step's output is *leaving* when a node outside that step consumes it
        (the next step, the next layer, the loss) or when it is a root: for a
        recurrent layer these are h_t (and c_t for an LSTM).

        Returns ``({step key: [(fn, out index)]}, {id(consumer): [(parent
        position, (id(fn), out index))]})``, the second listing, for every
        node outside a step, which of its inputs leave that step.
        """
        info = self.info
        out: dict = {}
        takers: dict = {}
        seen = set()

        def add(fn, idx, key):
            if (id(fn), idx) not in seen:
                seen.add((id(fn), idx))
                out.setdefault(key, []).append((fn, idx))

        for fn in self.fns:
            here = info[id(fn)].step
            for i, (parent, idx) in enumerate(fn.parents):
                if parent is None or idx < 0:
                    continue
                there = info[id(parent)].step
                if there is not None and there != here:
                    add(parent, idx, there)
                    takers.setdefault(id(fn), []).append((i, (id(parent), idx)))
        for r in self.roots:
            if r._ctx is not None and info[id(r._ctx)].step is not None:
                add(r._ctx, r._idx, info[id(r._ctx)].step)
        return out, takers


def format_shape(shape) -> str:
    return "(" + ", ".join(str(int(n)) for n in shape) + (",)" if len(shape) == 1 else ")")
