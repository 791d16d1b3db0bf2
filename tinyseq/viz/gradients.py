"""Gradient flow through the steps of an unrolled graph.

The gradient *flowing into a step's hidden state* is measured on the tensors
the step hands to the rest of the graph (``Graph.leaving``): h_t, and c_t for
an LSTM. For each, what counts is the gradient that reaches it from outside
the step — from the next step, the next layer and the outputs together — so a
fused cell (one node) and its composed twin (many nodes) measure the same.
For h_t that is the whole of dL/dh_t. The step's norm is the L2 norm over its
tensors together, ``sqrt(|g_h|^2 + |g_c|^2)``. Vanishing gradients show as
norms that shrink towards t=0; exploding ones as norms that grow.
"""

from __future__ import annotations

import math

from .. import autograd
from ..autograd import _reduce_to
from .graph import Graph, as_roots, split_step, step_label, step_sort_key


def flow_norms(graph: Graph, grad=None, who: str = "viz.gradient_norms") -> tuple[dict, dict]:
    """Gradient norms at the tensors each step hands on (see ``Graph.leaving``).

    The gradient of such a tensor counted here is what reaches it from outside
    its step (from the next step, the next layer, the outputs, or the root
    seed). A fused cell's outputs receive exactly that; measuring it the same
    way for a composed cell, whose c_t also feeds h_t = o * tanh(c_t) inside
    the step, makes both paths give the same numbers.

    Runs one backward pass without touching any ``.grad`` (the graph must
    still hold its saved arrays). ``grad``: the gradient seeding each root (a
    tensor/array, or a list, one per root); None seeds with ones, i.e. the
    gradient of the sum of the roots.

    Returns ``({step key: norm over its leaving tensors}, {(id(fn), out
    index): norm of that tensor})``.
    """
    graph.check_alive(who)
    roots = graph.roots
    seeds = _seeds(roots, grad, who)
    leaving, takers = graph.leaving()
    shapes = {(id(fn), i): fn.out_meta[i][0] for pairs in leaving.values() for fn, i in pairs}
    owners = {id(fn) for pairs in leaving.values() for fn, _ in pairs}
    arriving: dict = {}  # (id(fn), idx) -> float64 sum of the gradients from outside its step
    norms: dict = {}

    def add(key, g):
        g = _reduce_to(g, shapes[key]).astype("float64")  # astype copies: g may be a reused buffer
        arriving[key] = g if key not in arriving else arriving[key] + g

    def settle(key):
        g = arriving.pop(key, None)
        norms[key] = 0.0 if g is None else math.sqrt(float((g * g).sum()))

    def handed(fn, in_grads):  # after a consumer's backward: what it passes to its parents
        for i, key in takers.get(id(fn), ()):
            if in_grads[i] is not None:
                add(key, in_grads[i])

    def reached(fn, out_grads):  # before a producer's backward: all its consumers are done
        if id(fn) in owners:
            for i in range(len(fn.out_meta)):
                if (id(fn), i) in shapes:
                    settle((id(fn), i))

    live = [(r, g) for r, g in zip(roots, seeds) if r._ctx is not None]
    for r, g in live:
        if (id(r._ctx), r._idx) in shapes:
            add((id(r._ctx), r._idx), g)
    if live:
        autograd.backward(
            [r for r, _ in live],
            [g for _, g in live],
            retain_graph=True,
            accumulate=False,
            observer=reached,
            input_observer=handed,
        )
    for key in shapes:
        if key not in norms:  # no gradient reached its producer at all
            settle(key)
    steps = {key: math.sqrt(sum(norms[(id(fn), i)] ** 2 for fn, i in pairs)) for key, pairs in leaving.items()}
    return steps, norms


