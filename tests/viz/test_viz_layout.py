"""Where Graphviz puts things in the lecture-style drawings: gates, weight boxes, state lines,
the arrows between layers. Positions come from Graphviz's JSON output (points, y up)."""

import json

import pytest
from test_viz_dot import clusters, edges, labelled, members, nodes, step_name

import tinyseq as ts
from tinyseq.viz.render import find_renderer

pytestmark = pytest.mark.skipif(find_renderer() is None, reason="no Graphviz renderer")

GATES = {"f = σ(·)  forget": "f", "i = σ(·)  input": "i", "g = tanh(·)  c̃": "g", "o = σ(·)  output": "o",
         "z = σ(·)  update": "z", "r = σ(·)  reset": "r", "n = tanh(·)  new": "n"}  # fmt: skip


class Layout:
    """Node boxes, cluster boxes and edge paths of a drawing, as Graphviz laid it out."""

    def __init__(self, g):
        data = json.loads(g.pipe(format="json", encoding="utf-8"))
        self.box, self.cluster, self.paths = {}, {}, {}
        names = {}
        for o in data["objects"]:
            names[o["_gvid"]] = o["name"]
            if "pos" in o:
                x, y = map(float, o["pos"].split(","))
                w, h = float(o["width"]) * 36, float(o["height"]) * 36  # half sizes, in points
                self.box[o["name"]] = (x - w, y - h, x + w, y + h)
            elif "bb" in o and o.get("label"):
                self.cluster[o["name"]] = tuple(map(float, o["bb"].split(",")))
        for e in data.get("edges", []):
            pts = [p for op in e.get("_draw_", []) if op["op"] == "b" for p in op["points"]]
            self.paths.setdefault((names[e["tail"]], names[e["head"]]), []).append(sample(pts))

    def x(self, name):
        x0, _, x1, _ = self.box[name]
        return (x0 + x1) / 2

    def y(self, name):
        _, y0, _, y1 = self.box[name]
        return (y0 + y1) / 2


def sample(pts):
    """Points along a cubic B-spline path p0 (c1 c2 p)*, each piece sampled 8 times."""
    out = [tuple(pts[0])] if pts else []
    for i in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(1, 9):
            u = k / 8
            out.append(tuple(
                (1 - u) ** 3 * a + 3 * (1 - u) ** 2 * u * b + 3 * (1 - u) * u**2 * c + u**3 * d
                for a, b, c, d in zip(p0, p1, p2, p3)
            ))  # fmt: skip
    return out


def op_picture(cls, fused, steps=3, layers=1):
    ts.manual_seed(0)
    out, _ = cls(3, 4, num_layers=layers, fused=fused)(ts.randn(steps, 2, 3))
    g = ts.viz.draw(out.sum(), detail="op")
    return g, g.source, Layout(g)


def step_of(src):
    """DOT name -> full step name of the cluster it is drawn in."""
    return {n: step for step, names in members(src).items() for n in names}


def named(src, step_nodes, label):
    (name,) = [n for n in step_nodes if nodes(src)[n].get("label") == label]
    return name


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls, order", [(ts.nn.LSTM, "figo"), (ts.nn.GRU, "zr")])
def test_op_detail_draws_the_gates_in_one_order_in_every_step(cls, order, fused):
    for steps, layers in [(3, 1), (4, 1)] + ([(3, 2)] if cls is ts.nn.LSTM else []):
        _, src, lay = op_picture(cls, fused, steps, layers)
        seen = {}
        for step, names in members(src).items():
            gates = {GATES[nodes(src)[n]["label"]]: n for n in names if nodes(src)[n].get("label") in GATES}
            seen[step] = "".join(sorted(order, key=lambda k: lay.x(gates[k])))  # left to right
        assert set(seen.values()) == {order}, (steps, layers, seen)


@pytest.mark.parametrize("cls", [ts.nn.LSTM, ts.nn.GRU])
def test_op_detail_puts_the_shared_weights_at_the_start_of_their_row(cls):
    for layers in (1, 2):
        _, src, lay = op_picture(cls, True, 3, layers)
        where = step_of(src)
        for w in labelled(src, "shared by every step:"):
            layer = nodes(src)[w]["label"].split("\\n")[1].split()[0].rsplit("_l", 1)[1]  # weight_ih_l1 -> 1
            row = [n for n in where if where[n].startswith(f"layer {layer} ")]
            x0, y0, x1, y1 = lay.box[w]
            ys = [lay.y(n) for n in row]
            bottom, top = min(ys), max(ys)
            # left of the row's first step, close to it ...
            left = min(lay.box[n][0] for n in row)
            assert x1 < left and left - x1 < 60, (layers, w, x1, left)
            # ... and level with the middle of the row, not its bottom
            assert bottom + (top - bottom) / 4 < (y0 + y1) / 2 < top - (top - bottom) / 4, (layers, w)


