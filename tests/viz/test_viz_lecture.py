"""The drawings look like the lecture's unrolled figure: checked on the DOT text and on
the layout Graphviz computes (positions read from its SVG output)."""

import re
import struct
import time

import pytest
from test_viz_dot import clusters, edges, labelled, members, nodes, step_names
from test_viz_layout import sample

import tinyseq as ts
from tinyseq.viz.draw import GRAD_DECADES, grad_colour, short_name
from tinyseq.viz.render import find_renderer

needs_renderer = pytest.mark.skipif(find_renderer() is None, reason="no Graphviz renderer")

_CLUSTER_SVG = re.compile(r'<title>(cluster_\d+)</title>\s*<(?:polygon|path)[^>]*(?:points|d)="([^"]+)"')


def cluster_boxes(svg: str) -> dict:
    """cluster name -> (x centre, y centre) from Graphviz's SVG."""
    out = {}
    for name, pts in _CLUSTER_SVG.findall(svg):
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", pts)]
        xy = list(zip(nums[::2], nums[1::2]))
        xs, ys = [x for x, _ in xy], [y for _, y in xy]
        out[name] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return out


def cluster_steps(src: str) -> dict:
    """cluster name -> t, from the DOT text (clusters are numbered in order)."""
    out = {}
    for i, (label, _) in enumerate(clusters(src)):
        out[f"cluster_{i}"] = int(re.search(r"t=(\d+)", label).group(1))
    return out


def rows_in_x_order(g):
    """[[t of each step cluster, left to right]] for each row, bottom row first."""
    svg = g.pipe(format="svg", encoding="utf-8")
    pos = cluster_boxes(svg)
    steps = cluster_steps(g.source)
    rows = {}
    for name, (x, y) in pos.items():
        rows.setdefault(round(y / 20), []).append((x, steps[name]))
    # SVG y grows downwards: the bottom row has the largest y
    return [[t for _, t in sorted(r)] for _, r in sorted(rows.items(), reverse=True)]


@needs_renderer
def test_bilstm_steps_run_left_to_right_in_every_row():
    ts.manual_seed(0)
    out, _ = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3))
    g = ts.viz.draw(out.sum())
    rows = rows_in_x_order(g)
    assert rows == [[0, 1, 2, 3, 4]] * 4
    # the reverse rows' state arrows run right to left: drawn with dir=back
    src = g.source
    cells = set(labelled(src, "LSTMCell"))
    state = [e for e in edges(src) if e[2].get("xlabel") == "h, c" and e[0] in cells and e[1] in cells]
    assert len([e for e in state if e[2].get("dir") == "back"]) == 2 * 4  # 4 arrows in each reverse row
    assert len([e for e in state if e[2].get("dir") != "back"]) == 2 * 4
    # the initial states start each row: at t=0 going right, at t=4 in the reverse rows
    starts = members(src)
    for row, t in [("layer 0 →", 0), ("layer 0 ←", 4), ("layer 1 →", 0), ("layer 1 ←", 4)]:
        assert [nodes(src)[n]["label"] for n in starts[f"{row} · t={t}"] if n not in cells] == ["h₀, c₀"]


@needs_renderer
def test_convlstm_steps_run_left_to_right_with_its_reverse_row():
    ts.manual_seed(0)
    out, _ = ts.nn.ConvLSTM(2, 3, 3, bidirectional=True)(ts.randn(4, 1, 2, 6, 6))
    rows = rows_in_x_order(ts.viz.draw(out.sum()))
    assert rows == [[0, 1, 2, 3]] * 2


def test_each_parameter_drawn_once_with_its_name_for_an_inline_module():
    ts.manual_seed(0)
    out, _ = ts.nn.LSTM(3, 4, num_layers=2)(ts.randn(4, 2, 3))  # the module is gone after this line
    src = ts.viz.draw(out.sum()).source
    text = " ".join(a.get("label", "") for a in nodes(src).values())
    for k in range(2):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            assert text.count(f"{name}_l{k} ") == 1, name  # in the row's weight node, with its shape
    assert "parameter" not in text
    # named inside every step, with no edge from the weight node to the steps
    cells = labelled(src, "LSTMCell")
    assert len(cells) == 8 and all("W_hh" in nodes(src)[c]["label"] for c in cells)
    weights = labelled(src, "shared by every step:")
    assert len(weights) == 2
    assert not [e for e in edges(src) if e[0] in weights and e[2].get("style") != "invis"]


