"""``draw``: an unrolled computation graph laid out like the lecture's figure.

The picture (rankdir "BT", the default): one column per time step, left to
right; the input x_t below each step and its output y_t above; h (and c)
flowing horizontally from step to step (steps drawn as their equations: an
LSTM's c and a GRU's h on one level through the steps, the gates in the same
order in each); one row per layer and direction, layer 0 at the bottom, a
reverse direction on its own row with its state arrows running right to left.
Each row's shared weights are drawn once, in a node at the row's start, and
named inside every step that uses them. The forward cells, x_t and y_t of one
step share a Graphviz group, which keeps the column straight, and the reverse
cells one beside it, so that the arrows into a row above pass between the cells
of the rows below, inside their column.

How it is built:

1. ``Graph`` collects the nodes behind the roots with an explicit stack.
2. Each node goes into a *box*: its own (detail="op" and "literal"), its cell
   invocation's (detail="cell": nodes sharing one ``cell`` tag) or its module
   call's (detail="module"). At detail="op" a fused step becomes the nodes
   of its equations (``equations.py``) and ops that only rearrange data
   (reshape, permute, split ...) are looked through; "literal" shows every
   recorded op as it is.
3. Nodes outside the steps but inside the module that runs the loop (the
   input projection of all steps in one GEMM, the output collection, the
   concatenation between layers) are *glue*: the drawing replaces them by
   per-step edges, x_t -> step t, step t of layer k -> step t of layer k+1,
   step t -> y_t, since that is what they compute, step by step.
4. Steps in the middle of a long sequence are elided: one "… n steps …" node
   per row. A graph without time steps is elided too when it is large: the
   first and last boxes in order of creation, "… n ops …" between them.
"""

from __future__ import annotations

import gc
import math

from .equations import GATE_KEYS, OP_LABELS, label_of, template
from .graph import Graph, as_roots, format_shape, split_step, step_label, step_sort_key

DETAILS = ("cell", "op", "literal", "module")
DIRECTIONS = ("forward", "backward")
RANKDIRS = ("BT", "TB", "LR", "RL")
# Ops that only rearrange their input. Outside the steps, one applied to a parameter
# is drawn as the parameter (``W.T`` computed once before the loop); at detail="op"
# they are looked through everywhere.
VIEW_OPS = frozenset(
    ("Reshape", "Permute", "Transpose", "Expand", "GetItem", "Split", "Cast", "Clone", "ToDevice", "Squeeze",
     "Unsqueeze", "Contiguous")
)  # fmt: skip
# A node that hands one weight to every step (its backward sums the steps' terms):
# drawn as the weight itself.
SHARED_WEIGHT_OPS = frozenset(("SharedWeight",))
# Fused nodes with a cell state: output 1 is c; input 2 is c_{t-1}, input 1 h_{t-1}.
C_STATE_OPS = frozenset(("LSTMStep", "LSTMCellOp", "ConvLSTMCellOp"))
H_INPUT_OPS = frozenset(("LSTMStep", "GRUStep", "RNNStep", "LSTMCellOp", "GRUCellOp", "RNNCellOp"))
# detail="op": the gates that sit side by side in every step, in this order left to right
# (the forget gate first, next to where c comes in; then what c gains, then the output gate).
GATE_ORDER = (("f", "i", "g", "o"), ("z", "r"))
# Where the arrows into 2, 3 or 4 gates leave the node they all read, left to right: sides and top
# only (a corner of a wide ellipse lies outside it, and Graphviz then loses the arrow).
GATE_PORTS = {2: ("w", "e"), 3: ("w", "n", "e"), 4: ("w", "n", "n", "e")}
# The state lines, level across a row as in the lecture's figures: an LSTM's c runs through f·c
# into c, a GRU's h through z·h into h; the previous step's state enters the first, the second
# hands it on.
STATE_LINES = (("f*c", "c"), ("z*h", "h_gru"))
# detail="op": the weight of the arrow from a step's h to its y_t (see _y_nodes)
Y_WEIGHT = 8
DEFAULT_FULL = 8  # max_steps=None draws sequences up to this long in full ...
DEFAULT_KEEP = 6  # ... and keeps the first 3 and the last 3 steps of longer ones
MAX_PLAIN = 240  # a graph without time steps draws at most this many boxes ...
PLAIN_KEEP = 60  # ... the first and last 60 of them when it has more

FONT = "Helvetica"
STYLES = {
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#ececec", "color": "#7f7f7f"},
    "gate": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fff4c2", "color": "#8a7400"},
    "cell": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#fff0a8", "color": "#8a7400"},
    "module": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#ffd6a5", "color": "#a0522d"},
    "param": {"shape": "box", "style": "filled", "fillcolor": "#c6dbff", "color": "#3d6cb9"},
    "weights": {"shape": "box", "style": "filled", "fillcolor": "#dfe9ff", "color": "#3d6cb9", "fontsize": "9"},
    "leaf": {"shape": "note", "style": "filled", "fillcolor": "#c6dbff", "color": "#3d6cb9"},
    "input": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f4f4f4", "color": "#9a9a9a"},
    "const": {"shape": "box", "style": "rounded,dashed", "color": "#9a9a9a", "fontsize": "9"},
    "state0": {"shape": "plaintext", "fontsize": "12"},
    "output": {"shape": "box", "style": "rounded,filled", "fillcolor": "#c8efc8", "color": "#2e7d32"},
    "elided": {"shape": "box", "style": "rounded,dashed", "color": "#8c8c8c", "fontcolor": "#555555"},
    "legend": {"shape": "plaintext", "fontsize": "9"},
    "corner": {"shape": "point", "width": "0.01", "height": "0.01", "color": "#1f1f1f"},
}
CLUSTER_FILL = {None: "#f2f6fc", 0: "#f2f6fc", 1: "#fcf2f4"}  # by direction
PARAM_EDGE_ATTRS = {"color": "#5b84d1", "arrowsize": "0.6", "penwidth": "0.8"}
STATE_EDGE_ATTRS = {"penwidth": "1.6", "color": "#1f1f1f"}


def draw(
    root,
    *,
    detail: str = "cell",
    params=None,
    max_steps: int | None = None,
    show_shapes: bool = True,
    show_grad: bool = False,
    direction: str = "forward",
    rankdir: str = "BT",
):
    """Draw the graph that produced ``root``, unrolled in time like the lecture's figure.

    root: a tensor or a list of tensors (e.g. the loss, or an RNN's output).
    detail: "cell" (one box per recurrent step), "op" (each step as its
        equations, gates named i, f, g (c̃), o / r, z, n, the same for fused
        and composed layers; reshapes and splits looked through), "literal"
        (every recorded op as it is) or "module" (one box per call of each
        top-level module).
    params: names for leaf tensors, ``{name: tensor}`` or an iterable of
        ``(name, tensor)`` pairs such as ``model.named_parameters()``. A
        module's parameters are named automatically, even when the module
        was a temporary (names are recorded when it is called).
    max_steps: at most this many steps (>= 2) of each row are drawn: the
        first ``ceil(k/2)`` and the last ``floor(k/2)``, with one "… n steps …"
        node for the rest. None: rows of up to 8 steps in full, longer ones as
        3 + 3. A graph without time steps keeps its first and last 60 boxes
        when it has more than 240.
    show_shapes: label edges and parameters with tensor shapes.
    show_grad: run a backward pass (seeded with ones; no ``.grad`` changes;
        the graph must still hold its saved arrays) and colour each step by
        the norm of the gradient flowing into its state, on an absolute log
        scale: decades below the largest norm (see ``grad_colour``).
    direction: "forward" (data flow) or "backward" (gradient flow: backward
        functions, edges reversed, from the loss to the parameters).
    rankdir: Graphviz layout direction; "BT" puts inputs at the bottom.

    Returns a ``graphviz.Digraph`` (format "svg") whose ``.render(path,
    format="png")`` works even without a system Graphviz; it displays inline
    in Jupyter. ``.source`` is the DOT text.
    """
    _check_args(detail, max_steps, direction, rankdir)
    roots = as_roots(root, "viz.draw")
    graph = Graph(roots)
    builder = _Builder(graph, detail, _leaf_names(graph.leaves, params), max_steps, show_shapes)
    if show_grad:
        from .gradients import flow_norms

        builder.step_norm, _ = flow_norms(graph, who="viz.draw")
    # The drawing makes a few small objects per node and no reference cycles; the cyclic
    # collector, run over and over while a 100k-node graph is read, would take 2/3 of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return builder.build(rankdir, direction == "backward")
    finally:
        if collecting:
            gc.enable()


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
    from .._tensor import Tensor

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


def short_name(name: str) -> str:
    """``lstm.weight_hh_l1_reverse`` -> ``W_hh``; ``cell.bias_ih`` -> ``b_ih``: the name inside a step."""
    base = name.rsplit(".", 1)[-1]
    for suffix in ("_reverse",):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    head, sep, tail = base.rpartition("_l")
    if sep and tail.isdigit():
        base = head
    if base.startswith("weight"):
        return "W" + base[len("weight") :] if base != "weight" else "W"
    if base.startswith("bias"):
        return "b" + base[len("bias") :] if base != "bias" else "b"
    return base


