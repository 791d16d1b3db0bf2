"""``html``: the unrolled graph as an interactive page (browser or Jupyter).

    page = ts.viz.html(loss)                      # or {"RNN": loss_a, "LSTM": loss_b}
    page.save("graph.html")                       # one self-contained file
    page                                          # in Jupyter: shown inline

The page holds the drawings that ``draw`` makes, laid out by Graphviz once
per detail level ("cell", "op", "module"), and a small inline script:

- hovering a node shows its name, scope (layer, direction, t), the shape and
  dtype of what it hands on, value statistics (min, max, mean, norm) where the
  graph still holds the values, and the gradient's norm (measured with one
  backward pass that touches no ``.grad``, when the graph still holds its
  saved arrays: before ``backward()`` or after ``backward(retain_graph=True)``);
- a time slider and a play button highlight step t in every row; in backward
  mode the play button runs from the last step to the first and colours each
  step by the norm of the gradient flowing into its state, on the static
  drawing's absolute log scale (``draw.grad_colour``, decades below the
  largest norm on the page);
- the detail toggle switches between the embedded layouts;
- a search box highlights every node that reads a parameter whose name
  contains the text.

Only statistics are embedded, never tensors, and the drawings elide long
sequences as ``draw`` does, so a page stays small whatever the length.

How nodes are described: this module builds the same ``_Builder`` that
``draw`` builds and reads, after it ran, which DOT node stands for which box
of graph nodes; the clusters of the DOT text say which step each node is in.
"""

from __future__ import annotations

import gc
import html as _html
import json
import math
import re
import secrets
from pathlib import Path

from .draw import _Builder, _check_args, _leaf_names, grad_colour
from .graph import Graph, as_roots, format_shape, split_step, step_label, step_sort_key

LEVELS = ("cell", "op", "module")  # the layouts a page embeds by default


def html(root, *, details=LEVELS, params=None, max_steps=None, show_shapes=True, rankdir="BT", title=None):
    """An interactive page of the graph behind ``root``: see the module docstring.

    root: a tensor or list of tensors (the loss), or ``{name: tensor}`` to put
        several graphs on one page (e.g. ``{"RNN": loss_rnn, "LSTM":
        loss_lstm}``) sharing one slider and one gradient colour scale.
    details: the detail levels to embed (any of ``draw``'s), the first shown
        first.
    params, max_steps, show_shapes, rankdir: as in ``draw``.
    title: the page's title.

    Returns an ``HTMLGraph``; ``.save(path)`` writes it, ``str()`` is the
    document, and Jupyter shows it inline.
    """
    if isinstance(details, str):
        details = (details,)
    details = tuple(details)
    if not details:
        raise ValueError("viz.html: details must name at least one detail level")
    for d in details:
        try:
            _check_args(d, max_steps, "forward", rankdir)
        except ValueError as e:  # the same rules as draw's, under this function's name
            raise ValueError(str(e).replace("viz.draw:", "viz.html:", 1)) from None
    if isinstance(root, dict):
        if not root or not all(isinstance(k, str) for k in root):
            raise TypeError("viz.html: a dict root must map names (str) to tensors")
        named = [(k, as_roots(v, "viz.html")) for k, v in root.items()]
    else:
        named = [(None, as_roots(root, "viz.html"))]
    panels = [_Panel(name, roots, details, params, max_steps, show_shapes, rankdir) for name, roots in named]
    return HTMLGraph(_document(panels, details, title or "tinyseq: unrolled graph"))


class HTMLGraph:
    """One self-contained HTML document (no network access, no build step)."""

    def __init__(self, document: str):
        self.document = document

    def save(self, path) -> str:
        """Write the page to ``path`` (UTF-8); returns the path as a string."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.document, encoding="utf-8")
        return str(path)

    def __str__(self) -> str:
        return self.document

    def _repr_html_(self) -> str:
        # In an iframe: the page's script and style stay apart from the notebook's.
        doc = _html.escape(self.document, quote=True)
        return f'<iframe srcdoc="{doc}" style="width:100%;height:640px;border:1px solid #ddd"></iframe>'


# -- what the page says about each node ----------------------------------------------------
def _stats(data) -> list | None:
    """[min, max, mean, L2 norm] of an array's values, 4 significant digits; None if empty."""
    if data.size == 0 or data.dtype.kind not in "fiub":
        return None
    a = data.astype("float64")
    vals = [float(a.min()), float(a.max()), float(a.mean()), math.sqrt(float((a * a).sum()))]
    return [_round(v) for v in vals]