def test_op_detail_lstm_c_runs_level_from_step_to_step():
    for fused in (True, False):
        _, src, lay = op_picture(ts.nn.LSTM, fused, 4)
        steps = members(src)
        cs = [named(src, steps[f"layer 0 → · t={t}"], "c = f·c + i·g") for t in range(4)]
        fcs = [named(src, steps[f"layer 0 → · t={t}"], "f · c") for t in range(4)]
        y = lay.y(cs[0])
        assert all(abs(lay.y(n) - y) < 1 for n in cs + fcs), fused  # one line: f·c and c of every step
        for t in range(3):
            (path,) = lay.paths[(cs[t], fcs[t + 1])]  # c_t straight into the next step's f·c ...
            assert max(abs(py - y) for _, py in path) < 2, (fused, t)  # ... level all the way
            assert min(px for px, _ in path) >= lay.box[cs[t]][2] - 1
            assert max(px for px, _ in path) <= lay.box[fcs[t + 1]][0] + 1
        labels = [a.get("xlabel") for s, d, a in edges(src) if (s, d) in set(zip(cs, fcs[1:]))]
        assert labels == ["c"] * 3


def test_op_detail_gru_h_runs_level_along_the_top():
    for fused in (True, False):
        _, src, lay = op_picture(ts.nn.GRU, fused, 3)
        steps = members(src)
        hs = [named(src, steps[f"layer 0 → · t={t}"], "h = (1 − z)·n + z·h") for t in range(3)]
        zhs = [named(src, steps[f"layer 0 → · t={t}"], "z · h") for t in range(3)]
        y = lay.y(hs[0])
        assert all(abs(lay.y(n) - y) < 1 for n in hs + zhs), fused
        for t in range(2):
            inside = set(steps[f"layer 0 → · t={t + 1}"])
            (into,) = [(s, d) for s, d in lay.paths if d == zhs[t + 1] and s not in inside]  # from step t
            (path,) = lay.paths[into]
            assert max(abs(py - y) for _, py in path) < 2, (fused, t)  # level into z·h ...
            assert lay.box[zhs[t + 1]][0] < lay.box[hs[t + 1]][0]  # ... which starts the line in its step


@pytest.mark.parametrize(
    "cls, layers, steps", [(ts.nn.LSTM, 2, 5), (ts.nn.GRU, 3, 3), (ts.nn.RNN, 2, 6), (ts.nn.LSTM, 1, 5)]
)
def test_arrows_from_x_t_and_between_layers_go_up_inside_their_column(cls, layers, steps):
    ts.manual_seed(0)
    out, _ = cls(3, 4, num_layers=layers, bidirectional=True)(ts.randn(steps, 2, 3))
    g = ts.viz.draw(out.sum())
    src, lay = g.source, Layout(g)
    where = step_of(src)
    cells = [n for n in where if nodes(src)[n]["label"].split("\\n")[0].endswith("Cell")]
    xs = {n: "₀₁₂₃₄₅".index(a["label"][1]) for n, a in nodes(src).items() if a.get("label", "")[:1] == "x"}
    layer = {n: where[n].split()[1] for n in cells}
    between = [(s, d) for s, d, a in edges(src) if a.get("style") != "invis" and d in cells
               and (s in xs or s in cells and layer[s] != layer[d])]  # fmt: skip
    assert len(between) == 2 * steps + 4 * (layers - 1) * steps  # x_t into both directions, each layer into both above
    for s, d in between:
        step = int(where[d].split("t=")[1])
        assert (xs[s] if s in xs else int(where[s].split("t=")[1])) == step  # from step t (or x_t) to step t
        # within the horizontal span of the two nodes: no detour around the cells between them
        lo = min(lay.box[s][0], lay.box[d][0]) - 3
        hi = max(lay.box[s][2], lay.box[d][2]) + 3
        for path in lay.paths[(s, d)]:
            assert all(lo <= x <= hi for x, _ in path), (s, where[d], lo, hi, min(x for x, _ in path),
                                                         max(x for x, _ in path))  # fmt: skip


SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def step_spans(src, lay):
    """full step name (see test_viz_dot.step_name) -> (x0, x1) of its cluster as laid out."""
    out, row = {}, ""
    for i, (label, _) in enumerate(clusters(src)):
        name, row = step_name(label, row)
        if name:
            x0, _, x1, _ = lay.cluster[f"cluster_{i}"]
            out[name] = (x0, x1)
    return out


def outputs_by_step(src):
    """t -> DOT name of the y_t node."""
    ys = {}
    for n, a in nodes(src).items():
        head = a.get("label", "").split("\\n")[0]
        if head[:1] == "y" and head[1:] and head[1:].translate(SUBSCRIPT).isdigit():
            ys[int(head[1:].translate(SUBSCRIPT))] = n
    return ys


def assert_each_y_above_its_step(g, top_row):
    """Every y_t's centre lies within the x span of the step cluster ``top_row · t=t``."""
    src, lay = g.source, Layout(g)
    spans, ys = step_spans(src, lay), outputs_by_step(src)
    assert ys, "no y_t drawn"
    for t, y in ys.items():
        x0, x1 = spans[f"{top_row} · t={t}"]
        assert x0 <= lay.x(y) <= x1, (t, round(lay.x(y)), (x0, x1))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls", [ts.nn.LSTM, ts.nn.GRU])
def test_op_detail_puts_each_y_t_above_its_step(cls, fused):
    for steps in (2, 3, 5):
        g, _, _ = op_picture(cls, fused, steps)
        assert_each_y_above_its_step(g, "layer 0 →")
    g, _, _ = op_picture(cls, fused, 3, layers=2)
    assert_each_y_above_its_step(g, "layer 1 →")


@pytest.mark.parametrize(
    "make, top_row",
    [
        (lambda: ts.nn.LSTM(3, 4)(ts.randn(3, 2, 3)), "layer 0 →"),
        (lambda: ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3)), "layer 1 →"),
        (lambda: ts.nn.GRU(3, 4, num_layers=3)(ts.randn(4, 2, 3)), "layer 2 →"),
        (lambda: ts.nn.ConvLSTM(2, 3, 3, bidirectional=True)(ts.randn(4, 1, 2, 8, 8)), "layer 0 →"),
    ],
    ids=["lstm", "bilstm-2-layers", "gru-3-layers", "biconvlstm"],
)  # fmt: skip
def test_cell_detail_puts_each_y_t_above_its_step(make, top_row):
    ts.manual_seed(0)
    out, _ = make()
    assert_each_y_above_its_step(ts.viz.draw(out.sum()), top_row)


def elision_boxes(src):
    """DOT names of the rows' "… n steps …" nodes."""
    return [n for n, a in nodes(src).items() if a.get("label", "").startswith("… ") and "steps" in a["label"]]


def elided_lstm():
    """The README's first drawing: a 2-layer bidirectional LSTM over 20 steps, 4 of them drawn."""
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(input_size=8, hidden_size=32, num_layers=2, bidirectional=True)
    out, _ = lstm(ts.randn(20, 4, 8), lengths=[20, 17, 9, 3])
    return ts.viz.draw(out.sum(), max_steps=4)


@pytest.mark.parametrize(
    "make, rows",
    [
        (elided_lstm, 4),
        (lambda: ts.viz.draw(ts.nn.GRU(3, 4, num_layers=3)(ts.randn(12, 2, 3))[0].sum()), 3),
        (lambda: ts.viz.draw(ts.nn.RNN(3, 4, bidirectional=True)(ts.randn(10, 2, 3))[0].sum(), max_steps=5), 2),
    ],
    ids=["readme-bilstm", "gru-3-layers", "birnn"],
)  # fmt: skip
def test_the_elided_steps_of_all_rows_stand_in_one_column(make, rows):
    ts.manual_seed(0)
    g = make()
    src, lay = g.source, Layout(g)
    boxes = elision_boxes(src)
    dots = [n for n, a in nodes(src).items() if a.get("label") == "…"]  # in the rows of x_t and y_t
    assert len(boxes) == rows and len(dots) == 2
    xs = [lay.x(n) for n in boxes + dots]
    assert max(xs) - min(xs) <= 3, {n: round(lay.x(n)) for n in boxes + dots}
    # ... between the last step drawn before the gap and the first one after it, in every row
    spans = step_spans(src, lay)
    for n in boxes:
        y = lay.y(n)
        row = sorted((x0, x1) for name, (x0, x1) in spans.items()
                     if any(abs(lay.y(m) - y) < 1 for m in members(src)[name]))  # fmt: skip
        before = max(x1 for _, x1 in row if x1 <= lay.x(n))
        after = min(x0 for x0, _ in row if x0 >= lay.x(n))
        x0, _, x1, _ = lay.box[n]
        assert before <= x0 and x1 <= after, (n, before, after)