# -- gradient colours -------------------------------------------------------------------
# Decades below the largest norm -> colour: a fixed palette, so that equal colours mean
# equal ratios in every picture. 0 decades is the strongest; 8 or more, the palest.
GRAD_DECADES = 8
GRAD_STOPS = ((0.0, (0xB2, 0x18, 0x2B)), (0.25, (0xEF, 0x6F, 0x4C)), (0.5, (0xFD, 0xB8, 0x63)),
              (0.75, (0xFE, 0xE8, 0xC8)), (1.0, (0xF7, 0xF7, 0xF7)))  # fmt: skip


def grad_colour(norm: float, top: float) -> str:
    """Fill colour for a gradient norm, given the largest norm in the picture.

    Absolute log scale: the colour depends on log10(top / norm) only, with
    ``GRAD_DECADES`` decades from the strongest colour to the palest. Norms
    within a few percent of each other look the same; a gradient that
    vanished by 8 decades is almost white. Zero: white; inf/nan: black."""
    if not math.isfinite(norm):
        return "#000000"
    if norm <= 0 or top <= 0:
        return "#ffffff"
    f = min(max(math.log10(top / norm) / GRAD_DECADES, 0.0), 1.0)
    for (f0, c0), (f1, c1) in zip(GRAD_STOPS, GRAD_STOPS[1:]):
        if f <= f1:
            u = (f - f0) / (f1 - f0)
            return "#" + "".join(f"{round(a + (b - a) * u):02x}" for a, b in zip(c0, c1))
    return "#f7f7f7"


def _fmt_norm(x: float) -> str:
    return f"{x:.2e}"


class _Box:
    __slots__ = ("key", "kind", "label", "sid", "row", "t", "fn", "gen", "name", "params", "lines")

    def __init__(self, key, kind, label, sid, fn):
        self.key, self.kind, self.label, self.sid, self.fn = key, kind, label, sid, fn
        self.row = self.t = None
        if sid is not None:
            self.row, self.t = (sid[0], split_step(sid[1])[0]), split_step(sid[1])[1]
        self.gen = fn.generation
        self.name = None
        self.params = {}  # id(leaf) -> leaf the box reads as a row weight (named in it)
        self.lines = None  # detail="op" template: (nodes, outputs)


