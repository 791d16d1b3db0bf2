"""``draw``: an unrolled computation graph as a Graphviz drawing, one cluster per time step.

How the picture is built:

1. ``Graph`` collects the nodes behind the roots with an explicit stack.
2. Each node goes into a *box*: its own (detail="op"), its cell invocation's
   (detail="cell": nodes sharing one ``cell`` tag), or its module call's
   (detail="module"). A box sits in the cluster of the step that encloses it.
3. Steps in the middle of a long sequence are elided: their boxes become one
   "… n steps …" node per (layer, direction).
4. Edges join boxes; each is drawn once (sets, not list search). Leaves that
   require grad (parameters) are drawn once, outside the clusters, with an
   edge into every box that uses them: weight sharing across time. A view of
   a parameter made once before the loop (``W.T``, ``W[:, :C]``) counts as the
   parameter, except in detail="op".
"""

from __future__ import annotations

import math

from .graph import Graph, as_roots, format_shape, split_step, step_label, step_sort_key

DETAILS = ("cell", "op", "module")
DIRECTIONS = ("forward", "backward")
RANKDIRS = ("LR", "RL", "TB", "BT")
# Ops that only rearrange their input; outside the steps, one applied to a
# parameter is drawn as the parameter itself (see _Builder._parameter_views).
VIEW_OPS = frozenset(
    ("Reshape", "Permute", "Transpose", "Expand", "GetItem", "Split", "Cast", "Clone", "ToDevice", "SharedWeight")
)
DEFAULT_FULL = 8  # max_steps=None draws sequences up to this long in full ...
DEFAULT_KEEP = 6  # ... and keeps the first 3 and the last 3 steps of longer ones

FONT = "Helvetica"
STYLES = {
    # ops: grey ellipses; cells and modules: rounded boxes; tensors: notes
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#ececec", "color": "#7f7f7f"},
    "cell": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#fff0a8", "color": "#8a7400"},
    "module": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#ffd6a5", "color": "#a0522d"},
    "param": {"shape": "box", "style": "filled", "fillcolor": "#c6dbff", "color": "#3d6cb9"},
    "leaf": {"shape": "note", "style": "filled", "fillcolor": "#c6dbff", "color": "#3d6cb9"},
    "input": {"shape": "note", "style": "filled", "fillcolor": "#f4f4f4", "color": "#9a9a9a", "fontsize": "9"},
    "output": {"shape": "note", "style": "filled", "fillcolor": "#c8efc8", "color": "#2e7d32"},
    "elided": {"shape": "box", "style": "rounded,dashed", "color": "#8c8c8c", "fontcolor": "#555555"},
    "legend": {"shape": "note", "style": "filled", "fillcolor": "#ffffff", "color": "#bbbbbb", "fontsize": "9"},
}
CLUSTER_FILL = {None: "#f2f6fc", 0: "#f2f6fc", 1: "#fcf2f4"}  # by direction
PARAM_EDGE_ATTRS = {"color": "#5b84d1", "arrowsize": "0.6", "penwidth": "0.8"}
STATE_EDGE_ATTRS = {"penwidth": "1.6"}  # edges carrying a step's state, when show_grad
# Gradient colouring: pale for the smallest norm in the picture, strong for the largest.
GRAD_LOW, GRAD_HIGH = (0xF4, 0xF7, 0xFB), (0xE8, 0x6F, 0x4C)