@pytest.mark.parametrize("cls, kw", [(ts.nn.GRU, {"num_layers": 2}), (ts.nn.LSTM, {"bidirectional": True})])
def test_op_detail_elides_the_same_steps_of_all_rows_in_one_column(cls, kw):
    ts.manual_seed(0)
    out, _ = cls(3, 4, **kw)(ts.randn(10, 2, 3))
    g = ts.viz.draw(out.sum(), detail="op")
    src, lay = g.source, Layout(g)
    xs = [lay.x(n) for n in elision_boxes(src)]
    assert len(xs) == 2 and max(xs) - min(xs) <= 3, xs


def step_boxes(src, lay):
    """full step name -> (x0, y0, x1, y1) of its cluster as laid out."""
    out, row = {}, ""
    for i, (label, _) in enumerate(clusters(src)):
        name, row = step_name(label, row)
        if name:
            out[name] = lay.cluster[f"cluster_{i}"]
    return out


H_LABELS = ("h = o · tanh(c)", "h = (1 − z)·n + z·h")


@pytest.mark.parametrize("fused, steps", [(True, 10), (True, 13), (False, 10)])
@pytest.mark.parametrize("cls", [ts.nn.LSTM, ts.nn.GRU])
def test_op_detail_with_elided_steps_draws_every_shown_step_bottom_up_in_time_order(cls, fused, steps):
    _, src, lay = op_picture(cls, fused, steps)
    shown = members(src)
    names = [f"layer 0 → · t={t}" for t in (0, 1, 2, steps - 3, steps - 2, steps - 1)]
    assert set(names) <= set(shown) and len(elision_boxes(src)) == 1, sorted(shown)
    for name in names:
        inside = shown[name]
        (h,) = [n for n in inside if nodes(src)[n].get("label") in H_LABELS]
        gates = [n for n in inside if nodes(src)[n].get("label") in GATES]
        (x,) = [n for n in inside if nodes(src)[n].get("label", "")[:1] == "x"]
        assert len(gates) == (4 if cls is ts.nn.LSTM else 3), name
        # the step reads bottom-up: x_t, then the gates, then h (Graphviz's y grows upwards)
        assert all(lay.box[x][3] < lay.box[gate][1] for gate in gates), name
        assert all(lay.box[gate][3] < lay.box[h][1] for gate in gates), name
    boxes = step_boxes(src, lay)
    spans = [boxes[name] for name in names]
    for (_, _, a1, _), (b0, _, _, _) in zip(spans, spans[1:]):
        assert a1 <= b0, names  # left to right in time order, side by side
    (ell,) = elision_boxes(src)
    x0, _, x1, _ = lay.box[ell]
    assert boxes[names[2]][2] <= x0 and x1 <= boxes[names[3]][0]  # the elided steps stand between t=2 and t=T-3


def boxes_meet(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("steps", [3, 10])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls", [ts.nn.LSTM, ts.nn.GRU])
def test_op_detail_stacks_the_layers_without_overlap(cls, fused, steps):
    _, src, lay = op_picture(cls, fused, steps, layers=2)
    boxes = step_boxes(src, lay)
    rows = [{n: b for n, b in boxes.items() if n.startswith(f"layer {k} ")} for k in (0, 1)]
    assert all(len(r) == min(steps, 6) for r in rows), sorted(boxes)
    named = sorted(boxes)
    for i, a in enumerate(named):
        for b in named[i + 1 :]:
            assert not boxes_meet(boxes[a], boxes[b]), (a, boxes[a], b, boxes[b])
    assert max(b[3] for b in rows[0].values()) <= min(b[1] for b in rows[1].values())  # layer 1 above layer 0