class _Builder:
    """Turns a Graph into DOT; one instance per ``draw`` call."""

    def __init__(self, graph, detail, names, max_steps, show_shapes):
        self.graph = graph
        self.detail = detail
        self.names = names
        self.max_steps = max_steps
        self.show_shapes = show_shapes
        self.step_norm = None  # step key -> norm, when show_grad
        self.depth = _module_depth(graph) if detail == "module" else 0
        self.lecture = detail in ("cell", "op")
        # filled while drawing
        self.unnamed = {}  # id(leaf) -> "w1", "w2" ... for leaves without a name
        self.const_names = {}  # constant input key -> DOT name
        self.xcol, self.ycol = {}, {}  # t -> names of the x_t / y_t nodes (one row each)
        self.state0 = {}  # row -> names of its initial-state nodes
        self.glue_w = {}  # glue box key -> short names of the weights it reads
        self.anchors = {}  # (row, t) -> (first, last) DOT names of that step
        self.yall = []
        self.step_index = self.row_members = self.slots = self.twins = None
        self.corners = 0  # corner points of the state arrows between steps drawn as equations
        self.columns = None  # t -> Graphviz group of that step's column
        self.x_inside = set()  # x_t nodes drawn inside their step (detail="op")
        self.occurrence = {}  # id(fn) -> (op name, how many ops of that name came before it in its step)
        self.gates = {}  # (row, t) -> {gate key: DOT name} of a step drawn as its equations
        self.line_ends = None  # (names of the nodes that end a state line, of those that start one)
        self.line_edges = []  # state arrows along a line, drawn after the others (see _line_edges)
        self.branch = {}  # DOT name of a state -> the corner beside it where its arrow turns down
        self.after_input = {}  # box key -> whether it reads, in its step, a value computed from x_t

    # -- 1. what each node is drawn as -----------------------------------------------------
    def _views(self):
        """(id(fn) -> leaf for views of one leaf; id(fn) -> (parent, idx) for ops to look through).

        Also fills ``self.sliced``: id(fn) -> shape for ``x[t]`` taken inside step t from a
        leaf input sequence x (T, ...) that is not a Parameter: drawn as the input x_t."""
        param_of, through = {}, {}
        self.sliced = {}
        if self.detail == "literal":
            return param_of, through
        info = self.graph.info
        look_through = self.detail == "op"
        for fn in self.graph.fns:
            name = fn.name.lstrip("_")
            shared = name in SHARED_WEIGHT_OPS
            if name not in VIEW_OPS and not shared:
                continue
            tensors = [(p, i) for p, i in fn.parents if p is not None]
            if len(tensors) != 1:
                continue
            p, i = tensors[0]
            if name == "GetItem" and i < 0 and type(p).__name__ != "Parameter" and info[id(fn)].step is not None:
                shape = tuple(fn.out_meta[0][0])
                if shape == tuple(p.shape[1:]):
                    self.sliced[id(fn)] = shape
                    continue
            leaf = p if i < 0 else param_of.get(id(p))
            if leaf is not None:  # W.T, W[:, :C]: drawn as W, inside the steps too
                param_of[id(fn)] = leaf
            elif look_through or shared:
                through[id(fn)] = through.get(id(p), (p, i)) if i >= 0 else (p, i)
        return param_of, through

    def _box_for(self, fn, s):
        detail = self.detail
        sid = (s.loop_module, s.step) if s.step is not None else None
        if detail == "module" and len(s.modules) > self.depth:
            path, enclosing = s.modules[self.depth]
            step = enclosing if any(k == "t" for k, _ in enclosing) else None
            modpath = tuple(m for m, _ in s.modules[: self.depth + 1])
            return ("m", step, modpath), "module", path, (s.loop_module, step) if step is not None else None
        if detail == "cell" and s.cell is not None:
            cell = s.cell
            label = cell[0] if isinstance(cell, tuple) and cell else str(cell)
            csid = (s.loop_module, s.cell_step) if s.cell_step is not None else None
            return ("c", csid, cell), "cell", str(label), csid
        name = fn.name.lstrip("_")
        if detail == "op":
            label = getattr(fn, "label", None)
            if label is not None:
                return ("o", id(fn)), "gate", label, sid
            return ("o", id(fn)), "op", OP_LABELS.get(name, name), sid
        return ("o", id(fn)), "op", name, sid

    def _boxes(self):
        graph, info = self.graph, self.graph.info
        self.param_of, self.through = self._views()
        boxes, box_of = {}, {}
        cache = {}
        for fn in graph.fns:
            if id(fn) in self.param_of or id(fn) in self.through or id(fn) in self.sliced:
                continue
            s = info[id(fn)]
            hit = cache.get(id(s)) if self.detail in ("cell", "module") else None
            if hit is None:
                hit = self._box_for(fn, s)
                if hit[1] in ("cell", "module"):
                    cache[id(s)] = hit
            key = hit[0]
            box_of[id(fn)] = key
            box = boxes.get(key)
            if box is None:
                box = boxes[key] = _Box(key, hit[1], hit[2], hit[3], fn)
                if self.detail == "op" and hit[1] == "op":
                    box.lines = template(fn, len(fn.parents))
                    if box.lines is not None:
                        box.kind = "template"
        self.boxes, self.box_of = boxes, box_of

    def resolve(self, parent, idx):
        """A parent slot -> ("leaf", leaf) | ("const", shape) | ("box", box, fn, idx)."""
        while True:
            if parent is None:
                return ("const", idx)
            if idx < 0:
                return ("leaf", parent)
            if id(parent) in self.sliced:
                return ("const", self.sliced[id(parent)])
            leaf = self.param_of.get(id(parent))
            if leaf is not None:
                return ("leaf", leaf)
            nxt = self.through.get(id(parent))
            if nxt is None:
                return ("box", self.boxes[self.box_of[id(parent)]], parent, idx)
            parent, idx = nxt

    # -- 2. glue: the loop module's nodes outside the steps ---------------------------------
    def _glue(self):
        """Mark the boxes that the drawing replaces by per-step edges (see the module docstring)."""
        boxes, info = self.boxes, self.graph.info
        loops = {b.sid[0] for b in boxes.values() if b.sid is not None} - {None}
        self.glue = {}  # box key -> (rows it reads, entries it reads)
        if not self.lecture or not loops:
            return
        parents = self.parents
        candidates = [
            b for b in boxes.values()
            if b.sid is None and b.kind in ("op", "gate", "template") and info[id(b.fn)].loop_module in loops
        ]  # fmt: skip
        candidates.sort(key=lambda b: b.gen)
        up = {}
        partial = set()  # boxes that read some steps of a row but not all (h_n: the last step's h)
        for b in candidates:
            rows, entries, is_up = set(), set(), False
            direct = {}
            for _, src in parents[b.key]:
                if src[0] == "box":
                    pb = src[1]
                    if pb.sid is not None:
                        rows.add(pb.row)
                        direct.setdefault(pb.row, set()).add(pb.t)
                        is_up = True
                        continue
                    g = up.get(pb.key)
                    if g is not None:
                        rows |= g[0]
                        entries |= g[1]
                        is_up = is_up or bool(g[0])
                        continue
                    entries.add(("box", pb.key, src[3]))
                elif src[0] == "const":
                    if src[1]:  # a scalar constant (1 - z) is not an input sequence
                        entries.add(("const", tuple(src[1])))
                elif type(src[1]).__name__ != "Parameter":
                    entries.add(("leaf", id(src[1])))
            up[b.key] = (rows, entries)
            if any(len(ts) < len(self.row_ts.get(r, ())) for r, ts in direct.items()):
                partial.add(b.key)
        # keep a candidate when it feeds a step, or when its output is a sequence (T, ...)
        down = set()
        consumers = self.consumers
        for b in reversed(candidates):
            if any(c.sid is not None or c.key in down for c in consumers.get(b.key, ())):
                down.add(b.key)
        for b in candidates:
            rows, entries = up[b.key]
            if b.key in partial:
                continue
            if b.key in down:
                self.glue[b.key] = (rows, entries)
            elif rows:
                T = len({t for r in rows for t in self.row_ts.get(r, ())})
                shapes = b.fn.out_meta
                if T and all(len(sh) and sh[0] == T for sh, _ in shapes):
                    self.glue[b.key] = (rows, entries)

    # -- 3. rows, columns, elision -----------------------------------------------------------
    def _rows(self):
        row_ts, first_gen = {}, {}
        for b in self.boxes.values():
            if b.sid is None:
                continue
            row_ts.setdefault(b.row, set()).add(b.t)
            first_gen[b.row[0]] = min(first_gen.get(b.row[0], b.gen), b.gen)
        order = sorted(row_ts, key=lambda r: (first_gen[r[0]], step_sort_key(r[1])))
        self.rows = order
        self.xsteps = {t for ts in row_ts.values() for t in ts}
        self.row_ts = {r: sorted(ts, key=lambda t: step_sort_key((("t", t),))) for r, ts in row_ts.items()}
        self.elided, self.elided_count = {}, {}
        for r in order:
            ts = self.row_ts[r]
            n = len(ts)
            k = self.max_steps if self.max_steps is not None else (n if n <= DEFAULT_FULL else DEFAULT_KEEP)
            if n > k:
                first, last = (k + 1) // 2, k // 2
                self.elided[r] = set(ts[first : n - last])
                self.elided_count[r] = n - first - last

    def _plain_elision(self):
        """A graph without steps: keep the first and last boxes by creation order when it is large."""
        self.plain_cut = None
        boxes = [b for b in self.boxes.values() if b.sid is None]
        if len(boxes) <= MAX_PLAIN:
            return
        boxes.sort(key=lambda b: b.fn.seq)
        self.plain_cut = {b.key for b in boxes[PLAIN_KEEP:-PLAIN_KEEP]}

    def _is_elided(self, b):
        return b.sid is not None and b.t in self.elided.get(b.row, ())

    # -- 4. DOT -------------------------------------------------------------------------
    def build(self, rankdir, backward):
        from .render import Digraph

        self.backward = backward
        g = Digraph(
            "unrolled",
            format="svg",
            # newrank: rank the whole graph at once, so rows line up across step clusters
            graph_attr={"rankdir": rankdir, "fontname": FONT, "fontsize": "11", "nodesep": "0.22",
                        "ranksep": "0.3", "newrank": "true", "labelloc": "t"},  # fmt: skip
            node_attr={"fontname": FONT, "fontsize": "10", "height": "0.3", "margin": "0.06,0.03"},
            edge_attr={"fontname": FONT, "fontsize": "9", "color": "#404040", "arrowsize": "0.7"},
        )
        self._boxes()
        self._wire()
        self._rows()
        self._glue()
        self._plain_elision()
        self.out = _Out(g.body)
        self._emit()
        return g

    def _wire(self):
        """parents[box key] = [(position, resolved source)], consumers[box key] = [box]."""
        parents, consumers = {}, {}
        for fn in self.graph.fns:
            key = self.box_of.get(id(fn))
            if key is None:
                continue
            box = self.boxes[key]
            lst = parents.setdefault(key, [])
            for pos, (p, idx) in enumerate(fn.parents):
                src = self.resolve(p, idx)
                if src[0] == "box" and src[1] is box:
                    continue
                lst.append(((fn, pos), src))
                if src[0] == "box":
                    consumers.setdefault(src[1].key, []).append(box)
        self.parents, self.consumers = parents, consumers

    def _emit(self):
        out = self.out
        boxes, glue = self.boxes, self.glue
        row_params = self._row_params()
        names = iter(range(10**9))
        for b in boxes.values():
            if b.key in glue or self._is_elided(b) or (self.plain_cut and b.key in self.plain_cut):
                continue
            b.name = f"n{next(names)}"
        # elision nodes, one per row
        self.ellipsis = {r: f"e{i}" for i, r in enumerate(self.elided)}
        for r, name in self.ellipsis.items():
            n = self.elided_count[r]
            # in a cluster of its own: Graphviz then keeps it in line with the row's steps
            out.node(("…", r), name, f"… {n} step{'s' if n != 1 else ''} …", "elided")
        if self.plain_cut:
            out.node(None, "eplain", f"… {len(self.plain_cut)} ops …", "elided")
        self._step_nodes()
        self._row_weights(row_params)
        self._edges()
        self._layout()
        self._legend()
        out.flush(self)

    # -- parameters ---------------------------------------------------------------------------
    def _row_params(self):
        """Parameters that a row's steps (or its glue) read: drawn once in the row's weight node."""
        self.row_weights = {}  # row -> {id: leaf}
        self.param_row = {}  # id(leaf) -> row that draws it
        if not self.lecture:
            return
        info = self.graph.info
        rows_by_pairs = {}
        for r in self.rows:
            rows_by_pairs.setdefault((r[0], r[1]), r)
        for b in sorted(self.boxes.values(), key=lambda b: b.gen):
            if b.sid is not None:
                row = b.row
            elif b.key in self.glue:
                s = info[id(b.fn)]
                row = rows_by_pairs.get((s.loop_module, s.pairs))
                if row is None:
                    consumers = [c for c in self.consumers.get(b.key, ()) if c.sid is not None]
                    row = consumers[0].row if consumers else None
                if row is None:
                    continue
            else:
                continue
            for _, src in self.parents[b.key]:
                if src[0] != "leaf":
                    continue
                leaf = src[1]
                if id(leaf) not in self.param_row and leaf.requires_grad:
                    self.param_row[id(leaf)] = row
                    self.row_weights.setdefault(row, {})[id(leaf)] = leaf
        for row, leaves in self.row_weights.items():  # weights before biases, input side first

            def key(item):
                name = short_name(self.leaf_name(item[1]))
                return (not name.startswith("W"), "hh" in name or "hr" in name, self.leaf_name(item[1]))

            self.row_weights[row] = dict(sorted(leaves.items(), key=key))
        return self.row_weights

    def leaf_name(self, leaf) -> str:
        name = self.names.get(id(leaf))
        if name:
            return name
        unnamed = self.unnamed
        if id(leaf) not in unnamed:
            unnamed[id(leaf)] = f"w{len(unnamed) + 1}"
        return unnamed[id(leaf)]

    def _row_weights(self, row_params):
        out = self.out
        self.weight_nodes = {}
        for i, (row, leaves) in enumerate(self.row_weights.items()):
            lines = ["shared by every step:"]
            for leaf in leaves.values():
                text = self.leaf_name(leaf)
                if self.show_shapes:
                    text += "  " + format_shape(leaf.shape)
                lines.append(text)
            name = f"w{i}"
            self.weight_nodes[row] = name
            out.node(None, name, "\n".join(lines), "weights")

    # -- the steps' nodes ------------------------------------------------------------------
    def _step_nodes(self):
        out = self.out
        norms = self.step_norm
        for b in self.boxes.values():
            if b.name is None:
                continue
            label = b.label
            if self.backward:
                label = label + "Backward" if b.kind == "op" else f"{label}\nbackward"
            if b.kind == "template":
                self._template_nodes(b)
                continue
            used = self._used_weights(b)
            if used and b.kind in ("cell", "op", "gate"):
                label += ("\n" if b.kind == "cell" else " · ") + " ".join(used)
            fill = None
            if norms is not None and b.kind == "cell" and b.sid is not None and b.sid[1] in norms:
                fill = grad_colour(norms[b.sid[1]], self.top_norm)
            group = self._column(b.t, self._is_reverse_row(b.row)) if b.kind == "cell" else None
            out.node(b.sid, b.name, label, b.kind, fill=fill, group=group)
            if b.kind == "gate" and b.sid is not None and b.label in GATE_KEYS:
                self.gates.setdefault((b.row, b.t), {})[GATE_KEYS[b.label]] = b.name

    def _used_weights(self, b, positions=None) -> list:
        """Short names of the row weights box ``b`` reads, in the order of the row's weight node."""
        used = {}
        for (_, pos), src in self.parents.get(b.key, ()):
            if src[0] == "leaf" and id(src[1]) in self.param_row and (positions is None or pos in positions):
                used[id(src[1])] = src[1]
        order = list(self.row_weights.get(self.param_row[next(iter(used))], {})) if used else []
        names = []
        for key in sorted(used, key=lambda k: order.index(k) if k in order else len(order)):
            n = short_name(self.leaf_name(used[key]))
            if n not in names:
                names.append(n)
        return names

    def _template_nodes(self, b):
        """A fused step at detail="op": the nodes of its equations, named after ``b.name``."""
        nodes, _ = b.lines
        by_pos = {pos: src for (fn, pos), src in self.parents.get(b.key, ())}
        for local, key, srcs in nodes:
            label = label_of(key)
            used = [
                short_name(self.leaf_name(by_pos[s][1])) for s in srcs
                if isinstance(s, int) and s in by_pos and by_pos[s][0] == "leaf" and id(by_pos[s][1]) in self.param_row
            ]  # fmt: skip
            if used:
                label += " · " + " ".join(used)
            kind = "op" if key in OP_LABELS else "gate"
            self.out.node(b.sid, f"{b.name}_{local}", label, kind)
            if kind == "gate":
                self.gates.setdefault((b.row, b.t), {})[key] = f"{b.name}_{local}"
            for src in srcs:
                if isinstance(src, str):
                    self.out.edge(f"{b.name}_{src}", f"{b.name}_{local}", "")

    # -- edges --------------------------------------------------------------------------------
    def _targets(self, b, pos):
        """DOT names of the nodes of box ``b`` that read its input ``pos`` (several for a template)."""
        if b.kind != "template":
            return [b.name]
        nodes, _ = b.lines
        return [f"{b.name}_{local}" for local, _, srcs in nodes if pos in srcs] or [f"{b.name}_{nodes[0][0]}"]

    def _source(self, b, idx):
        """DOT name of the node of box ``b`` behind its output ``idx``."""
        if b.kind == "template":
            nodes, outs = b.lines
            return f"{b.name}_{outs[min(idx, len(outs) - 1)]}"
        return b.name

    def _state_role(self, fn, idx) -> str:
        """"c" for an LSTM's cell state, else "h" (the output of a step)."""
        if fn.name in C_STATE_OPS and idx == 1:
            return "c"
        from ..nn.recurrent.equations import GATE_LABELS

        return "c" if getattr(fn, "label", None) == GATE_LABELS["c"] else "h"

    def _input_role(self, fn, pos) -> str:
        """What a step node's input ``pos`` is when it comes from outside: "h", "c", "x",
        or "" for something else carried from step to step (a running sum)."""
        from ..nn.recurrent.equations import GATE_LABELS

        if fn.name in H_INPUT_OPS:
            return {1: "h", 2: "c" if fn.name in C_STATE_OPS else "x"}.get(pos, "x")
        if fn.name == "ConvLSTMCellOp":
            return "c" if pos == len(fn.parents) - 1 and getattr(fn, "has", (0, 1))[-1] else "x"
        label = getattr(fn, "label", None)
        if label == GATE_LABELS["f*c"]:
            return "c"
        if label == GATE_LABELS["z*h"]:
            return "h"
        if fn.name == "MatMul":
            for p, i in fn.parents:
                src = self.resolve(p, i)
                if src[0] == "leaf" and "hh" in self.leaf_name(src[1]):
                    return "h"
                if src[0] == "leaf" and "ih" in self.leaf_name(src[1]):
                    return "x"
        # a hand-written loop: the input is a state when the same input of the same op takes
        # the previous step's state at the other steps (never guessed from its shape: x_t may look alike)
        role = self._slots_of(fn).get(self.occurrence.get(id(fn), (None, 0)) + (pos,))
        return "x" if role is None else role

    def _slots_of(self, fn) -> dict:
        """The carried inputs of the row ``fn`` belongs to (see ``_carried``)."""
        s = self.graph.info[id(fn)]
        if s.step is None:
            return {}
        if self.slots is None:
            self.slots = self._carried()
        return self.slots.get((s.loop_module, split_step(s.step)[0]), {})

    def _carried(self) -> dict:
        """row -> {(op name, occurrence in its step, input position): role} for the inputs that
        take what the previous step hands on: "h" or "c" for a state, "" for anything else.

        Read off one step of each row (the second in the state's flow: every step runs the
        same code, so the k-th op of a name is the same op in each). A carried value is a state
        when, inside the step, it reaches everything the step hands on: h_{t-1} feeds h_t and a
        running loss, while the loss of step t-1 feeds only the loss of step t."""
        info = self.graph.info
        steps = {}
        for fn in self.graph.fns:
            s = info[id(fn)]
            if s.step is not None:
                seq, t = split_step(s.step)
                steps.setdefault(((s.loop_module, seq), t), []).append(fn)
        occurrence = self.occurrence
        for fns in steps.values():
            fns.sort(key=lambda f: f.seq)
            count = {}
            for f in fns:
                occurrence[id(f)] = (f.name, count.get(f.name, 0))
                count[f.name] = count.get(f.name, 0) + 1
        slots = {}
        for row, ts in self.row_ts.items():
            if len(ts) < 2:
                continue
            fns = steps.get((row, ts[-2] if self._is_reverse_row(row) else ts[1]), ())
            ids = {id(f) for f in fns}
            carried, children = [], {}
            for f in fns:
                for pos, (p, i) in enumerate(f.parents):
                    if p is None or i < 0:
                        continue
                    if id(p) in ids:
                        children.setdefault(id(p), []).append(f)
                        continue
                    sp = info[id(p)]
                    if sp.step is not None and (sp.loop_module, split_step(sp.step)[0]) == row:
                        carried.append((f, pos, p, i))
            handed = {occurrence[id(p)] for _, _, p, _ in carried}
            handed = [id(f) for f in fns if occurrence[id(f)] in handed]
            here = slots[row] = {}
            for f, pos, p, i in carried:
                reach, stack = set(), [f]
                while stack:
                    g = stack.pop()
                    if id(g) not in reach:
                        reach.add(id(g))
                        stack.extend(children.get(id(g), ()))
                state = all(h in reach for h in handed)
                here[occurrence[id(f)] + (pos,)] = self._state_role(p, i) if state else ""
        return slots

    def _edges(self):
        out, boxes, glue = self.out, self.boxes, self.glue
        # where each row's state starts: t=0, or the last step for a reverse direction
        self.first_t = {r: ts[-1] if self._is_reverse_row(r) else ts[0] for r, ts in self.row_ts.items()}
        self.xnodes, self.ynodes = {}, {}
        self.pending = {}
        self.state0_nodes = {}
        seen = set()
        shown_param = {}
        for b in sorted(boxes.values(), key=lambda b: b.gen):
            if b.key in glue:
                continue
            dst_elided = b.name is None
            for (fn, pos), src in self.parents.get(b.key, ()):
                kind = src[0]
                if dst_elided:
                    if kind == "box" and src[1].name is not None and b.sid is not None:
                        self._edge_to_ellipsis(src[1], b, seen, src[2], src[3])
                    continue
                targets = self._targets(b, pos)
                if kind == "leaf":
                    leaf = src[1]
                    if id(leaf) in self.param_row:
                        continue  # a row weight: named in the step, drawn once in the row's node
                    name = shown_param.get(id(leaf))
                    if name is None:
                        name = shown_param[id(leaf)] = f"p{len(shown_param)}"
                        self._leaf_node(leaf, name, b, fn, pos)
                    for t in targets:
                        if (name, t) not in seen:
                            seen.add((name, t))
                            out.edge(name, t, PARAM_EDGE if not leaf_is_state(leaf, self, b, fn, pos) else "")
                    continue
                if kind == "const":
                    if not src[1] or self.backward:
                        continue
                    role = self._input_role(fn, pos) if b.sid is not None else "x"
                    if role == "x" and b.sid is not None and self._after_input(b):
                        role = "const"  # computed from the step's input (log_softmax's max): not an input
                    self._const_node(b, role, src[1], targets, seen)
                    continue
                pb, pfn, pidx = src[1], src[2], src[3]
                if pb.key in glue:
                    self._glue_edges(pb, b, targets, seen)
                    continue
                if pb.name is None:
                    if pb.sid is not None and b.sid is not None and pb.row == b.row:
                        self._edge_from_ellipsis(pb, b, targets, seen, self._input_role(fn, pos))
                    elif self.plain_cut and pb.key in self.plain_cut:
                        for t in targets:
                            if ("eplain", t) not in seen:
                                seen.add(("eplain", t))
                                out.edge("eplain", t, "")
                    continue
                self._box_edge(pb, pfn, pidx, b, fn, pos, targets, seen)
        for (src, t), (pb, b, roles, attrs, extra) in self.pending.items():
            a = [x for x in attrs if not x.startswith("xlabel=")]
            text = "\n".join(x for x in [", ".join(sorted(filter(None, roles), key=lambda r: r != "h")), *extra] if x)
            if text:
                a.append("xlabel=" + _q(text))
            self._state_edge(pb, b, src, t, a)
        self._line_edges()
        self._initial_states()
        self._outputs(seen)

    def _box_edge(self, pb, pfn, pidx, b, fn, pos, targets, seen):
        src = self._source(pb, pidx)
        same_row = pb.sid is not None and b.sid is not None and pb.row == b.row and pb.t != b.t
        attrs = []
        if same_row:
            role = self._state_role(pfn, pidx)
            plain = not {pb.kind, b.kind} & {"cell", "template"} and getattr(pfn, "label", None) is None
            if plain and role == "h" and self._input_role(fn, pos) != "h":
                role = ""  # a hand-written loop carries other things too (a running loss): no name for those
            attrs.append(STATE_EDGE)
            text = role
        else:
            text = "h" if pb.sid is not None and b.sid is not None and pb.row != b.row else ""
        lines = [text] if text else []
        shape = pfn.out_meta[pidx][0]
        if self.show_shapes and len(shape) and not text:
            lines.append(format_shape(shape))
        if lines:
            # xlabel: a label that does not take part in the layout (flat edges stay straight); also
            # inside a step drawn op by op, where a labelled arrow would move the gates and the state lines
            in_step = self.detail == "op" and pb.sid is not None and pb.sid == b.sid
            key = "xlabel" if same_row or in_step else "label"
            attrs.append(f"{key}=" + _q(" ".join(lines[:1]) + ("\n" + "\n".join(lines[1:]) if lines[1:] else "")))
        for t in targets:
            if same_row and self.detail == "cell":
                # h and c of one step travel on one arrow, labelled "h, c"
                pend = self.pending.setdefault((src, t), [pb, b, [], attrs, []])
                if text not in pend[2]:
                    pend[2].append(text)
                pend[4].extend(x for x in (lines[1:] if text else lines) if x not in pend[4])
                continue
            ek = (src, t, text)
            if ek in seen:
                continue
            seen.add(ek)
            if same_row:
                self._state_edge(pb, b, src, t, list(attrs))
                continue
            self.out.edge(src, t, " ".join(attrs))

    def _state_edge(self, pb, b, src, dst, attrs):
        """A state arrow from step ``pb`` to the next step ``b`` of its row.

        Between two cells: one level arrow. Between steps drawn as their equations
        (detail="op"), the arrow leaves its step on the side facing the next step, at the height
        of the node it enters, and runs level into it (through a corner point in ``pb``'s
        step), as h and c run along an unrolled LSTM in the lecture's figure."""
        back = self._reverse_order(pb, b)
        if self._on_line(src, dst):  # along a level state line (see _equation_layout): no corners
            self.line_edges.append((src, dst, attrs))  # all rows run forward (see _level_rows)
            return
        if self.detail != "op" or (pb.kind == "cell" and b.kind == "cell"):
            if pb.kind != "cell" or b.kind != "cell":  # steps of several nodes: keep the ranks of each
                attrs = attrs + ["constraint=false"]
            if back:
                self.out.edge(dst, src, " ".join(attrs + ["dir=back"]), raw=True)
            else:
                self.out.edge(src, dst, " ".join(attrs))
            return
        # src -> a (beside src) -> down the side -> b (beside dst's twin in pb's step) -> dst
        a, z = f"r{self.corners}", f"r{self.corners + 1}"
        self.corners += 2
        for name in (a, z):
            self.out.node(pb.sid, name, "", "corner", group=a)  # one group: the vertical stays straight
        self.branch.setdefault(src, a)
        line = [x for x in attrs if not x.startswith(("xlabel=", "label="))]
        twin = self._twin(pb, b, dst)  # the node of pb's step that plays dst's part: b goes beside it
        self.out.raw(f"{{rank=same; {src}; {a}}}")
        self.out.raw(f"{{rank=same; {z}; {dst}{'; ' + twin if twin else ''}}}")
        self.out.edge(z, a, " ".join(line + ["dir=none"]))
        if back:
            self.out.edge(a, src, " ".join(line + ["dir=none"]))
            self.out.edge(dst, z, " ".join(attrs + ["dir=back"]), raw=True)
            if twin:
                self.out.raw(f"{z} -> {twin} [style=invis]")
        else:
            self.out.edge(src, a, " ".join(line + ["dir=none"]))
            self.out.edge(z, dst, " ".join(attrs))
            if twin:
                self.out.raw(f"{twin} -> {z} [style=invis]")

    def _twin(self, pb, b, dst):
        """DOT name of the node in step ``pb`` that plays the part node ``dst`` plays in step ``b``."""
        if b.kind == "template":
            return pb.name + dst[len(b.name) :] if pb.kind == "template" else None
        self._slots_of(b.fn)  # numbers the ops of each step
        index = self.twins
        if index is None:
            index = self.twins = {}
            for bb in self.boxes.values():
                if bb.sid is not None and bb.name is not None and bb.kind != "template":
                    index[(bb.row, bb.t, self.occurrence.get(id(bb.fn)))] = bb.name
        return index.get((pb.row, pb.t, self.occurrence.get(id(b.fn))))

    def _reverse_order(self, pb, b) -> bool:
        """True when an edge runs from a later step to an earlier one (a reverse row)."""
        return step_sort_key((("t", pb.t),)) > step_sort_key((("t", b.t),))

    def _edge_to_ellipsis(self, pb, b, seen, pfn, pidx):
        name = self.ellipsis.get(b.row)
        if name is None or pb.row != b.row:
            return
        src = self._source(pb, 0)
        if (src, name) in seen:
            return
        seen.add((src, name))
        if self._reverse_order(pb, b):
            self.out.edge(name, src, "dir=back " + STATE_EDGE, raw=True)
        elif self.detail == "op" and self._anchor(pb.row, pb.t)[0] not in (None, src):
            # "…" stands level with the steps' first nodes, below h: a plain arrow from h up into
            # it would turn the step upside down. Like a state arrow between two steps (see
            # _state_edge), it leaves h sideways and goes down beside the step, then level into "…"
            a, z = f"r{self.corners}", f"r{self.corners + 1}"
            self.corners += 2
            for corner in (a, z):
                self.out.node(pb.sid, corner, "", "corner", group=a)
            first = self._anchor(pb.row, pb.t)[0]
            self.out.raw(f"{{rank=same; {src}; {a}}}")
            self.out.raw(f"{{rank=same; {z}; {first}}}")
            self.out.raw(f"{first} -> {z} [style=invis]")
            self.out.edge(src, a, STATE_EDGE + " dir=none")
            self.out.edge(z, a, STATE_EDGE + " dir=none")
            role = self._state_role(pfn, 0 if pb.kind == "template" else pidx)  # src is output 0 of a template
            self.out.edge(z, name, STATE_EDGE + f" xlabel={_q(role)}")
        else:
            self.out.edge(src, name, STATE_EDGE)

    def _edge_from_ellipsis(self, pb, b, targets, seen, role=""):
        name = self.ellipsis.get(pb.row)
        if name is None:
            return
        for t in targets[:1]:
            if (name, t) in seen:
                continue
            seen.add((name, t))
            extra = " constraint=false" if self.detail == "op" else ""
            if self._reverse_order(pb, b):
                self.out.edge(t, name, "dir=back " + STATE_EDGE + extra, raw=True)
                continue
            first = self._anchor(b.row, b.t)[0] if self.detail == "op" else None
            if first is None or t == first:
                self.out.edge(name, t, STATE_EDGE + extra)
                continue
            # a node above the step's first one (an LSTM's f·c, on the c line): level out of "…"
            # to a corner left of the step's first node, straight up, level into the node
            z, a = f"r{self.corners}", f"r{self.corners + 1}"
            self.corners += 2
            for corner in (z, a):
                self.out.node(b.sid, corner, "", "corner", group=z)
            self.out.raw(f"{{rank=same; {z}; {first}}}")
            self.out.raw(f"{{rank=same; {a}; {t}}}")
            self.out.raw(f"{z} -> {first} [style=invis]")
            self.out.edge(name, z, STATE_EDGE + " dir=none")
            self.out.edge(z, a, STATE_EDGE + " dir=none")
            self.out.edge(a, t, STATE_EDGE + (f" xlabel={_q(role)}" if role in ("h", "c") else ""))

    def _const_node(self, b, role, shape, targets, seen):
        """A constant read by a box: h₀ / c₀ at a row's first step, x_t elsewhere in a step, or, for
        role "const", a constant computed inside the step (see ``_after_input``)."""
        out = self.out
        first = b.sid is not None and b.t == self.first_t.get(b.row)
        if role in ("h", "c") and first:
            # one node for the initial states of a step ("h₀, c₀"), written by _initial_states
            entry = self.state0_nodes.setdefault(b.sid, {"name": f"s{len(self.state0_nodes)}", "row": b.row,
                                                         "roles": [], "edges": {}})  # fmt: skip
            if role not in entry["roles"]:
                entry["roles"].append(role)
            for t in targets:
                entry["edges"].setdefault(t, [])
                if role not in entry["edges"][t]:
                    entry["edges"][t].append(role)
            return
        if b.sid is not None and role == "x":
            key = ("x", b.row[0], b.t, shape)  # one x_t for all the rows that read it
            label = f"x{_sub(b.t)}"
        elif role == "const":  # drawn inside its step, beside the op that reads it
            name = self.const_names.get(("k", b.key, shape))
            if name is None:
                name = self.const_names[("k", b.key, shape)] = f"k{len(self.const_names)}"
                out.node(b.sid, name, "const\n" + format_shape(shape) if self.show_shapes else "const", "const")
            for t in targets:
                if (name, t) not in seen:
                    seen.add((name, t))
                    out.edge(name, t, "")
            return
        else:
            key = ("k", b.key, shape)
            label = "input"
        name = self.const_names.get(key)
        if name is None:
            name = self.const_names[key] = f"k{len(self.const_names)}"
            if self.show_shapes:
                label += "\n" + format_shape(shape)
            out.node(self._x_home(b, name) if b.sid is not None else None, name, label, "input",
                     group=self._column(b.t) if b.sid is not None else None)
            if b.sid is not None:
                self.xcol.setdefault(b.t, []).append(name)
        for t in targets:
            if (name, t) not in seen:
                seen.add((name, t))
                out.edge(name, t, "")

    def _after_input(self, b) -> bool:
        """True when box ``b`` of a step reads, inside its step, a value computed from an input the
        step reads (x_t): a constant that ``b`` reads is then part of the step's computation (the max
        that log_softmax subtracts, taken without gradient), not another input."""
        memo = self.after_input
        if b.key in memo:
            return memo[b.key]
        found, stack = {}, [b]
        while stack:  # b's ancestors inside its step
            x = stack.pop()
            if x.key in found or x.key in memo:
                continue
            found[x.key] = x
            stack.extend(src[1] for _, src in self.parents.get(x.key, ()) if src[0] == "box" and src[1].sid == b.sid)
        for x in sorted(found.values(), key=lambda x: x.gen):  # parents first
            ups = [src[1] for _, src in self.parents.get(x.key, ()) if src[0] == "box" and src[1].sid == b.sid]
            memo[x.key] = any(memo[u.key] or self._reads_input(u) for u in ups)
        return memo[b.key]

    def _reads_input(self, b) -> bool:
        """True when box ``b`` reads a constant that is no state (h_{t-1}, c_{t-1}): an input x_t."""
        return any(
            src[0] == "const" and src[1] and self._input_role(fn, pos) not in ("h", "c")
            for (fn, pos), src in self.parents.get(b.key, ())
        )

    def _initial_states(self):
        """The "h₀" / "h₀, c₀" nodes, in the cluster of the step they start, and their arrows."""
        out = self.out
        for sid, entry in self.state0_nodes.items():
            roles = sorted(entry["roles"], key=lambda r: r != "h")
            name = entry["name"]
            out.node(sid, name, ", ".join(f"{r}₀" for r in roles), "state0")
            self.state0.setdefault(entry["row"], []).append(name)
            for t, rs in entry["edges"].items():
                text = ", ".join(sorted(rs, key=lambda r: r != "h"))
                if self._is_reverse_row(entry["row"]):
                    out.edge(t, name, f"dir=back xlabel={_q(text)} {STATE_EDGE}", raw=True)
                else:
                    out.edge(name, t, f"xlabel={_q(text)} {STATE_EDGE}")

    def _is_reverse_row(self, row) -> bool:
        return dict(row[1]).get("direction") == 1

    def _leaf_node(self, leaf, name, b, fn, pos):
        """A leaf drawn on its own: a parameter outside the rows, an initial state, or an input."""
        given = self.names.get(id(leaf))
        is_param = type(leaf).__name__ == "Parameter"
        role = self._input_role(fn, pos) if b.sid is not None else "x"
        if not given and b.sid is not None and role in ("h", "c") and b.t == self.first_t.get(b.row):
            label = "h₀" if role == "h" else "c₀"
        else:
            label = given or ("parameter" if is_param else "leaf")
        if self.show_shapes:
            label += "\n" + format_shape(leaf.shape)
        self.out.node(None, name, label, "param" if is_param or given else "leaf")

    def _glue_edges(self, gb, b, targets, seen):
        """Edges for a step (or box) that reads glue: from the steps at the same t, or from x_t."""
        rows, entries = self.glue[gb.key]
        if b.sid is None:
            self._sequence_out(gb, b, targets, seen)
            return
        # at detail="op" the input arrows name the weight they are multiplied by (the product is
        # computed for all steps at once, outside them); a cell names its weights in its box
        label = " ".join(self._glue_weights(gb)) if self.detail != "cell" else ""
        # Into a cell of a reverse row, each arrow from below is drawn twice, the second time
        # invisible: Graphviz counts a crossing of that pair twice, so the arrow from the forward
        # cell below to the reverse cell above crosses the other diagonal inside the column
        # instead of going around the reverse cell in between (around its h₀ at the last step).
        twice = self.detail == "cell" and b.kind == "cell" and self._is_reverse_row(b.row)
        for r in rows:
            src_b = self._box_at(r, b.t)
            if src_b is None:
                continue
            src = self._source(src_b, 0)
            for t in targets:
                if (src, t) not in seen:
                    seen.add((src, t))
                    self.out.edge(src, t, f"xlabel={_q(label)}" if label else "")
                    if twice:
                        self.out.edge(src, t, "style=invis")
        for e in entries:
            if self.backward and e[0] == "const":
                continue  # no gradient flows into a constant input
            name = self._x_node(e, b)
            for i, t in enumerate(targets):
                if (name, t) not in seen:
                    seen.add((name, t))
                    if twice:  # leaving x_t on its right, so that the reverse cells stay right of the forward ones
                        self.out.edge(name, t, "tailport=ne")
                        self.out.edge(name, t, "tailport=ne style=invis")
                    else:
                        self.out.edge(name, t, f"xlabel={_q(label)}" if label and i == 0 else "")

    def _glue_weights(self, gb) -> list:
        """Short names of the row weights read inside a glue region (W_ih ... of the input projection)."""
        cache = self.glue_w
        if gb.key in cache:
            return cache[gb.key]
        names, stack, seen = [], [gb], set()
        while stack:
            g = stack.pop()
            if g.key in seen:
                continue
            seen.add(g.key)
            for _, src in self.parents.get(g.key, ()):
                if src[0] == "leaf" and id(src[1]) in self.param_row:
                    n = short_name(self.leaf_name(src[1]))
                    if n.startswith("W") and n not in names:
                        names.append(n)
                elif src[0] == "box" and src[1].key in self.glue and src[1].sid is None:
                    stack.append(src[1])
        cache[gb.key] = sorted(names)
        return cache[gb.key]

    def _box_at(self, row, t):
        idx = self.step_index
        if idx is None:
            idx = self.step_index = {}
            for bb in self.boxes.values():
                if bb.sid is not None and bb.name is not None and (bb.kind in ("cell", "template") or bb.lines):
                    idx.setdefault((bb.row, bb.t), bb)
            # steps drawn op by op: the node whose output leaves the step
            leaving, _ = self.graph.leaving()
            for pairs in leaving.values():
                for fn, i in pairs:
                    key = self.box_of.get(id(fn))
                    if key is None:
                        continue
                    bb = self.boxes[key]
                    if bb.name is not None and bb.sid is not None and self._state_role(fn, i) == "h":
                        idx[(bb.row, bb.t)] = bb
        return idx.get((row, t))

    def _x_node(self, entry, b) -> str:
        """The node of input x at the step of box ``b`` (one per input sequence and step)."""
        t = b.t
        key = (entry, t)
        name = self.xnodes.get(key)
        if name is None:
            name = self.xnodes[key] = f"x{len(self.xnodes)}"
            shape = self._entry_shape(entry)
            label = f"x{_sub(t)}"
            T = len(self.xsteps)
            if self.show_shapes and shape is not None and len(shape) > 1 and T and shape[0] % T == 0:
                label += "\n" + format_shape(((shape[0] // T,) if shape[0] != T else ()) + tuple(shape[1:]))
            self.out.node(self._x_home(b, name), name, label, "input", group=self._column(t))
            self.xcol.setdefault(t, []).append(name)
            if entry[0] == "box":
                pb = self.boxes[entry[1]]
                if pb.name is not None:
                    self.out.edge(self._source(pb, entry[2]), name, "")
        return name

    def _column(self, t, reverse=False):
        """The Graphviz group of the cells, x_t and y_t at step t (detail="cell"): edges between
        them are kept straight, so each step's column stays in line from x_t up to y_t. The cells
        of rows running backwards have a group of their own beside it: in one line with the
        forward cells, an arrow from layer 0's forward cell to layer 1's reverse cell had to
        go around the two cells between them, out of the column."""
        if self.detail != "cell":
            return None
        cols = self.columns
        if cols is None:
            order = sorted(self.xsteps, key=lambda t: step_sort_key((("t", t),)))
            cols = self.columns = {t: f"col{i}" for i, t in enumerate(order)}
        col = cols.get(t)
        return f"{col}r" if col and reverse else col

    def _x_home(self, b, name):
        """The cluster x_t (DOT name ``name``, read by step box ``b``) is drawn in: none at
        detail="cell" (x_t below the step). A step of the bottom row drawn as its equations
        takes x_t in (see ``_layout``), so that no input arrow passes between the steps where
        the state arrows run."""
        if self.detail == "cell" or not self.rows or b.row != self.rows[0] or b.name is None:
            return None
        self.x_inside.add(name)
        return b.sid

    def _entry_shape(self, entry):
        if entry[0] == "const":
            return entry[1]
        if entry[0] == "box":
            pb = self.boxes[entry[1]]
            return pb.fn.out_meta[entry[2]][0]
        leaf = self.graph.leaves.get(entry[1])
        return None if leaf is None else leaf.shape

    def _sequence_out(self, gb, b, targets, seen):
        """A box outside the steps reads a sequence from the glue: per-step outputs y_t into it."""
        for y in self._y_nodes(gb):
            for t in targets:
                if (y, t) not in seen:
                    seen.add((y, t))
                    self.out.edge(y, t, "")

    def _y_nodes(self, gb) -> list:
        """Per-step output nodes y_t for glue box ``gb`` (made once), fed by the steps at t."""
        if gb.key in self.ynodes:
            return self.ynodes[gb.key]
        rows, _ = self.glue[gb.key]
        names = []
        ts = sorted({t for r in rows for t in self.row_ts.get(r, ())}, key=lambda t: step_sort_key((("t", t),)))
        shape = gb.fn.out_meta[0][0]
        for t in ts:
            srcs = [self._box_at(r, t) for r in rows]
            srcs = [s for s in srcs if s is not None]
            if not srcs:
                continue
            name = f"y{len(self.yall)}"
            self.yall.append(name)
            label = f"y{_sub(t)}"
            if self.show_shapes and len(shape) > 1:
                label += "\n" + format_shape(shape[1:])
            self.out.node(None, name, label, "output", group=self._column(t))
            self.ycol.setdefault(t, []).append(name)
            for s in srcs:
                # a reverse cell's arrow comes in on y_t's right: the reverse cells stay right of the
                # forward ones in every column (see _glue_edges)
                back = self.detail == "cell" and s.kind == "cell" and self._is_reverse_row(s.row)
                # a step drawn as its equations has no column group (see _column): a heavy arrow keeps
                # y_t above the step's h, where the light arrows from all the y_t into their sum
                # pulled them together above the middle steps. Not with a reverse row: at this detail
                # its steps stand beside the forward ones' columns, and arrows pulling y_t both ways
                # stretched the steps of both rows apart
                heavy = self.detail != "cell" and not any(self._is_reverse_row(r) for r in rows)
                attrs = "headport=se" if back else (f"weight={Y_WEIGHT}" if heavy else "")
                self.out.edge(self._source(s, 0), name, attrs)
            names.append(name)
        self.ynodes[gb.key] = names
        return names

    def _outputs(self, seen):
        """The roots: an output node each, or the y_t nodes of a sequence the roots are."""
        many = len(self.graph.roots) > 1
        for i, r in enumerate(self.graph.roots):
            if r._ctx is None:
                if r.requires_grad:  # a leaf drawn on its own
                    label = self.names.get(id(r)) or "leaf"
                    self.out.node(None, f"out{i}", f"{label}\n{format_shape(r.shape)}" if self.show_shapes else label,
                                  "leaf")
                continue
            src = self.resolve(r._ctx, r._idx)
            head = ("grad" if self.backward else "output") + (f" {i}" if many else "")
            if src[0] == "box" and src[1].key in self.glue:
                if self._y_nodes(src[1]):
                    continue
            name = f"out{i}"
            label = f"{head}\n{format_shape(r.shape)}" if self.show_shapes else head
            self.out.node(None, name, label, "output")
            if src[0] == "box":
                pb = src[1]
                if pb.name is not None:
                    self.out.edge(self._source(pb, src[3]), name, "")
                elif self.plain_cut:
                    self.out.edge("eplain", name, "")

    # -- layout hints ---------------------------------------------------------------------------
    def _layout(self):
        """Invisible edges and rank constraints: steps left to right, rows bottom to top."""
        out = self.out
        anchors = {}  # row -> [(t, node name)] in drawing order
        beside_gates = self._equation_layout()
        for r in self.rows:
            col = []
            ts = self.row_ts[r]
            ell = self.ellipsis.get(r)
            placed = False
            for t in ts:
                if t in self.elided.get(r, ()):
                    if not placed and ell is not None:
                        col.append((t, ell))
                        placed = True
                    continue
                first, _ = self._anchor(r, t)
                if first is not None:
                    col.append((t, first))
            anchors[r] = col
            names = [n for _, n in col]
            # h₀ (c₀) level with the row's steps. A step drawn as its equations has it below instead,
            # except in a row above another: there it stood level with the top of the row below, and
            # the first step's box reached into that row's
            level = self.detail == "cell" or (self.detail == "op" and r != self.rows[0])
            extra = list(self.state0.get(r, [])) if level else []
            wnode = self.weight_nodes.get(r)
            if wnode and r not in beside_gates:
                extra.append(wnode)
            if len(names) + len(extra) > 1:
                out.raw(f"{{rank=same; {'; '.join(extra + names)}}}")
            for a, c in zip(names, names[1:]):
                out.raw(f"{a} -> {c} [style=invis weight=4]")
        # rows: each above the one before, column by column
        for lower, upper in zip(self.rows, self.rows[1:]):
            for t in self.row_ts[lower][:1] + self.row_ts[lower][-1:]:
                a = self._anchor(lower, t)[1]
                b = self._anchor(upper, t)[0]
                if a and b:
                    out.raw(f"{a} -> {b} [style=invis]")
        if self.rows and self.detail != "cell":
            # a step drawn as its equations takes x_t above h's matmul (its first node), so that
            # h runs level into that matmul from the step before without crossing x_t's arrow
            for t, xs in self.xcol.items():
                b = self._box_at(self.rows[0], t)
                first = self._anchor(self.rows[0], t)[0]
                if b is not None and b.kind == "template" and first and xs[0] in self.x_inside:
                    out.raw(f"{first} -> {xs[0]} [style=invis]")
        # the rows' "… n steps …" nodes, bottom row first
        ells = [self.ellipsis[r] for r in self.rows if r in self.ellipsis]
        column = list(ells)
        for attr in ("xcol", "ycol"):
            cols = getattr(self, attr)
            if not cols:
                continue
            order = sorted(cols, key=lambda t: step_sort_key((("t", t),)))
            names = [cols[t][0] for t in order]
            all_names = [n for t in order for n in cols[t]]
            gap = self._gap(order)
            if gap is not None:
                # "…" in the x (or y) row where steps are left out
                dots = f"{attr}_dots"
                out.node(None, dots, "…", "state0")
                names.insert(gap, dots)
                all_names.append(dots)
                if ells and self.detail == "cell":
                    column = [dots] + column if attr == "xcol" else column + [dots]
                else:
                    # (steps drawn as their equations are tall: a heavy edge from x's "…" or into y's,
                    # straight up through a row's many ranks, can leave Graphviz no route between
                    # the clusters; light edges keep these two "…" near the column)
                    # (the bottom row's steps take x_t in, above their first nodes, where that row's
                    # "…" stands: x's "…" goes above it too)
                    inside = self.x_inside and self.rows[0] in self.ellipsis
                    for ell in ells:
                        below = attr == "ycol" or (inside and ell == self.ellipsis[self.rows[0]])
                        a, c = (ell, dots) if below else (dots, ell)
                        out.raw(f"{a} -> {c} [style=invis]")
            if len(names) > 1:
                out.raw(f"{{rank=same; {'; '.join(all_names)}}}")
                for a, c in zip(names, names[1:]):
                    out.raw(f"{a} -> {c} [style=invis]")
        if len(column) > 1:
            # one column: a chain of heavy edges, each node to the one above. With light edges from
            # the x row's "…" to each row's node only, each stood in the middle of its own row's gap,
            # and a reverse row's gap lies further right (its cells sit right of the forward ones).
            out.raw(f"{' -> '.join(column)} [style=invis weight=100]")

    def _equation_layout(self) -> set:
        """Steps drawn as their equations (detail="op"), all rows running forward: the gates side by
        side in the same order in every step (``GATE_ORDER``), the state lines (``STATE_LINES``) each
        on one level across its row, and the row's weight node at the row's start, level with the
        gates of its first step. Returns the rows whose weight node is placed.

        Not with a reverse row: these hints on top of a reverse row's can leave Graphviz (graphviz-pure
        at least) without a ranking, and a picture that renders comes first."""
        if not self._level_rows():
            return set()
        out = self.out
        placed = set()
        into = {}  # gate DOT name -> indices of the edges into it
        for i, (_, dst, _, _) in enumerate(out.edges):
            into.setdefault(dst, []).append(i)
        for row in self.rows:
            steps = [self.gates[(row, t)] for t in self.row_ts[row] if (row, t) in self.gates]
            lines, start = {}, None
            for named in steps:
                for order in GATE_ORDER:
                    side = [named[k] for k in order if k in named]
                    if len(side) > 1:
                        # one level (o would otherwise rise beside c, onto c's line), ordered: invisible
                        # flat edges, the declaration order and the ports, as Graphviz keeps flat edges'
                        # order only now and then
                        out.raw(f"{{rank=same; {'; '.join(side)}}}")
                        out.raw(f"{' -> '.join(side)} [style=invis]")
                        out.arrange(side)
                        self._gate_ports(side, into)
                    if side and start is None:
                        start = side[0]
                for i, keys in enumerate(STATE_LINES):
                    lines.setdefault(i, []).extend(named[k] for k in keys if k in named)
            for line in lines.values():
                if len(line) > 1:
                    out.raw(f"{{rank=same; {'; '.join(line)}}}")
            wnode = self.weight_nodes.get(row)
            if wnode and start is not None:
                out.raw(f"{{rank=same; {wnode}; {start}}}")
                out.raw(f"{wnode} -> {start} [style=invis]")
                placed.add(row)
        return placed

    def _level_rows(self) -> bool:
        """True when ``_equation_layout`` lays out the gates and state lines (see there)."""
        return bool(self.gates) and not any(self._is_reverse_row(r) for r in self.rows)

    def _gate_ports(self, side, into, up=1):
        """The arrows from a node that all the gates ``side`` read (an LSTM's pre-activation) leave
        it from left to right in the gates' order: that is what makes Graphviz keep the order. Gates
        that each read a node of their own (a GRU's r and z, each from its own sum) pass the order
        on to those nodes, ``up`` levels up."""
        edges = self.out.edges
        found = [into.get(name, ()) for name in side]
        shared = set.intersection(*({edges[i][0] for i in f} for f in found))
        for src in sorted(shared):
            picked = [[i for i in f if edges[i][0] == src] for f in found]
            # (an arrow with a label in the layout takes a node of its own: no port for those)
            if all(len(p) == 1 and "label=" not in edges[p[0]][2].replace("xlabel=", "") for p in picked):
                for (i,), port in zip(picked, GATE_PORTS[len(side)]):
                    _, dst, attrs, raw = edges[i]
                    edges[i] = (f"{src}:{port}", dst, attrs, raw)
        if not shared and up and all(len(f) == 1 for f in found):
            parents = [edges[f[0]][0] for f in found]
            if len(set(parents)) == len(parents) and all(":" not in p for p in parents):
                self._gate_ports(parents, into, up - 1)

    def _on_line(self, src, dst) -> bool:
        """True when a state arrow src -> dst runs along a state line (``STATE_LINES``): from the
        node that ends it in one step to the node that starts it in the next."""
        ends = self.line_ends
        if ends is None:
            named = list(self.gates.values()) if self._level_rows() else []
            ends = self.line_ends = ({n[b] for n in named for _, b in STATE_LINES if b in n},
                                     {n[a] for n in named for a, _ in STATE_LINES if a in n})  # fmt: skip
        return src in ends[0] and dst in ends[1]

    def _line_edges(self):
        """The arrows along the state lines. A state that also turns down to the next step's
        matmul (a GRU's h) goes on from the corner where it turns, so the line stays straight."""
        for src, dst, attrs in self.line_edges:
            start = self.branch.get(src, src)
            if start != src:
                attrs = [a for a in attrs if not a.startswith("xlabel=")]  # named once, on the arrow that turns
            self.out.edge(start, dst, " ".join(attrs))

    def _gap(self, order):
        """Where in the steps ``order`` the elided steps were, or None."""
        if not self.elided:
            return None
        cut = set().union(*self.elided.values())
        lo = min(cut, key=lambda t: step_sort_key((("t", t),)))
        for i, t in enumerate(order):
            if step_sort_key((("t", t),)) > step_sort_key((("t", lo),)):
                return i
        return None

    def _anchor(self, row, t):
        """(first node, last node) of the step at (row, t) as drawn, or (None, None)."""
        cache = self.anchors
        if (row, t) in cache:
            return cache[(row, t)]
        idx = self.row_members
        if idx is None:
            idx = self.row_members = {}
            for b in self.boxes.values():
                if b.sid is not None and b.name is not None:
                    idx.setdefault((b.row, b.t), []).append(b)
        bs = sorted(idx.get((row, t), ()), key=lambda b: b.gen)
        if not bs:
            cache[(row, t)] = (None, None)
            return cache[(row, t)]
        cells = [b for b in bs if b.kind == "cell"]
        if cells:
            res = (cells[0].name, cells[-1].name)
        else:
            first = bs[0]
            first_name = f"{first.name}_{first.lines[0][0][0]}" if first.kind == "template" else first.name
            last_b = self._box_at(row, t) or bs[-1]
            res = (first_name, self._source(last_b, 0))
        cache[(row, t)] = res
        return res

    def _legend(self):
        if not self.step_norm:
            return
        rows = []
        for d in range(0, GRAD_DECADES + 1, 2):
            value = self.top_norm / 10**d
            colour = grad_colour(value, self.top_norm)
            text = "largest" if d == 0 else f"−{d} decades"
            rows.append(
                f'<TR><TD BGCOLOR="{colour}" WIDTH="28"> </TD><TD ALIGN="LEFT">{text}: {_fmt_norm(value)}</TD></TR>'
            )
        html = (
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            '<TR><TD COLSPAN="2">‖dL/dh_t‖ into each step</TD></TR>' + "".join(rows) + "</TABLE>>"
        )
        self.out.raw(f"legend [label={html} shape=plaintext fontsize=9]")

    @property
    def top_norm(self) -> float:
        vals = [v for v in (self.step_norm or {}).values() if v > 0 and math.isfinite(v)]
        return max(vals) if vals else 0.0


def leaf_is_state(leaf, builder, b, fn, pos) -> bool:
    return b.sid is not None and builder._input_role(fn, pos) in ("h", "c")


def _sub(t) -> str:
    """t as a subscript (x₃), or "_t" for a tag that is not an int."""
    if isinstance(t, int) and not isinstance(t, bool) and t >= 0:
        return str(t).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    return f"_{t}"


class _Out:
    """Collects DOT statements: nodes by step cluster, edges, raw lines; writes them in order."""

    def __init__(self, body):
        self.body = body
        self.clusters = {}  # step id -> [line]
        self.outside = []
        self.heads = []  # the rows' weight nodes: written first, so that they start their rows
        self.edges = []
        self.raws = []
        self.arranged = {}  # node name -> its place among the nodes to declare in a given order

    def arrange(self, names):
        """Declare the nodes ``names`` of one cluster in this order (in the slots they take): Graphviz
        starts from the order of declaration and keeps it where nothing else decides."""
        self.arranged.update((n, i) for i, n in enumerate(names))

    def _arranged(self, lines):
        order = self.arranged
        if not order:
            return lines
        slots = [i for i, line in enumerate(lines) if line.split(" ", 1)[0] in order]
        picked = sorted((lines[i] for i in slots), key=lambda line: order[line.split(" ", 1)[0]])
        lines = list(lines)
        for i, line in zip(slots, picked):
            lines[i] = line
        return lines

    def node(self, sid, name, label, kind, fill=None, group=None):
        extra = (f' fillcolor="{fill}"' if fill else "") + (f" group={group}" if group else "")
        line = f"{name} [label={_q(label)} {STYLE_TEXT[kind]}{extra}]"
        if kind == "weights":
            self.heads.append(line)
        else:
            (self.clusters.setdefault(sid, []) if sid is not None else self.outside).append(line)

    def edge(self, src, dst, attrs, raw=False):
        self.edges.append((src, dst, attrs, raw))

    def raw(self, line):
        self.raws.append(line)

    def flush(self, builder):
        body = self.body
        norms = builder.step_norm
        top = builder.top_norm
        named_rows = set()


        def order(sid):  # rows in turn, steps by t; a row's "…" where its elided steps were
            if sid[0] == "…":
                row = sid[1]
                t = min(builder.elided[row], key=lambda t: step_sort_key((("t", t),)))
                return (str(row[0]), step_sort_key(row[1] + (("t", t),)))
            return (str(sid[0]), step_sort_key(sid[1]))

        body.extend(f"\t{line}\n" for line in self.heads)
        i = 0
        loops = {sid[0] for sid in self.clusters if sid[0] != "…"}
        for sid in sorted(self.clusters, key=order):
            if sid[0] == "…":
                body.append(f"\tsubgraph cluster_{i} {{\n\t\tgraph [label=\"\" {ELIDED_STYLE}]\n")
                i += 1
                body.extend(f"\t\t{line}\n" for line in self.clusters[sid])
                body.append("\t}\n")
                continue
            seq, t = split_step(sid[1])
            label = f"t={t}"
            if (sid[0], seq) not in named_rows:
                named_rows.add((sid[0], seq))  # the row's name on its first step
                head = step_label(seq)
                if len(loops) > 1 and sid[0]:  # several loops (an encoder, a decoder): say whose
                    head = f"{sid[0]} {head}".strip()
                label = f"{head}   {label}" if head else label
            fill = CLUSTER_FILL.get(dict(sid[1]).get("direction"), CLUSTER_FILL[None])
            if norms is not None and sid[1] in norms:
                label += f"  ‖g‖={_fmt_norm(norms[sid[1]])}"
                fill = grad_colour(norms[sid[1]], top)
            body.append(f"\tsubgraph cluster_{i} {{\n")
            i += 1
            # labelloc "b" is the top of the cluster when the graph grows upwards (BT)
            body.append(f"\t\tgraph [label={_q(label)} fillcolor={_q(fill)} {CLUSTER_STYLE}]\n")
            body.extend(f"\t\t{line}\n" for line in self._arranged(self.clusters[sid]))
            body.append("\t}\n")
        body.extend(f"\t{line}\n" for line in self.outside)
        flip = builder.backward
        for src, dst, attrs, _ in self.edges:
            if flip:
                src, dst = dst, src
            body.append(f"\t{src} -> {dst} [{attrs}]\n" if attrs else f"\t{src} -> {dst}\n")
        body.extend(f"\t{line}\n" for line in self.raws)


def _module_depth(graph: Graph) -> int:
    """Index of the module level that detail="module" collapses (below the longest shared prefix)."""
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


def _q(value) -> str:
    """A DOT string literal; newlines become DOT's centred line break."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs: dict) -> str:
    return " ".join(f"{k}={_q(v)}" for k, v in attrs.items())


STYLE_TEXT = {kind: _attrs(style) for kind, style in STYLES.items()}
PARAM_EDGE = _attrs(PARAM_EDGE_ATTRS)
STATE_EDGE = _attrs(STATE_EDGE_ATTRS)
ELIDED_STYLE = _attrs({"style": "rounded,dashed", "color": "#bbbbbb"})
CLUSTER_STYLE = _attrs({"style": "rounded,filled", "color": "#9aa5b1", "fontsize": "10", "labelloc": "b"})