def test_recorded_names_cost_little_and_name_nested_modules():
    class Net(ts.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = ts.nn.RNN(3, 4)
            self.head = ts.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    out = Net()(ts.randn(3, 1, 3))
    src = ts.viz.draw(out.sum()).source
    assert "rnn.weight_hh_l0  (4, 4)" in src.replace("\\n", "\n")
    assert labelled(src, "head.weight") and labelled(src, "head.bias")
    lin, x = ts.nn.Linear(3, 3), ts.randn(1, 3)
    start = time.perf_counter()
    for _ in range(2000):
        lin(x)
    assert (time.perf_counter() - start) / 2000 < 1e-3  # the recording is a loop over a few parameters


@pytest.mark.parametrize("fused", [True, False])
def test_op_detail_names_the_lstm_gates(fused):
    ts.manual_seed(0)
    out, _ = ts.nn.LSTM(3, 4, fused=fused)(ts.randn(3, 2, 3))
    src = ts.viz.draw(out.sum(), detail="op").source
    labels = [a.get("label", "") for a in nodes(src).values()]
    for gate in ("i = σ(·)  input", "f = σ(·)  forget", "g = tanh(·)  c̃", "o = σ(·)  output", "c = f·c + i·g"):
        assert labels.count(gate) == 3, gate
    assert not any(lab.split("\\n")[0] in ("Permute", "Reshape", "Split", "LSTMStep") for lab in labels)


def test_op_detail_is_the_same_picture_fused_or_composed():
    def gate_labels(fused, cls):
        ts.manual_seed(0)
        out, _ = cls(3, 4, fused=fused)(ts.randn(3, 2, 3))
        src = ts.viz.draw(out.sum(), detail="op").source
        return sorted(a["label"] for n, a in nodes(src).items() if n.startswith("n") and "label" in a)

    for cls in (ts.nn.LSTM, ts.nn.GRU, ts.nn.RNN):
        assert gate_labels(True, cls) == gate_labels(False, cls), cls.__name__


@pytest.mark.parametrize("fused", [True, False])
def test_op_detail_names_the_gru_gates(fused):
    ts.manual_seed(0)
    out, _ = ts.nn.GRU(3, 4, fused=fused)(ts.randn(3, 2, 3))
    src = ts.viz.draw(out.sum(), detail="op").source
    labels = [a.get("label", "") for a in nodes(src).values()]
    for gate in ("r = σ(·)  reset", "z = σ(·)  update", "n = tanh(·)  new", "h = (1 − z)·n + z·h"):
        assert labels.count(gate) == 3, gate


def test_literal_detail_keeps_the_recorded_ops():
    out, _ = ts.nn.LSTM(3, 4, fused=False)(ts.randn(2, 1, 3))
    src = ts.viz.draw(out.sum(), detail="literal").source
    assert labelled(src, "Permute") and labelled(src, "Sigmoid")


def test_initial_states_are_labelled_h0_and_c0():
    out, _ = ts.nn.LSTM(3, 4, bidirectional=True)(ts.randn(3, 2, 3))
    src = ts.viz.draw(out.sum()).source
    assert len(labelled(src, "h₀, c₀")) == 2  # one per direction
    assert not labelled(src, "input")
    out, _ = ts.nn.LSTM(3, 4, fused=False)(ts.randn(3, 2, 3))
    src = ts.viz.draw(out.sum(), detail="op").source
    (s0,) = labelled(src, "h₀, c₀")
    into = {nodes(src)[d]["label"]: a["xlabel"] for s, d, a in edges(src) if s == s0}
    assert into == {"matmul · W_hh": "h", "f · c": "c"}
    out = ts.nn.GRU(3, 4, fused=False)(ts.randn(3, 2, 3))[0]
    src = ts.viz.draw(out.sum()).source
    assert len(labelled(src, "h₀")) == 1 and not labelled(src, "c₀")


def test_the_input_sequence_is_drawn_once_with_per_step_x_t():
    out, _ = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3))
    src = ts.viz.draw(out.sum()).source
    for sub in "₀₁₂₃₄":
        (x,) = labelled(src, f"x{sub}")
        assert nodes(src)[x]["label"] == f"x{sub}\\n(2, 3)"
        # x_t feeds the two layer-0 steps at t, nothing else
        assert len([e for e in edges(src) if e[0] == x and e[2].get("style") != "invis"]) == 2
    assert len(labelled(src, "y₀")) == 1