def _seeds(roots, grad, who):
    from .._tensor import Tensor

    if grad is None:
        return [r.xp.ones(r._data.shape, dtype=r._data.dtype) for r in roots]
    grads = list(grad) if isinstance(grad, (list, tuple)) else [grad]
    if len(grads) != len(roots):
        raise ValueError(f"{who}: {len(roots)} roots but {len(grads)} gradients")
    out = []
    for r, g in zip(roots, grads):
        g = g._data if isinstance(g, Tensor) else r._backend.asarray(g)
        if tuple(g.shape) != r.shape:
            raise ValueError(f"{who}: gradient of shape {tuple(g.shape)} for a root of shape {r.shape}")
        out.append(g.astype(r._data.dtype))
    return out


def gradient_norms(root, grad=None) -> dict:
    """Per-step norm of the gradient flowing into each step's hidden state.

    root: the loss (a tensor, or a list of tensors) of a graph that still
        holds its saved arrays: call this before ``backward()``, or after
        ``backward(retain_graph=True)``. Leaf ``.grad`` is left untouched.
    grad: the gradient seeding each root; None seeds with ones (the
        gradient of ``sum(root)``).

    Returns ``{(layer, direction): [norm at each t, in order of t]}``, with
    None for a tag the steps lack: a hand-written loop tagged only with
    ``ts.viz.step(t)`` gives ``{(None, None): [...]}``. The norm at a step is
    that of the gradient reaching the tensors the step hands on (h_t, and c_t
    for an LSTM) from outside the step, all of them together; for h_t it is
    the full dL/dh_t (see the module docstring).
    """
    graph = Graph(as_roots(root, "viz.gradient_norms"))
    steps, _ = flow_norms(graph, grad)
    series: dict = {}
    for key in sorted(steps, key=step_sort_key):
        seq, t = split_step(key)
        tags = dict(seq)
        lane = (tags.get("layer"), tags.get("direction"))
        series.setdefault(lane, {})
        by_t = series[lane]
        # Nested loops may give one (layer, direction, t) twice: combine them.
        by_t[t] = math.sqrt(by_t.get(t, 0.0) ** 2 + steps[key] ** 2)
    return {lane: list(by_t.values()) for lane, by_t in series.items()}


def _lane_label(lane) -> str:
    layer, direction = lane
    pairs = tuple((k, v) for k, v in (("layer", layer), ("direction", direction)) if v is not None)
    return step_label(pairs)


def plot_gradient_flow(source, *, ax=None, title="Gradient flow through time", grad=None):
    """Line plot (log y) of the per-step gradient norms; returns the matplotlib Figure.

    source: a loss tensor (or list of tensors) to measure with
        :func:`gradient_norms`; or the dict that function returns; or
        ``{name: either of those}`` to compare models (e.g. ``{"RNN": ...,
        "LSTM": ...}``), one line per model and layer/direction.
    ax: an existing matplotlib Axes to draw into (a new figure otherwise).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "viz.plot_gradient_flow needs matplotlib: pip install matplotlib (or pip install 'tinyseq[examples]')"
        ) from e
    series = _series(source, grad)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for label, norms in series:
        ts_ = list(range(len(norms)))
        ax.plot(ts_, norms, marker="." if len(norms) <= 60 else None, label=label or "steps")
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("gradient norm into the state at t")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if len(series) > 1 or series and series[0][0]:
        ax.legend()
    fig.tight_layout()
    return fig


def _series(source, grad) -> list:
    """[(label, norms)] from any of the forms plot_gradient_flow accepts."""
    from .._tensor import Tensor

    def lanes(obj):
        if isinstance(obj, (Tensor, list, tuple)):
            obj = gradient_norms(obj, grad)
        if not isinstance(obj, dict):
            raise TypeError(
                f"viz.plot_gradient_flow: expected a tensor or a gradient_norms() dict, got {type(obj).__name__}"
            )
        return obj

    if isinstance(source, dict) and source and all(isinstance(k, str) for k in source):
        out = []
        for name, obj in source.items():
            d = lanes(obj)
            for lane, norms in d.items():
                sub = _lane_label(lane)
                out.append((f"{name} · {sub}" if sub and len(d) > 1 else name, norms))
        return out
    return [(_lane_label(lane), norms) for lane, norms in lanes(source).items()]