def _round(v: float):
    return float(f"{v:.4g}") if math.isfinite(v) else str(v)


class _Values:
    """Statistics of node outputs and leaves, and the gradient norm of each node output.

    Values: a graph node keeps no reference to its outputs, so they are found
    where the graph still holds them: the roots, the leaves, the inputs that a
    node keeps for its backward (``Function.versions``), and the state buffers
    of a fused recurrent step (``_fused_state``).
    Gradients: one backward pass (``accumulate=False``: no ``.grad`` changes)
    whose observer sees every node's output gradients.
    """

    def __init__(self, graph: Graph):
        from .. import autograd
        from .gradients import _seeds, flow_norms

        self.tensors = {}
        for fn in graph.fns:
            for (p, idx), t in zip(fn.parents, fn.versions or ()):
                if p is not None and idx >= 0:
                    self.tensors.setdefault((id(p), idx), t)
        for r in graph.roots:
            if r._ctx is not None:
                self.tensors[(id(r._ctx), r._idx)] = r
        self.cache = {}
        self.grads = None
        self.step_norm = {}
        try:
            graph.check_alive("viz.html")
        except RuntimeError:
            return  # the graph was freed: no gradients to show
        self.step_norm, _ = flow_norms(graph, who="viz.html")
        grads = {}

        def seen(fn, out_grads):
            for i, g in enumerate(out_grads):
                if g is not None:
                    g = g.astype("float64")
                    grads[(id(fn), i)] = _round(math.sqrt(float((g * g).sum())))

        live = [(r, g) for r, g in zip(graph.roots, _seeds(graph.roots, None, "viz.html")) if r._ctx is not None]
        if live:
            autograd.backward([r for r, _ in live], [g for _, g in live], retain_graph=True, accumulate=False,
                              observer=seen)  # fmt: skip
        self.grads = grads

    def of(self, key, fn):
        if key not in self.cache:
            t = self.tensors.get(key)
            data = t._data if t is not None else _fused_state(fn, key[1])
            self.cache[key] = None if data is None else _stats(data)
        return self.cache[key]

    def grad(self, key):
        return None if self.grads is None else self.grads.get(key, 0.0)


def _fused_state(fn, idx):
    """Output ``idx`` of a fused recurrent step (``nn.recurrent.steps._Step``), read from the buffers it
    wrote in the forward pass (h_t in ``seq.hs``, c_t in ``seq.cs``); None for any other node,
    or when the buffer does not have the output's shape."""
    from ..nn.recurrent.steps import _Step

    if not isinstance(fn, _Step) or not fn.saved:
        return None
    try:
        seq, t = fn.saved[0], fn.saved[1]
        data = seq.hs[t + seq.ahead] if idx == 0 else seq.cs[t] if idx == 1 else None
    except (AttributeError, IndexError, TypeError):
        return None
    if data is None or tuple(data.shape) != tuple(fn.out_meta[idx][0]):
        return None
    return data


_DOT_CLUSTER = re.compile(r"^\tsubgraph (cluster_\d+) \{$")
_DOT_NODE = re.compile(r"^\t\t([A-Za-z_][A-Za-z0-9_]*) \[")


def _clusters(source: str) -> dict:
    """DOT text -> {node name: cluster name} for the nodes drawn inside a cluster."""
    where, current = {}, None
    for line in source.splitlines():
        m = _DOT_CLUSTER.match(line)
        if m:
            current = m.group(1)
            continue
        if line == "\t}":
            current = None
            continue
        if current is not None:
            m = _DOT_NODE.match(line)
            if m and m.group(1) not in ("graph", "node", "edge"):
                where[m.group(1)] = current
    return where