@needs_renderer
def test_bilstm_picture_fits_the_size_budget(tmp_path):
    ts.manual_seed(0)
    out, _ = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3))
    start = time.perf_counter()
    path = ts.viz.draw(out.sum()).render(outfile=tmp_path / "bilstm.png")
    assert time.perf_counter() - start < 2.0
    with open(path, "rb") as f:
        w, h = struct.unpack(">II", f.read(24)[16:24])
    assert w <= 1900 and h <= 1000, (w, h)
    assert min(w, h) > 400  # not shrunk to an unreadable font


def test_gradient_colours_are_an_absolute_log_scale():
    top = 23.7
    a, b = grad_colour(22.6, top), grad_colour(top, top)  # 5% apart: the same colour to the eye
    assert max(abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16)) for i in (1, 3, 5)) <= 3
    assert grad_colour(top * 1e-8, top) == "#f7f7f7"  # 8 decades down: the palest
    assert grad_colour(top * 1e-12, top) == "#f7f7f7"
    # darkness falls monotonically with the decades
    lum = [sum(int(grad_colour(top / 10**d, top)[i : i + 2], 16) for i in (1, 3, 5)) for d in range(GRAD_DECADES + 1)]
    assert lum == sorted(lum) and lum[0] < lum[-1] - 300
    assert grad_colour(0.0, top) == "#ffffff" and grad_colour(float("nan"), top) == "#000000"
    # the same norms in a picture whose largest is ten times bigger look paler
    assert grad_colour(2.0, 20.0) == grad_colour(0.2, 2.0) != grad_colour(2.0, 2.0)


def test_show_grad_colours_a_vanishing_gradient_pale_and_has_a_legend():
    ts.manual_seed(0)
    out, _ = ts.nn.RNN(3, 4)(ts.randn(6, 2, 3))
    src = ts.viz.draw((out[-1] ** 2).sum(), show_grad=True, max_steps=6).source
    fills = [a["fillcolor"] for _, a in clusters(src)]
    assert fills[-1] != fills[0]
    assert "−8 decades" in src and "largest" in src


def test_a_long_chain_without_steps_is_elided():
    x = ts.randn(3, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    start = time.perf_counter()
    src = ts.viz.draw(y.sum()).source
    assert time.perf_counter() - start < 10  # about 2 s on a quiet 2-core machine
    assert len(src) < 50_000
    (e,) = [n for n, a in nodes(src).items() if re.fullmatch(r"… \d+ ops …", a.get("label", ""))]
    assert int(nodes(src)[e]["label"].split()[1]) > 99_000
    assert len(nodes(src)) < 200


def test_members_of_the_first_step_hold_the_initial_states():
    out, _ = ts.nn.LSTM(3, 4)(ts.randn(3, 2, 3))
    src = ts.viz.draw(out.sum()).source
    first = members(src)["layer 0 → · t=0"]
    assert {nodes(src)[n]["label"] for n in first} == {"h₀, c₀", "LSTMCell\\nW_hh"}


def test_short_names():
    assert short_name("lstm.weight_hh_l1_reverse") == "W_hh"
    assert short_name("cell.bias_ih") == "b_ih"
    assert short_name("weight") == "W"
    assert short_name("emb") == "emb"


def test_seq2seq_example_tags_its_decoder_steps():
    import importlib.util
    from pathlib import Path

    import numpy as np

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("s2s", root / "examples" / "seq2seq_number_words.py")
    s2s = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(root / "examples"))
    try:
        spec.loader.exec_module(s2s)
    finally:
        sys.path.remove(str(root / "examples"))
    ts.manual_seed(0)
    model = s2s.Translator(4, 4, attention=True)
    source, lengths, target, inputs = s2s.encode(np.array([7, 1234]), "cpu")
    logits = model(source, lengths, inputs)
    src = ts.viz.draw(logits.sum()).source
    names = set(step_names(src))
    T = inputs.shape[0]
    assert {f"Translator · t={t}" for t in range(T)} <= names  # the decoder: one column per digit
    assert {f"encoder layer 0 ← · t={t}" for t in range(source.shape[0])} <= names