def draw(
    root,
    *,
    detail: str = "cell",
    params=None,
    max_steps: int | None = None,
    show_shapes: bool = True,
    show_grad: bool = False,
    direction: str = "forward",
    rankdir: str = "LR",
):
    """Draw the graph that produced ``root``, clustered by time step.

    root: a tensor or a list of tensors (e.g. the loss, or an RNN's output).
    detail: "cell" (one box per recurrent-cell invocation, primitives
        elsewhere), "op" (every primitive: matmul, add, sigmoid ...) or
        "module" (one box per call of each top-level module, e.g. a whole
        LSTM; the outermost module that encloses everything is looked inside).
    params: names for leaf tensors, ``{name: tensor}`` or an iterable of
        ``(name, tensor)`` pairs such as ``model.named_parameters()``.
        Parameters owned by a Module are named automatically
        (``lstm.weight_hh_l0``, from the module tree while the model lives).
    max_steps: at most this many steps (>= 2) of each (layer, direction) are
        drawn: the first ``ceil(k/2)`` and the last ``floor(k/2)``, with one
        "… n steps …" node for the rest. None: sequences of up to 8 steps in
        full, longer ones as 3 + 3. Pass the sequence length to draw them all.
    show_shapes: label edges and parameters with tensor shapes.
    show_grad: run a backward pass (seeded with ones; no ``.grad`` changes;
        the graph must still hold its saved arrays) and colour each step by
        the norm of the gradient flowing into its hidden state (see
        ``ts.viz.gradient_norms``), printing ``‖g‖`` on the state edges.
    direction: "forward" (data flow) or "backward" (gradient flow: backward
        functions, edges reversed, from the loss to the parameters).
    rankdir: Graphviz layout direction ("LR", "TB", ...).

    Returns a ``graphviz.Digraph`` (format "svg") whose ``.render(path,
    format="png")`` works even without a system Graphviz; it displays inline
    in Jupyter. ``.source`` is the DOT text.
    """
    _check_args(detail, max_steps, direction, rankdir)
    roots = as_roots(root, "viz.draw")
    graph = Graph(roots)
    builder = _Builder(
        graph, detail, _leaf_names(graph.leaves, params), max_steps, show_shapes, direction == "backward"
    )
    if show_grad:
        from .gradients import flow_norms

        builder.step_norm, builder.tensor_norm = flow_norms(graph, who="viz.draw")
    return builder.build(rankdir)