class _Panel:
    """One graph of the page: its layouts (SVG per detail level) and what each node is."""

    def __init__(self, name, roots, details, params, max_steps, show_shapes, rankdir):
        self.name = name
        graph = Graph(roots)
        self.values = _Values(graph)
        self.names = _leaf_names(graph.leaves, params)
        self.steps = {}  # step id -> {"row", "t", "norm"}
        self.layouts = {}
        for detail in details:
            builder = _Builder(graph, detail, self.names, max_steps, show_shapes)
            collecting = gc.isenabled()
            gc.disable()  # as in draw: no reference cycles, and much faster without the collector
            try:
                dot = builder.build(rankdir, False)
            finally:
                if collecting:
                    gc.enable()
            self.layouts[detail] = (dot, self._nodes(graph, builder, dot.source))

    def _step(self, sid):
        if sid not in self.steps:
            seq, t = split_step(sid[1])
            self.steps[sid] = {
                "row": step_label(seq),
                "t": t,
                "norm": self.values.step_norm.get(sid[1]),
                "scope": [[k, v if isinstance(v, (int, float)) else str(v)] for k, v in sid[1]],
            }
        return sid

    def _outputs(self, graph, builder) -> dict:
        """Box key -> sorted [(id(fn), idx, fn)]: the outputs a box hands to other boxes or to the roots."""
        box_of, out = builder.box_of, {}
        for fn in graph.fns:
            here = box_of.get(id(fn))
            for p, idx in fn.parents:
                if p is None or idx < 0:
                    continue
                there = box_of.get(id(p))
                if there is not None and there != here:
                    out.setdefault(there, {})[(id(p), idx)] = p
        for r in graph.roots:
            if r._ctx is not None and id(r._ctx) in box_of:
                out.setdefault(box_of[id(r._ctx)], {})[(id(r._ctx), r._idx)] = r._ctx
        return {k: sorted(v.items(), key=lambda kv: (kv[1].seq, kv[0][1])) for k, v in out.items()}

    def _describe(self, key, fn) -> list:
        shape, dtype = fn.out_meta[key[1]]
        return [format_shape(shape), str(dtype), self.values.of(key, fn), self.values.grad(key)]

    def _leaf(self, leaf) -> list:
        return [format_shape(leaf.shape), str(leaf._data.dtype), _stats(leaf._data), None]

    def _nodes(self, graph, builder, source) -> dict:
        """{node name: metadata} for the page, and the cluster -> step map."""
        outputs = self._outputs(graph, builder)
        nodes, step_of_cluster = {}, {}
        cluster_of = _clusters(source)

        def params_of(b):
            return sorted({builder.leaf_name(src[1]) for _, src in builder.parents.get(b.key, ()) if src[0] == "leaf"})

        for b in builder.boxes.values():
            if b.name is None:
                continue
            outs = outputs.get(b.key, ())[:4]
            meta = {"l": b.label, "k": b.kind, "o": [self._describe(k, fn) for k, fn in outs]}
            if b.sid is not None and b.kind in ("cell", "template", "module"):  # which state each output is
                meta["on"] = [builder._state_role(fn, k[1]) + f"_{b.t}" for k, fn in outs]
            if b.sid is not None:
                meta["s"] = self._step(b.sid)
            meta["p"] = params_of(b)
            if b.kind == "template":
                for local, _, _ in b.lines[0]:
                    nodes[f"{b.name}_{local}"] = meta
            else:
                nodes[b.name] = meta
        for row, name in getattr(builder, "weight_nodes", {}).items():
            leaves = builder.row_weights.get(row, {})
            nodes[name] = {
                "l": "shared weights", "k": "weights", "p": [builder.leaf_name(v) for v in leaves.values()],
                "w": [[builder.leaf_name(v)] + self._leaf(v) for v in leaves.values()],
            }  # fmt: skip
        for row, name in getattr(builder, "ellipsis", {}).items():
            nodes[name] = {"l": f"{builder.elided_count[row]} steps not drawn", "k": "elided",
                           "e": sorted(builder.elided[row], key=lambda t: step_sort_key((("t", t),)))}  # fmt: skip
        # the inputs x_t and outputs y_t drawn per step, outside the steps' clusters, are in column t
        for kind, cols in (("input", getattr(builder, "xcol", {})), ("output", getattr(builder, "ycol", {}))):
            for t, names in cols.items():
                for name in names:
                    nodes.setdefault(name, {"k": kind, "l": f"{'x' if kind == 'input' else 'y'} at t={t}"})["tt"] = t
        # anything else drawn inside a step's cluster (h0) belongs to that step
        for name, cluster in cluster_of.items():
            meta = nodes.get(name)
            if meta is not None and "s" in meta:
                step_of_cluster.setdefault(cluster, meta["s"])
        for name, cluster in cluster_of.items():
            if cluster in step_of_cluster:
                nodes.setdefault(name, {"k": "io"}).setdefault("s", step_of_cluster[cluster])
        return {"nodes": nodes, "clusters": step_of_cluster}