def test_convlstm_op_detail_is_the_same_picture_fused_or_composed():
    def labels(fused):
        ts.manual_seed(0)
        model = ts.nn.ConvLSTM(2, 3, 3, fused=fused)
        out, _ = model(ts.randn(3, 1, 2, 5, 5))
        src = ts.viz.draw(out.sum(), detail="op").source
        return sorted(a["label"] for n, a in nodes(src).items() if n.startswith("n") and "label" in a)

    fused = labels(True)
    assert fused == labels(False)
    assert fused.count("f = σ(·)  forget") == 2  # t=0 starts from c = 0: no forget gate
    assert fused.count("h = o · tanh(c)") == 3


def test_h_n_reads_the_last_steps_only():
    # 2 layers x 2 directions = 4 = T: the stack of final states must not pass for a sequence
    out, (h_n, _) = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(4, 2, 3))
    src = ts.viz.draw([out, h_n]).source
    (stack,) = labelled(src, "Stack")
    cells = labelled(src, "LSTMCell")
    into = [s for s, d, a in edges(src) if d == stack]
    assert len(into) == 4 and set(into) <= set(cells)
    assert len([n for n in nodes(src) if nodes(src)[n]["label"].startswith("y")]) == 4


def test_a_hand_written_loop_names_only_its_hidden_state_h():
    w_hh = ts.randn(4, 4, requires_grad=True)
    w_xh = ts.randn(4, 3, requires_grad=True)
    x, h, loss = ts.randn(3, 2, 3), ts.zeros(2, 4), ts.zeros(())
    for t in range(3):
        with ts.viz.step(t):
            h = (x[t] @ w_xh.T + h @ w_hh.T).tanh()
            loss = loss + (h * h).sum()  # a running loss also goes from step to step
    src = ts.viz.draw(loss, params={"Whh": w_hh, "Wxh": w_xh}).source
    state = [(s, d, a) for s, d, a in edges(src) if a.get("penwidth") == "1.6" and s.startswith("n")]
    into_matmul = [a.get("xlabel") for s, d, a in state if nodes(src)[d]["label"] == "MatMul · Whh"]
    others = [a.get("xlabel") for s, d, a in state if nodes(src)[d]["label"] != "MatMul · Whh"]
    assert into_matmul == ["h", "h"] and others == [None, None]
    (h0,) = labelled(src, "h₀")


class _MyCell(ts.nn.Module):
    """A user's own cell whose weights' names say nothing about x or h."""

    def __init__(self, n):
        super().__init__()
        self.W = ts.nn.Parameter(ts.randn(n, n))
        self.U = ts.nn.Parameter(ts.randn(n, n))

    def forward(self, x, h):
        return (x @ self.W + h @ self.U).tanh()


@pytest.mark.parametrize("detail", ["cell", "op"])
def test_h0_is_what_flows_into_the_state_input_not_any_input_shaped_like_h(detail):
    ts.manual_seed(0)
    cell, x, h = _MyCell(4), ts.randn(3, 2, 4), ts.zeros(2, 4)  # x_t has h's shape
    for t in range(3):
        with ts.viz.step(t):
            h = cell(x[t], h)
    src = ts.viz.draw(h.sum(), detail=detail).source
    (h0,) = labelled(src, "h₀")
    into = [d for s, d, a in edges(src) if s == h0 and a.get("style") != "invis"]
    assert len(into) == 1 and nodes(src)[into[0]]["label"].lower().startswith("matmul · u")
    for sub in "₀₁₂":
        (xt,) = labelled(src, f"x{sub}")
        (dst,) = [d for s, d, a in edges(src) if s == xt and a.get("style") != "invis"]
        assert nodes(src)[dst]["label"].lower().startswith("matmul · w")
    # the state arrows between the steps are named h
    state = [a.get("xlabel") for s, d, a in edges(src) if a.get("penwidth") == "1.6" and d.startswith("n")]
    assert [x for x in state if x] == ["h", "h", "h"]  # from h₀ and between the steps (op: the last leg)