def _check_args(detail, max_steps, direction, rankdir):
    if detail not in DETAILS:
        raise ValueError(f"viz.draw: detail must be one of {', '.join(map(repr, DETAILS))}, got {detail!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"viz.draw: direction must be 'forward' or 'backward', got {direction!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"viz.draw: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 2):
        raise ValueError(f"viz.draw: max_steps must be an int >= 2 or None, got {max_steps!r}")


def _leaf_names(leaves: dict, params) -> dict:
    """id(leaf) -> label name: ``params`` first, then a Parameter's qualified name."""
    from ..tensor import Tensor

    given = {}
    if params is not None:
        pairs = params.items() if isinstance(params, dict) else params
        for name, t in pairs:
            if not isinstance(t, Tensor):
                raise TypeError(f"viz.draw: params[{name!r}] must be a tensor, got {type(t).__name__}")
            given[id(t)] = str(name)
    names = {}
    for key, leaf in leaves.items():
        name = given.get(key) or getattr(leaf, "qualified_name", None)
        if name:
            names[key] = name
    return names


def _module_depth(graph: Graph) -> int:
    """Index of the module level that detail="module" collapses.

    Module paths run outermost first. When every module call sits inside one
    outer module (``model(x)``), that level would swallow everything, so the
    level below the longest shared prefix is used."""
    paths = {tuple(m for m, _ in s.modules) for s in graph.info.values() if s.modules}
    if not paths:
        return 0
    prefix = min(paths, key=len)
    for p in paths:
        n = 0
        while n < len(prefix) and n < len(p) and p[n] == prefix[n]:
            n += 1
        prefix = prefix[:n]
    deeper = any(len(p) > len(prefix) for p in paths)
    return len(prefix) if deeper else max(len(prefix) - 1, 0)


def _fmt_norm(x: float) -> str:
    return f"{x:.2e}"


def _grad_colour(norm: float, lo: float, hi: float) -> str:
    if norm <= 0 or not math.isfinite(norm):
        return "#ffffff" if norm <= 0 else "#b30000"
    f = 0.5 if hi <= lo else (math.log10(norm) - lo) / (hi - lo)
    rgb = (round(a + (b - a) * f) for a, b in zip(GRAD_LOW, GRAD_HIGH))
    return "#" + "".join(f"{c:02x}" for c in rgb)


class _Builder:
    """Turns a Graph into DOT; one instance per ``draw`` call."""

    def __init__(self, graph, detail, names, max_steps, show_shapes, backward):
        self.graph = graph
        self.detail = detail
        self.names = names
        self.max_steps = max_steps
        self.show_shapes = show_shapes
        self.backward = backward
        self.step_norm = None  # step key -> norm, when show_grad
        self.tensor_norm = None  # (id(fn), idx) -> norm
        self.depth = _module_depth(graph) if detail == "module" else 0
        self.groups: dict = {}  # sequence key -> DOT group name
        self.views: dict = {}  # id(fn) -> leaf it is a view of (see _parameter_views)
        self.elided_names: set = set()
        self.leaf_ids: dict = {}  # id(leaf) -> DOT name
        self.norm_shown: set = set()  # tensors whose gradient norm is already on an edge

    # -- boxes ----------------------------------------------------------------
    def _box_key(self, fn, info):
        """(key, kind, label, step key or None) of the box holding ``fn``."""
        if self.detail == "module" and len(info.modules) > self.depth:
            path, enclosing = info.modules[self.depth]
            step = enclosing if any(k == "t" for k, _ in enclosing) else None
            modpath = tuple(m for m, _ in info.modules[: self.depth + 1])
            return ("m", step, modpath), "module", path, step
        if self.detail != "op" and info.cell is not None:
            cell = info.cell
            label = cell[0] if isinstance(cell, tuple) and cell else str(cell)
            return ("c", info.cell_step, cell), "cell", str(label), info.cell_step
        return ("o", id(fn)), "op", fn.name.lstrip("_"), info.step

    def _parameter_views(self) -> dict:
        """id(fn) -> leaf, for view ops (``VIEW_OPS``) of one leaf outside every step.

        ``W.T``, ``W[:, :C]``, ``W.reshape(...)``: a layer often computes such a
        view once, before its loop, and every step uses the view. Drawn as the
        parameter itself, the parameter gets an edge into every step that uses
        it, which is the point of the picture; detail="op" still shows them."""
        info = self.graph.info
        views: dict = {}
        for fn in self.graph.fns:
            s = info[id(fn)]
            if s.step is not None or s.cell is not None or fn.name.lstrip("_") not in VIEW_OPS:
                continue
            source = None
            for parent, idx in fn.parents:
                leaf = None if parent is None else parent if idx < 0 else views.get(id(parent))
                if leaf is None or (source is not None and leaf is not source):
                    source = None
                    break
                source = leaf
            if source is not None:
                views[id(fn)] = source
        return views

    def _elision(self, steps) -> tuple[set, dict]:
        """(elided step keys, {sequence key: number of elided steps})."""
        seqs: dict = {}
        for key in steps:
            seq, t = split_step(key)
            seqs.setdefault(seq, {}).setdefault(t, []).append(key)
        elided, counts = set(), {}
        for seq, by_t in seqs.items():
            n = len(by_t)
            k = self.max_steps if self.max_steps is not None else (n if n <= DEFAULT_FULL else DEFAULT_KEEP)
            if n <= k:
                continue
            order = sorted(by_t, key=lambda t: step_sort_key((("t", t),)))
            first, last = (k + 1) // 2, k // 2
            for t in order[first : n - last]:
                elided.update(by_t[t])
            counts[seq] = n - first - last
        return elided, counts

    def _group(self, seq) -> str:
        return self.groups.setdefault(seq, f"g{len(self.groups)}")

    # -- DOT ------------------------------------------------------------------
    def build(self, rankdir):
        from .._render import Digraph

        graph, info = self.graph, self.graph.info
        g = Digraph(
            "unrolled",
            format="svg",
            # newrank: rank the whole graph at once, so steps follow each other
            # along rankdir even though each sits in its own cluster
            graph_attr={
                "rankdir": rankdir,
                "fontname": FONT,
                "fontsize": "11",
                "nodesep": "0.25",
                "ranksep": "0.35",
                "labeljust": "l",
                "newrank": "true",
            },
            node_attr={"fontname": FONT, "fontsize": "10", "height": "0.3"},
            edge_attr={"fontname": FONT, "fontsize": "8", "color": "#404040", "arrowsize": "0.7"},
        )
        # Pass 1: the box of every node (cells and modules share one box per scope).
        boxes: dict = {}  # box key -> (kind, label, step)
        box_of: dict = {}  # id(fn) -> box key
        cache: dict = {}  # id(ScopeInfo) -> box, for cells and modules
        views = self.views = self._parameter_views() if self.detail != "op" else {}
        for fn in graph.fns:
            if id(fn) in views:
                continue
            s = info[id(fn)]
            hit = cache.get(id(s))
            if hit is None:
                hit = self._box_key(fn, s)
                if hit[1] != "op":
                    cache[id(s)] = hit
            key = hit[0]
            box_of[id(fn)] = key
            if key not in boxes:
                boxes[key] = hit[1:]
        elided, counts = self._elision({b[2] for b in boxes.values() if b[2] is not None})

        # Pass 2: DOT names; elided boxes map to their sequence's "…" node.
        ids: dict = {}
        clusters: dict = {}  # step key -> [node line]
        outside: list = []  # node lines outside every cluster
        ellipsis = {seq: f"e{i}" for i, seq in enumerate(counts)}
        for n, (key, (kind, label, step)) in enumerate(boxes.items()):
            if step in elided:
                ids[key] = ellipsis[split_step(step)[0]]
                continue
            name = ids[key] = f"n{n}"
            if self.backward:
                label = label + "Backward" if kind == "op" else f"{label}\nbackward"
            # one group per sequence helps dot keep its chain of cells straight
            extra = f" group={self._group(split_step(step)[0])}" if kind != "op" and step is not None else ""
            line = _node(name, label, kind, extra)
            (clusters.setdefault(step, []) if step is not None else outside).append(line)
        for seq, name in ellipsis.items():
            head = step_label(seq)
            text = f"… {counts[seq]} steps …" if counts[seq] != 1 else "… 1 step …"
            outside.append(_node(name, f"{head}\n{text}" if head else text, "elided", f" group={self._group(seq)}"))
        self.elided_names = set(ellipsis.values())
        edges = self._edges(box_of, ids, boxes, clusters, outside)
        self._roots(box_of, ids, outside, edges)
        self._emit(g, clusters, outside, edges)
        return g

    def _edges(self, box_of, ids, boxes, clusters, outside):
        """["src -> dst [attrs]"] in forward orientation, each once."""
        seen = set()
        edges = []
        leaf_ids = self.leaf_ids
        const_ids: dict = {}
        elided_names = self.elided_names
        views = self.views
        for fn in self.graph.fns:
            if id(fn) in views:
                continue
            dkey = box_of[id(fn)]
            dst = ids[dkey]
            for parent, idx in fn.parents:
                if parent is None:
                    if self.backward or not idx or dst in elided_names:
                        continue  # no gradient flows there; scalars and elided steps' inputs stay out
                    ck = (dst, idx)
                    if ck in const_ids:
                        continue
                    name = const_ids[ck] = f"k{len(const_ids)}"
                    step = boxes[dkey][2]
                    line = _node(name, f"input\n{format_shape(idx)}" if self.show_shapes else "input", "input")
                    (clusters[step] if step is not None else outside).append(line)
                    edges.append((name, dst, ""))
                    continue
                if idx < 0 or id(parent) in views:
                    if idx >= 0:
                        parent = views[id(parent)]
                    src = leaf_ids.get(id(parent))
                    if src is None:
                        src = leaf_ids[id(parent)] = self._leaf_node(parent, len(leaf_ids), outside)
                    if (src, dst) not in seen:
                        seen.add((src, dst))
                        edges.append((src, dst, PARAM_EDGE))
                    continue
                src = ids[box_of[id(parent)]]
                if src == dst:
                    continue
                if src in elided_names or dst in elided_names:
                    ek, attrs = (src, dst), ""
                else:
                    ek = (src, dst, id(parent), idx)
                    attrs = self._tensor_attrs(parent, idx) if ek not in seen else ""
                if ek not in seen:
                    seen.add(ek)
                    edges.append((src, dst, attrs))
        return edges

    def _tensor_attrs(self, fn, idx) -> str:
        lines = []
        shape = fn.out_meta[idx][0]
        if self.show_shapes and len(shape):  # 0-d: a loss, or a token that only orders nodes
            lines.append(format_shape(shape))
        extra = ""
        norm = self.tensor_norm.get((id(fn), idx)) if self.tensor_norm is not None else None
        if norm is not None:
            extra = STATE_EDGE
            if (id(fn), idx) not in self.norm_shown:
                # once per tensor, on its first consumer's edge (the next step, for h_t)
                self.norm_shown.add((id(fn), idx))
                lines.append(f"‖g‖={_fmt_norm(norm)}")
        if not lines:
            return extra
        label = "label=" + _q("\n".join(lines))
        return f"{label} {extra}" if extra else label

    def _leaf_node(self, leaf, n, outside) -> str:
        name = f"p{n}"
        given = self.names.get(id(leaf))
        is_param = type(leaf).__name__ == "Parameter"
        label = given or ("parameter" if is_param else "leaf")
        if self.show_shapes:
            label += "\n" + format_shape(leaf.shape)
        outside.append(_node(name, label, "param" if is_param or given else "leaf"))
        return name

    def _roots(self, box_of, ids, outside, edges):
        many = len(self.graph.roots) > 1
        for i, r in enumerate(self.graph.roots):
            if r._ctx is None:
                if r.requires_grad and id(r) not in self.leaf_ids:
                    self.leaf_ids[id(r)] = self._leaf_node(r, len(self.leaf_ids), outside)
                continue
            name = f"out{i}"
            head = ("grad" if self.backward else "output") + (f" {i}" if many else "")
            label = f"{head}\n{format_shape(r.shape)}" if self.show_shapes else head
            outside.append(_node(name, label, "output"))
            leaf = self.views.get(id(r._ctx))
            if leaf is not None:
                if id(leaf) not in self.leaf_ids:
                    self.leaf_ids[id(leaf)] = self._leaf_node(leaf, len(self.leaf_ids), outside)
                edges.append((self.leaf_ids[id(leaf)], name, ""))
            else:
                edges.append((ids[box_of[id(r._ctx)]], name, ""))

    def _emit(self, g, clusters, outside, edges):
        """Append the DOT statements to ``g.body`` directly: graphviz's own
        node()/edge() quoting would dominate the time for 10,000-step graphs."""
        norms = self.step_norm
        lo = hi = 0.0
        if norms:
            logs = [math.log10(v) for v in norms.values() if v > 0 and math.isfinite(v)]
            if logs:
                lo, hi = min(logs), max(logs)
        body = g.body
        coloured = False
        for i, step in enumerate(sorted(clusters, key=step_sort_key)):
            label = step_label(step)
            fill = CLUSTER_FILL.get(dict(step).get("direction"), CLUSTER_FILL[None])
            if norms is not None and step in norms:
                label += f"\n‖g‖={_fmt_norm(norms[step])}"
                fill = _grad_colour(norms[step], lo, hi)
                coloured = True
            body.append(f"\tsubgraph cluster_{i} {{\n")
            body.append(f"\t\tgraph [label={_q(label)} fillcolor={_q(fill)} {CLUSTER_STYLE}]\n")
            body.extend(f"\t\t{line}\n" for line in clusters[step])
            body.append("\t}\n")
        body.extend(f"\t{line}\n" for line in outside)
        if coloured:
            text = (
                "cluster colour: norm of the gradient\nflowing into the step's state\n"
                f"pale {_fmt_norm(10**lo)}  …  strong {_fmt_norm(10**hi)}"
            )
            body.append(f"\t{_node('legend', text, 'legend')}\n")
        flip = self.backward
        for src, dst, attrs in edges:
            if flip:
                src, dst = dst, src
            body.append(f"\t{src} -> {dst} [{attrs}]\n" if attrs else f"\t{src} -> {dst}\n")


def _q(value) -> str:
    """A DOT string literal; newlines become DOT's centred line break."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs: dict) -> str:
    return " ".join(f"{k}={_q(v)}" for k, v in attrs.items())


STYLE_TEXT = {kind: _attrs(style) for kind, style in STYLES.items()}
PARAM_EDGE = _attrs(PARAM_EDGE_ATTRS)
STATE_EDGE = _attrs(STATE_EDGE_ATTRS)
CLUSTER_STYLE = _attrs({"style": "rounded,filled", "color": "#9aa5b1", "fontsize": "10"})


def _node(name: str, label: str, kind: str, extra: str = "") -> str:
    return f"{name} [label={_q(label)} {STYLE_TEXT[kind]}{extra}]"