# -- the document ----------------------------------------------------------------------------
_SVG_START = re.compile(r"<svg\b")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def _svg(dot, prefix: str) -> str:
    """Graphviz's SVG, made fit to inline in HTML: no XML prolog, comments or namespaces
    (HTML puts <svg> in the SVG namespace itself), ids made unique on the page."""
    text = dot.pipe(format="svg", encoding="utf-8")
    m = _SVG_START.search(text)
    if m is None:
        raise RuntimeError("viz.html: the renderer returned no SVG")
    text = _COMMENT.sub("", text[m.start() :])
    text = _XMLNS.sub("", text, count=2)
    return text.replace(' id="', f' id="{prefix}')


def _jsonable_steps(panels):
    """Steps of all panels, one list: index -> {"row", "t", "g" (norm), "c" (colour), "p" (panel)}."""
    top = max((s["norm"] for p in panels for s in p.steps.values() if s["norm"] and math.isfinite(s["norm"])),
              default=0.0)  # fmt: skip
    steps, index = [], {}
    for i, p in enumerate(panels):
        for sid in sorted(p.steps, key=lambda s: (str(s[0]), step_sort_key(s[1]))):
            s = p.steps[sid]
            index[(i, sid)] = len(steps)
            norm = s["norm"]
            steps.append({"row": s["row"], "t": s["t"], "p": i, "sc": s["scope"],
                          "g": None if norm is None else _round(norm),
                          "c": None if norm is None else grad_colour(norm, top)})  # fmt: skip
    return steps, index, top


def _document(panels, details, title) -> str:
    uid = "tsv" + secrets.token_hex(4)
    steps, index, top = _jsonable_steps(panels)
    tvals = []
    for p in panels:
        for layout in p.layouts.values():
            for meta in layout[1]["nodes"].values():
                tvals.extend(meta.get("e", ()))
    tvals.extend(s["t"] for s in steps)
    tvals = sorted(set(tvals), key=lambda t: step_sort_key((("t", t),)))
    data = {"details": list(details), "tvals": tvals, "steps": steps, "top": _round(top) if top else None,
            "panels": []}  # fmt: skip
    body = []
    for i, p in enumerate(panels):
        layouts = {}
        parts = [f'<section class="panel" data-panel="{i}">']
        if p.name:
            parts.append(f"<h2>{_html.escape(p.name)}</h2>")
        parts.append('<div class="strips"></div>')
        for detail in details:
            dot, info = p.layouts[detail]
            nodes = {}
            for name, meta in info["nodes"].items():
                meta = dict(meta)
                if "s" in meta:
                    meta["s"] = index[(i, meta["s"])]
                nodes[name] = meta
            clusters = {c: index[(i, sid)] for c, sid in info["clusters"].items()}
            layouts[detail] = {"nodes": nodes, "clusters": clusters}
            hidden = "" if detail == details[0] else " hidden"
            svg = _svg(dot, f"{uid}-{i}-{detail}-")
            parts.append(f'<div class="layout" data-detail="{detail}"{hidden}>{svg}</div>')
        parts.append("</section>")
        body.append("".join(parts))
        data["panels"].append({"name": p.name, "layouts": layouts})
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    buttons = "".join(
        f'<button type="button" class="detail" data-detail="{d}"{" aria-pressed=true" if d == details[0] else ""}>'
        f"{d}</button>"
        for d in details
    )
    return _TEMPLATE.format(
        title=_html.escape(title), uid=uid, style=_STYLE, script=_SCRIPT, data=payload, buttons=buttons,
        panels="\n".join(body), scale=_scale_legend(),
    )  # fmt: skip