@pytest.mark.parametrize("cls", [ts.nn.RNNCell, ts.nn.GRUCell, ts.nn.LSTMCell])
@pytest.mark.parametrize("fused", [True, False])
def test_h0_of_a_loop_over_library_cells_is_their_hx(cls, fused):
    ts.manual_seed(0)
    cell, x = cls(4, 4, fused=fused), ts.randn(3, 2, 4)
    h = (ts.zeros(2, 4), ts.zeros(2, 4)) if cls is ts.nn.LSTMCell else ts.zeros(2, 4)
    for t in range(3):
        with ts.viz.step(t):
            h = cell(x[t], h)
    out = h[0] if isinstance(h, tuple) else h
    for detail in ("cell", "op"):
        src = ts.viz.draw(out.sum(), detail=detail).source
        assert len(labelled(src, "h₀, c₀" if cls is ts.nn.LSTMCell else "h₀")) == 1, detail
        assert all(len(labelled(src, f"x{sub}")) == 1 for sub in "₀₁₂"), detail


_SHAPE_SVG = re.compile(r'<title>([^<]+)</title>\s*<(?:polygon|path|ellipse)([^>]*)>')


def svg_shapes(svg: str) -> dict:
    """node or edge title ("a->b") -> [(x, y)] of its first shape (outline or path), from Graphviz's SVG."""
    out = {}
    for title, attrs_ in _SHAPE_SVG.findall(svg):
        title = re.sub(r":\w+", "", title.replace("&#45;&gt;", "->"))  # "a:ne->b": drop the port
        m = re.search(r'cx="([-\d.]+)" cy="([-\d.]+)" rx="([-\d.]+)" ry="([-\d.]+)"', attrs_)
        if m:
            cx, cy, rx, ry = map(float, m.groups())
            out[title] = [(cx - rx, cy - ry), (cx + rx, cy + ry)]
            continue
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", re.search(r'(?:points|d)="([^"]+)"', attrs_).group(1))]
        out[title] = list(zip(nums[::2], nums[1::2]))
    return out


@needs_renderer
@pytest.mark.parametrize("cls", [ts.nn.LSTM, ts.nn.GRU])
def test_op_detail_h_leaves_each_step_on_its_right_and_enters_the_next_on_its_left_level(cls):
    ts.manual_seed(0)
    out, _ = cls(3, 4)(ts.randn(3, 2, 3))
    g = ts.viz.draw(out.sum(), detail="op")
    src, shapes = g.source, svg_shapes(g.pipe(format="svg", encoding="utf-8"))
    steps = members(src)
    into = {}  # the edges that carry a state into a step, by the node they enter
    for s, d, a in edges(src):
        from_h0 = "₀" in nodes(src)[s].get("label", "")
        if a.get("xlabel") == "h" and nodes(src)[d]["label"].startswith("matmul · W_hh") and not from_h0:
            into[d] = s
    assert len(into) == 2  # t=0 -> t=1 and t=1 -> t=2
    for t in (1, 2):
        (mh,) = [n for n in steps[f"layer 0 → · t={t}"] if n in into]
        box = shapes[mh]
        cy = (min(y for _, y in box) + max(y for _, y in box)) / 2
        path = shapes[f"{into[mh]}->{mh}"]
        assert max(abs(y - cy) for _, y in path) < 3, (t, path, cy)  # level
        assert max(x for x, _ in path) <= min(x for x, _ in box) + 2  # from the left
        # it left step t-1 on that step's right: where the arrow starts, no node of step t-1 lies further right
        start = min(x for x, _ in path)
        prev = [n for n in steps[f"layer 0 → · t={t - 1}"] if n in shapes and not n.startswith("r")]
        assert start >= max(x for n in prev for x, _ in shapes[n]) - 1, t


def path_points(d: str) -> list:
    """Points along an SVG edge path "M p C p p p ..." (each cubic sampled 8 times)."""
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return sample(list(zip(nums[::2], nums[1::2])))


@needs_renderer
def test_bilstm_inputs_reach_the_reverse_row_between_the_forward_cells():
    ts.manual_seed(0)
    out, _ = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)(ts.randn(5, 2, 3))
    g = ts.viz.draw(out.sum())
    src, svg = g.source, g.pipe(format="svg", encoding="utf-8")
    shapes = svg_shapes(svg)
    found = re.findall(r'<title>([^<]+)</title>\s*<path[^>]*d="([^"]+)"', svg)
    paths = {re.sub(r":\w+", "", t.replace("&#45;&gt;", "->")): d for t, d in found}  # "a:ne->b": a port
    cells = labelled(src, "LSTMCell")
    box = {c: (min(x for x, _ in shapes[c]), max(x for x, _ in shapes[c]), min(y for _, y in shapes[c]),
               max(y for _, y in shapes[c])) for c in cells}  # fmt: skip
    steps = members(src)
    xs = {int("₀₁₂₃₄".index(nodes(src)[n]["label"][1])): n for n in labelled(src, "x₀") + labelled(src, "x₁")
          + labelled(src, "x₂") + labelled(src, "x₃") + labelled(src, "x₄")}  # fmt: skip
    centre = {t: (min(x for x, _ in shapes[n]) + max(x for x, _ in shapes[n])) / 2 for t, n in xs.items()}
    pitch = min(abs(centre[t + 1] - centre[t]) for t in range(4))
    for t, x in xs.items():
        (rev,) = [n for n in steps[f"layer 0 ← · t={t}"] if n in cells]
        pts = path_points(paths[f"{x}->{rev}"])
        # no detour around the picture: the arrow stays in its own column's reach ...
        assert max(abs(px - centre[t]) for px, _ in pts) < pitch * 0.75, t
        # ... and passes beside the forward cells, through none of them
        for c, (x0, x1, y0, y1) in box.items():
            if c != rev:
                assert not [p for p in pts if x0 + 2 < p[0] < x1 - 2 and y0 + 2 < p[1] < y1 - 2], (t, c)


@pytest.mark.parametrize("detail", ["cell", "op"])
def test_an_input_sequence_that_requires_grad_is_drawn_as_x_t_not_as_a_shared_weight(detail):
    cell, x, h = ts.nn.RNNCell(3, 4), ts.randn(3, 2, 3, requires_grad=True), None
    for t in range(3):
        with ts.viz.step(t):
            h = cell(x[t], h)
    src = ts.viz.draw(h.sum(), detail=detail).source
    (w,) = labelled(src, "shared by every step:")
    assert "(3, 2, 3)" not in nodes(src)[w]["label"] and "(3, 2, 3)" not in src
    assert all(len(labelled(src, f"x{sub}")) == 1 for sub in "₀₁₂")


@pytest.mark.parametrize("detail", ["cell", "op"])
def test_a_constant_computed_in_a_step_is_drawn_as_a_constant_not_as_x_t(detail):
    # min_char_rnn's step: log_softmax subtracts the max of its input, taken without gradient
    w_xh, w_hh, w_hy = (ts.randn(*s, requires_grad=True) for s in [(4, 5), (4, 4), (5, 4)])
    x, h, loss = ts.randn(3, 5, 1), ts.zeros(4, 1), 0.0
    for t in range(3):
        with ts.viz.step(t):
            h = ts.tanh(w_xh @ x[t] + w_hh @ h)
            loss = loss - ts.log_softmax(w_hy @ h, dim=0)[t, 0]
    src = ts.viz.draw(loss, detail=detail, params={"Wxh": w_xh, "Whh": w_hh, "Why": w_hy}).source
    for sub in "₀₁₂":
        (xt,) = labelled(src, f"x{sub}")
        assert nodes(src)[xt]["label"] == f"x{sub}\\n(5, 1)"
        (dst,) = [d for s, d, a in edges(src) if s == xt and a.get("style") != "invis"]
        assert nodes(src)[dst]["label"].lower().startswith("matmul · wxh")
    consts = labelled(src, "const")
    assert [nodes(src)[k]["label"] for k in consts] == ["const\\n(1, 1)"] * 3
    steps = members(src)
    assert sorted(t for t in steps if set(steps[t]) & set(consts)) == ["t=0", "t=1", "t=2"]  # one inside each step
    assert not [n for n, a in nodes(src).items() if "(1, 1)" in a.get("label", "") and n not in consts]