def _scale_legend() -> str:
    """The gradient colour scale: one swatch per decade below the largest norm."""
    from .draw import GRAD_DECADES

    cells = "".join(
        f'<span style="background:{grad_colour(10.0**-k, 1.0)}">{"max" if k == 0 else f"10<sup>-{k}</sup>"}</span>'
        for k in range(GRAD_DECADES + 1)
    )
    return f'<div class="scale" hidden>gradient norm / largest: {cells}</div>'


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<div class="tsv fit" id="{uid}">
<div class="bar">
<span class="group">detail {buttons}</span>
<span class="group"><label><input type="radio" name="{uid}-mode" value="forward" checked> forward</label>
<label><input type="radio" name="{uid}-mode" value="backward"> backward</label></span>
<span class="group"><button type="button" class="play">&#9654; play</button>
<input type="range" class="slider" min="0" max="0" value="0" step="1" aria-label="time step">
<output class="tlabel">t: all</output></span>
<label class="group"><input type="checkbox" class="fit" checked> fit width</label>
<span class="group"><input type="search" class="search" placeholder="parameter name, e.g. weight_hh"
 aria-label="search a parameter"> <output class="found"></output></span>
</div>
{scale}
{panels}
<div class="tip" hidden></div>
</div>
<script type="application/json" id="{uid}-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
body{margin:0;font:13px Helvetica,Arial,sans-serif;color:#222;background:#fff}
.tsv [hidden]{display:none!important}
.tsv{padding:8px}
.bar{position:sticky;top:0;z-index:2;background:#fafafa;border-bottom:1px solid #ddd;padding:6px 4px;
display:flex;flex-wrap:wrap;gap:14px;align-items:center}
.group{display:inline-flex;gap:6px;align-items:center}
button{font:inherit;padding:2px 8px;border:1px solid #aaa;border-radius:4px;background:#fff;cursor:pointer}
button[aria-pressed=true]{background:#3d6cb9;color:#fff;border-color:#3d6cb9}
.slider{width:260px}.tlabel{min-width:9em;display:inline-block}
.panel h2{font-size:15px;margin:10px 0 2px}
.layout{overflow:auto}.tsv.fit .layout svg{max-width:100%;height:auto}
.scale{margin:6px 4px;font-size:12px}.scale span{display:inline-block;padding:1px 6px;border:1px solid #ccc}
.tsv.dim g.node,.tsv.dim g.edge{opacity:.25}
.tsv.dim g.node.hl,.tsv.dim g.edge.hl,.tsv.dim g.node.cover{opacity:1}
g.node.hl>path,g.node.hl>polygon,g.node.hl>ellipse{stroke:#d62728;stroke-width:3}
g.node.cover>path,g.node.cover>polygon{stroke:#d62728;stroke-dasharray:4 2;stroke-width:2}
g.edge.hl>path{stroke:#d62728;stroke-width:2.2}
g.cluster.hl>path{stroke:#d62728;stroke-width:2.5}
g.node.found>path,g.node.found>polygon,g.node.found>ellipse{stroke:#1f77b4;stroke-width:4}
g.node{cursor:default}
.strips{margin:4px 0 6px}.strip{display:flex;align-items:center;height:16px;margin:1px 0}
.strip .rl{width:9em;flex:none;font-size:11px;color:#555;white-space:nowrap;overflow:hidden}
.strip .sc{flex:1;height:100%;border:1px solid #fff;background:#e9edf2;cursor:pointer;min-width:2px}
.strip .sc.now{outline:2px solid #d62728;outline-offset:-1px}
.tip{position:fixed;z-index:3;pointer-events:none;background:#fffff4;border:1px solid #999;border-radius:4px;
padding:6px 8px;font-size:12px;box-shadow:0 2px 6px rgba(0,0,0,.2);max-width:420px}
.tip table{border-collapse:collapse}.tip td{padding:0 6px 0 0;vertical-align:top}
.tip .name{font-weight:bold}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var dataEl = document.currentScript.previousElementSibling;
  var uid = dataEl.id.replace(/-data$/, "");
  var root = document.getElementById(uid);
  var D = JSON.parse(dataEl.textContent);
  var $ = function (sel) { return root.querySelector(sel); };
  var tip = $(".tip"), slider = $(".slider"), tlabel = $(".tlabel"), play = $(".play");
  var search = $(".search"), found = $(".found"), scale = $(".scale");
  var detail = D.details[0], tIndex = -1, timer = null;
  var api = { visited: [], detail: detail, t: null, mode: "forward" };
  window.tinyseqViewers = window.tinyseqViewers || {};
  window.tinyseqViewers[uid] = api;

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "string") return v;
    var a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e4)) ? v.toExponential(3) : String(+v.toPrecision(4));
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  // index every drawn node and cluster: meta, step, t
  var layouts = [];  // {el, panel, detail, nodes: [{g, meta}], clusters: [{g, step}], edges}
  root.querySelectorAll(".panel").forEach(function (sec) {
    var p = +sec.dataset.panel;
    sec.querySelectorAll(".layout").forEach(function (div) {
      var L = D.panels[p].layouts[div.dataset.detail];
      var entry = { el: div, panel: p, detail: div.dataset.detail, nodes: [], clusters: [], edges: [] };
      div.querySelectorAll("g.node").forEach(function (g) {
        var name = g.querySelector("title").textContent;
        var meta = L.nodes[name] || { k: "other" };
        g.dataset.name = name;
        if (meta.s !== undefined) { g.dataset.step = meta.s; g.dataset.t = D.steps[meta.s].t; }
        else if (meta.tt !== undefined) g.dataset.t = meta.tt;
        entry.nodes.push({ g: g, meta: meta, name: name });
        g.addEventListener("mousemove", function (ev) { showTip(ev, meta, name); });
        g.addEventListener("mouseleave", function () { tip.hidden = true; });
      });
      div.querySelectorAll("g.cluster").forEach(function (g) {
        var s = L.clusters[g.querySelector("title").textContent];
        if (s !== undefined) {
          g.dataset.step = s; g.dataset.t = D.steps[s].t;
          var shape = g.querySelector("path,polygon");
          entry.clusters.push({ g: g, step: s, shape: shape, fill: shape ? shape.getAttribute("fill") : null });
        }
      });
      div.querySelectorAll("g.edge").forEach(function (g) {
        var ends = g.querySelector("title").textContent.split("->");  // "a:port" where the edge has a port
        entry.edges.push({ g: g, a: ends[0].split(":")[0], b: ends[1].split(":")[0] });
      });
      layouts.push(entry);
    });
  });

  // one strip per row of steps: a cell per t, coloured by the gradient norm as the backward wave reaches it
  var strips = [];
  root.querySelectorAll(".panel").forEach(function (sec) {
    var p = +sec.dataset.panel, rows = {}, order = [];
    D.steps.forEach(function (s, i) {
      if (s.p !== p) return;
      if (!(s.row in rows)) { rows[s.row] = {}; order.push(s.row); }
      rows[s.row][String(s.t)] = i;
    });
    var box = sec.querySelector(".strips");
    order.forEach(function (row) {
      var div = document.createElement("div");
      div.className = "strip";
      div.innerHTML = "<span class=rl>" + esc(row || "steps") + "</span>";
      D.tvals.forEach(function (t, k) {
        var i = rows[row][String(t)];
        var c = document.createElement("span");
        c.className = "sc";
        c.dataset.t = t;
        if (i !== undefined) {
          var s = D.steps[i];
          c.title = "t=" + t + (s.g !== null ? "  ‖g‖ into state " + fmt(s.g) : "");
          strips.push({ el: c, step: s, k: k });
        }
        c.addEventListener("click", function () { stop(); setT(k); });
        div.appendChild(c);
      });
      box.appendChild(div);
    });
  });

  function showTip(ev, meta, name) {
    var rows = [];
    var head = meta.l || name;
    rows.push("<div class=name>" + esc(head) + (meta.k ? " <small>(" + esc(meta.k) + ")</small>" : "") + "</div>");
    var t = [];
    if (meta.s !== undefined) {
      var s = D.steps[meta.s];
      t.push(["scope", esc(s.sc.map(function (kv) {
        if (kv[0] === "direction") return "direction " + kv[1] + ({ 0: " (forward)", 1: " (reverse)" }[kv[1]] || "");
        return kv[0] === "t" ? "t=" + kv[1] : kv[0] + " " + kv[1];
      }).join(" · "))]);
      if (s.g !== null) t.push(["‖g‖ into state", fmt(s.g)]);
    } else if (meta.tt !== undefined) t.push(["scope", "t=" + esc(meta.tt)]);
    (meta.o || []).forEach(function (o, i) {
      var label = meta.on ? meta.on[i] : (meta.o.length > 1 ? "output " + i : "output");
      t.push([label, "<b>" + esc(o[0]) + "</b> " + esc(o[1])]);
      if (o[2]) t.push(["", "min " + fmt(o[2][0]) + " · max " + fmt(o[2][1]) + " · mean " + fmt(o[2][2]) +
                        " · norm " + fmt(o[2][3])]);
      else t.push(["", "<i>values not kept by the graph</i>"]);
      if (o[3] !== null && o[3] !== undefined) t.push(["", "grad norm " + fmt(o[3])]);
    });
    (meta.w || []).forEach(function (w) {
      t.push([esc(w[0]), "<b>" + esc(w[1]) + "</b> " + esc(w[2])]);
      if (w[3]) t.push(["", "min " + fmt(w[3][0]) + " · max " + fmt(w[3][1]) + " · mean " + fmt(w[3][2]) +
                        " · norm " + fmt(w[3][3])]);
    });
    if (meta.p && meta.p.length && !meta.w) t.push(["reads", esc(meta.p.join(", "))]);
    if (meta.e) t.push(["elided t", esc(meta.e[0] + " … " + meta.e[meta.e.length - 1])]);
    rows.push("<table>" + t.map(function (r) { return "<tr><td>" + r[0] + "</td><td>" + r[1] + "</td></tr>"; })
      .join("") + "</table>");
    tip.innerHTML = rows.join("");
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth) x = Math.max(0, ev.clientX - w - 10);
    if (y + h > window.innerHeight) y = Math.max(0, ev.clientY - h - 10);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }

  function visible() { return layouts.filter(function (L) { return L.detail === detail; }); }

  function setDetail(d) {
    detail = d; api.detail = d;
    layouts.forEach(function (L) { L.el.hidden = L.detail !== d; });
    root.querySelectorAll("button.detail").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.detail === d ? "true" : "false"); });
    apply();
    runSearch();
  }

  function mode() { return root.querySelector("input[name='" + uid + "-mode']:checked").value; }

  // highlight step t's nodes (and the edges between them); in backward mode colour the
  // steps already reached by the gradient wave (t and later) by their gradient norm
  function apply() {
    var t = tIndex < 0 ? null : D.tvals[tIndex];
    api.t = t; api.mode = mode();
    var back = api.mode === "backward";
    scale.hidden = !back;
    root.classList.toggle("dim", t !== null);
    tlabel.textContent = t === null ? "t: all" : "t = " + t;
    layouts.forEach(function (L) {
      var on = {};
      L.nodes.forEach(function (n) {
        var hit = t !== null && n.g.dataset.t !== undefined && String(t) === n.g.dataset.t;
        n.g.classList.toggle("hl", hit);
        n.g.classList.toggle("cover", t !== null && !!n.meta.e && n.meta.e.map(String).indexOf(String(t)) >= 0);
        if (hit) on[n.name] = true;
      });
      L.edges.forEach(function (e) { e.g.classList.toggle("hl", !!(on[e.a] && on[e.b])); });
      L.clusters.forEach(function (c) {
        var s = D.steps[c.step];
        c.g.classList.toggle("hl", t !== null && String(s.t) === String(t));
        if (!c.shape) return;
        var reached = back && t !== null && D.tvals.map(String).indexOf(String(s.t)) >= tIndex;
        c.shape.setAttribute("fill", reached && s.c ? s.c : c.fill);
      });
    });
    strips.forEach(function (c) {
      var reached = back && t !== null && c.k >= tIndex;
      c.el.style.background = reached && c.step.c ? c.step.c : "";
      c.el.classList.toggle("now", c.k === tIndex);
    });
    var elided = t !== null && !visible().some(function (L) {
      return L.nodes.some(function (n) { return n.g.classList.contains("hl"); }); });
    if (elided) tlabel.textContent += " (not drawn)";
  }

  function setT(i) {
    tIndex = i; slider.value = i < 0 ? 0 : i; apply();
  }

  function stop() { if (timer) { clearInterval(timer); timer = null; } play.innerHTML = "&#9654; play"; }

  function start() {
    var back = mode() === "backward";
    var n = D.tvals.length;
    if (!n) return;
    var order = [];
    for (var k = 0; k < n; k++) order.push(back ? n - 1 - k : k);
    var pos = 0;
    api.visited = [];
    play.innerHTML = "&#9646;&#9646; pause";
    var tick = function () {
      if (pos >= order.length) { stop(); return; }
      setT(order[pos]); api.visited.push(D.tvals[order[pos]]); pos++;
    };
    tick();
    timer = setInterval(tick, api.interval || Math.max(60, Math.min(500, 8000 / n)));
  }

  function runSearch() {
    var q = search.value.trim().toLowerCase();
    var ts = {}, count = 0;
    visible().forEach(function (L) {
      L.nodes.forEach(function (n) {
        var hit = !!q && (n.meta.p || []).some(function (p) { return p.toLowerCase().indexOf(q) >= 0; });
        n.g.classList.toggle("found", hit);
        if (hit) { count++; if (n.g.dataset.t !== undefined) ts[n.g.dataset.t] = true; }
      });
    });
    var steps = Object.keys(ts);
    found.textContent = q ? count + " node" + (count === 1 ? "" : "s") + (steps.length ? ", " + steps.length +
      " step" + (steps.length === 1 ? "" : "s") : "") : "";
    api.found = count;
  }

  slider.max = Math.max(0, D.tvals.length - 1);
  if (!D.tvals.length) {  // a graph without time steps: nothing to step through
    root.querySelectorAll(".bar .group").forEach(function (g) {
      if (g.querySelector(".slider,input[type=radio]")) g.hidden = true; });
  }
  slider.addEventListener("input", function () { stop(); setT(+slider.value); });
  play.addEventListener("click", function () { if (timer) stop(); else start(); });
  root.querySelectorAll("input[name='" + uid + "-mode']").forEach(function (r) {
    r.addEventListener("change", function () { stop(); apply(); }); });
  root.querySelectorAll("button.detail").forEach(function (b) {
    b.addEventListener("click", function () { setDetail(b.dataset.detail); }); });
  search.addEventListener("input", runSearch);
  $("input.fit").addEventListener("change", function (ev) { root.classList.toggle("fit", ev.target.checked); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { stop(); setT(-1); }
  });
  api.setT = function (t) { stop(); setT(D.tvals.map(String).indexOf(String(t))); };
  api.setDetail = setDetail;
  api.setMode = function (m) {
    root.querySelector("input[name='" + uid + "-mode'][value='" + m + "']").checked = true; stop(); apply(); };
  api.play = start; api.stop = stop;
  api.playing = function () { return timer !== null; };
  apply();
  api.readyAt = performance.now();  // ms since navigation began: how long the page took to be usable
  api.ready = true;
})();
"""
