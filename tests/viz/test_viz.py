"""ts.viz.draw on hand-written recurrent loops: clusters, sharing, detail levels, elision."""

import itertools
import sys

import pytest
from test_viz_dot import clusters, edges, labelled, nodes, weights

import tinyseq as ts
from tinyseq import autograd
from tinyseq.nn import Module, Parameter

_ids = itertools.count()


class HandRNN(Module):
    """A vanilla RNN written as a plain loop, tagged the way the recurrent layers tag theirs.

    x: (T, B, input_size) -> output (T, B, directions * hidden)."""

    def __init__(self, input_size=3, hidden=4, num_layers=1, bidirectional=False, cell_tags=True):
        super().__init__()
        self.hidden, self.num_layers, self.cell_tags = hidden, num_layers, cell_tags
        self.dirs = 2 if bidirectional else 1
        for k in range(num_layers):
            cin = input_size if k == 0 else hidden * self.dirs
            for d in range(self.dirs):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(ts.randn(hidden, cin) * 0.5))
                setattr(self, "weight_hh" + sfx, Parameter(ts.randn(hidden, hidden) * 0.5))
                setattr(self, "bias" + sfx, Parameter(ts.zeros(hidden)))

    def forward(self, x):
        T, B = x.shape[:2]
        for k in range(self.num_layers):
            outs = []
            for d in range(self.dirs):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w_ih, w_hh, b = (getattr(self, n + sfx) for n in ("weight_ih", "weight_hh", "bias"))
                h = ts.zeros(B, self.hidden)
                hs = [None] * T
                with autograd.scope(layer=k, direction=d):
                    for t in range(T) if d == 0 else range(T - 1, -1, -1):
                        with ts.viz.step(t), self._cell():
                            h = (x[t] @ w_ih.T + h @ w_hh.T + b).tanh()
                        hs[t] = h
                outs.append(ts.stack(hs))
            x = outs[0] if self.dirs == 1 else ts.cat(outs, dim=2)
        return x

    def _cell(self):
        return autograd.scope(cell=("RNNCell", next(_ids))) if self.cell_tags else autograd.scope()


def rnn_loss(T=4, **kw):
    model = HandRNN(**kw)
    out = model(ts.randn(T, 2, 3))
    return model, (out * out).mean()


def test_step_is_a_time_scope():
    x = ts.randn(2, 3, requires_grad=True)
    with ts.viz.step(7):
        y = x * 2
    with autograd.scope(layer=1), ts.viz.step(0):
        z = y + 1
    assert y.grad_fn.scope == (("t", 7),)
    assert z.grad_fn.scope == (("layer", 1), ("t", 0))


def test_one_cluster_per_step_labelled():
    _, loss = rnn_loss(T=5)
    src = ts.viz.draw(loss).source
    labels = [label for label, _ in clusters(src)]
    assert labels == ["layer 0 →   t=0"] + [f"t={t}" for t in range(1, 5)]  # the row named at its start


def test_clusters_for_layers_and_directions():
    _, loss = rnn_loss(T=3, num_layers=2, bidirectional=True)
    src = ts.viz.draw(loss).source
    labels = [label for label, _ in clusters(src)]
    assert len(labels) == 2 * 2 * 3
    assert "layer 1 ←   t=0" in labels and "layer 0 →   t=0" in labels
    fills = [a["fillcolor"] for _, a in clusters(src)]
    # rows in turn: layer 0 →, layer 0 ←, layer 1 →, layer 1 ←; the reverse rows in their own colour
    assert fills[0] == fills[6] != fills[3] == fills[9]


def test_untagged_loop_has_no_clusters():
    x = ts.randn(3, 2, requires_grad=True)
    h = x
    for _ in range(3):
        h = (h * 2).tanh()
    src = ts.viz.draw(h).source
    assert clusters(src) == []
    assert len(labelled(src, "Tanh")) == 3


def test_shared_parameters_drawn_once_and_named_in_every_step():
    model, loss = rnn_loss(T=6)
    src = ts.viz.draw(loss).source
    cells = labelled(src, "RNNCell")
    assert len(cells) == 6
    assert weights(src) == {name: str(tuple(p.shape)).replace(",)", ",)") for name, p in model.named_parameters()}
    assert all(nodes(src)[c]["label"] == "RNNCell\\nW_ih W_hh b" for c in cells)
    assert weights(src)["bias_l0"] == "(4,)"


def test_nested_module_parameters_use_qualified_names():
    class Wrapper(Module):
        def __init__(self):
            super().__init__()
            self.rnn = HandRNN()

        def forward(self, x):
            return self.rnn(x)

    model = Wrapper()
    src = ts.viz.draw(model(ts.randn(3, 2, 3))).source
    assert "rnn.weight_hh_l0" in weights(src)


def test_params_argument_names_loose_tensors():
    w = ts.randn(4, 4, requires_grad=True)
    h = ts.randn(2, 4)
    for t in range(3):
        with ts.viz.step(t):
            h = (h @ w).tanh()
    src = ts.viz.draw(h, params={"W": w}).source
    assert weights(src) == {"W": "(4, 4)"} and len(labelled(src, "MatMul · W")) == 3
    unnamed = ts.viz.draw(h).source
    assert weights(unnamed) == {"w1": "(4, 4)"}
    src = ts.viz.draw(h, params=[("W", w)]).source
    assert weights(src) == {"W": "(4, 4)"}


def test_cell_view_has_fewer_nodes_than_op_view():
    _, loss = rnn_loss(T=4)
    cell = nodes(ts.viz.draw(loss, detail="cell").source)
    op = nodes(ts.viz.draw(loss, detail="op").source)
    assert len(cell) < len(op)
    op_labels = {a["label"] for a in op.values()}
    assert {"matmul · W_ih", "matmul · W_hh", "+ · b", "tanh"} <= op_labels and "RNNCell" not in op_labels
    assert sum(a["label"] == "tanh" for a in op.values()) == 4


def test_cell_box_has_the_step_inputs_and_state_edges():
    _, loss = rnn_loss(T=3)
    src = ts.viz.draw(loss).source
    n = nodes(src)
    cells = labelled(src, "RNNCell")
    into = {c: [s for s, d, _ in edges(src) if d == c] for c in cells}
    sources = sorted(n[s]["label"] for c in cells for s in into[c] if s not in cells)
    assert sources == ["h₀", "x₀\\n(2, 3)", "x₁\\n(2, 3)", "x₂\\n(2, 3)"]
    chain = [(s, d, a) for s, d, a in edges(src) if s in into and d in into and a.get("style") != "invis"]
    assert len(chain) == 2 and all(a["xlabel"] == "h" and a["penwidth"] == "1.6" for _, _, a in chain)


def test_untagged_ops_inside_a_step_stay_primitives_in_cell_view():
    _, loss = rnn_loss(T=3, cell_tags=False)
    src = ts.viz.draw(loss, detail="cell").source
    assert len(clusters(src)) == 3
    assert len(labelled(src, "Tanh")) == 3 and not labelled(src, "RNNCell")


def test_module_view_collapses_each_module_below_the_root():
    class Head(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(ts.randn(4, 1))

        def forward(self, h):
            return h @ self.weight

    class Model(Module):
        def __init__(self):
            super().__init__()
            self.encoder = HandRNN()
            self.head = Head()

        def forward(self, x):
            return self.head(self.encoder(x))

    model = Model()
    loss = model(ts.randn(3, 2, 3)).sum()
    src = ts.viz.draw(loss, detail="module").source
    n = nodes(src)
    boxes = sorted(a["label"] for a in n.values() if "rounded,filled,bold" in a.get("style", "") and "group" not in a)
    assert boxes == ["encoder", "head"]
    assert clusters(src) == []
    assert len(labelled(src, "encoder.weight_hh_l0")) == 1
    # a lone top-level module is its own box
    _, loss = rnn_loss(T=3)
    assert labelled(ts.viz.draw(loss, detail="module").source, "HandRNN")


def test_module_called_in_a_user_loop_gets_a_box_per_step():
    class Step(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(ts.randn(4, 4))

        def forward(self, h):
            return (h @ self.weight).tanh()

    cell, other = Step(), Step()
    h = ts.randn(2, 4)
    for t in range(3):
        with ts.viz.step(t):
            h = cell(h)
    h = other(h)
    src = ts.viz.draw(h, detail="module").source
    assert len(clusters(src)) == 3
    assert len(labelled(src, "Step")) == 4  # one box per call, three of them in steps


def test_elision_bounds_the_drawing_of_a_long_sequence():
    _, loss = rnn_loss(T=1000)
    src = ts.viz.draw(loss).source
    labels = [label for label, _ in clusters(src)]
    assert labels == ["layer 0 →   t=0", "t=1", "t=2", "", "t=997", "t=998", "t=999"]
    (e,) = [n for n, a in nodes(src).items() if "994 steps" in a["label"]]
    assert nodes(src)[e]["label"] == "… 994 steps …"
    assert len(nodes(src)) < 40
    drawn = [(s, d) for s, d, a in edges(src) if a.get("style") != "invis"]
    assert len(drawn) == len(set(drawn))
    # the state runs into the elided steps and out of them
    assert len([s for s, d, _ in edges(src) if d == e]) >= 1 and len([d for s, d, _ in edges(src) if s == e]) >= 1
    src4 = ts.viz.draw(loss, max_steps=5).source
    assert [label for label, _ in clusters(src4)] == ["layer 0 →   t=0", "t=1", "t=2", "", "t=998", "t=999"]
    assert "… 995 steps …" in src4


def test_default_draws_short_sequences_in_full():
    _, loss = rnn_loss(T=8)
    assert len(clusters(ts.viz.draw(loss).source)) == 8
    _, loss = rnn_loss(T=9)
    assert len(clusters(ts.viz.draw(loss).source)) == 6 + 1  # and one for the elided steps
    assert len(clusters(ts.viz.draw(loss, max_steps=9).source)) == 9


def test_ten_thousand_steps_draw_without_recursion():
    w = ts.randn(3, 3, requires_grad=True)
    h = ts.randn(1, 3)
    T = 10_000
    for t in range(T):
        with ts.viz.step(t):
            h = (h @ w).tanh()
    limit = sys.getrecursionlimit()
    assert T > limit  # a recursive walk could not get through this graph
    full = ts.viz.draw(h, detail="op", max_steps=T).source
    assert len(clusters(full)) == T
    assert weights(full) == {"w1": "(3, 3)"}
    assert len(clusters(ts.viz.draw(h).source)) == 6 + 1


def test_multiple_roots_and_root_labels():
    _, loss = rnn_loss(T=2)
    x = ts.randn(2, requires_grad=True)
    src = ts.viz.draw([loss, x * 3]).source
    assert labelled(src, "output 0") and labelled(src, "output 1")
    one = ts.viz.draw(loss).source
    (out,) = labelled(one, "output")
    assert nodes(one)[out]["label"] == "output\\n()"


def test_show_shapes_off():
    _, loss = rnn_loss(T=2)
    src = ts.viz.draw(loss, show_shapes=False).source
    assert "(2, 4)" not in src and "(4, 4)" not in src
    assert "weight_hh_l0" in weights(src)


def test_backward_direction_reverses_the_edges():
    model, loss = rnn_loss(T=3)
    fwd = ts.viz.draw(loss).source
    bwd = ts.viz.draw(loss, direction="backward").source
    assert len(clusters(bwd)) == 3
    labels = {a["label"] for a in nodes(bwd).values()}
    assert "RNNCell\\nbackward\\nW_ih W_hh b" in labels
    assert "MeanBackward" in labels
    (seed,) = labelled(bwd, "grad")
    assert [s for s, d, _ in edges(bwd) if d == seed] == []
    # no gradient flows into constants (x_t, h₀): the backward view leaves them out
    fwd_pairs = {(s, d) for s, d, a in edges(fwd) if "dir" not in a and "style" not in a and s[0] not in "ks"}
    assert {(d, s) for s, d, a in edges(bwd) if "dir" not in a and "style" not in a} == fwd_pairs


def test_dot_quoting_of_odd_names(tmp_path):
    w = ts.randn(2, 2, requires_grad=True)
    with ts.viz.step('a "quoted" \\ step'):
        y = (w * 2).sum()
    g = ts.viz.draw(y, params={'my "weight"\\': w})
    assert 'my \\"weight\\"\\\\  (2, 2)' in g.source
    g.render(tmp_path / "odd", format="svg")
    assert "quoted" in (tmp_path / "odd.svg").read_text(encoding="utf-8")


def test_draw_returns_a_renderable_digraph(tmp_path):
    from tinyseq.viz.render import Digraph

    _, loss = rnn_loss(T=3, num_layers=2, bidirectional=True)
    g = ts.viz.draw(loss, rankdir="TB")
    assert isinstance(g, Digraph) and g.format == "svg"
    assert "rankdir=TB" in g.source and "rankdir=BT" in ts.viz.draw(loss).source
    svg = g.render(tmp_path / "rnn")
    text = open(svg, encoding="utf-8").read()
    assert svg.endswith(".svg") and "layer 1 ←" in text and "RNNCell" in text
    png = g.render(tmp_path / "rnn", format="png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "layer 0 →" in g._repr_mimebundle_()["image/svg+xml"]  # Jupyter shows it inline


def test_a_leaf_root_and_a_graph_free_tensor():
    x = ts.randn(2, 2, requires_grad=True)
    src = ts.viz.draw(x, params={"x": x}).source
    assert labelled(src, "x")
    src = ts.viz.draw(ts.randn(2)).source
    assert nodes(src) == {}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"detail": "gate"}, r"viz.draw: detail must be one of 'cell', 'op', 'literal', 'module', got 'gate'"),
        ({"direction": "up"}, r"viz.draw: direction must be 'forward' or 'backward', got 'up'"),
        ({"rankdir": "XY"}, r"viz.draw: rankdir must be one of BT, TB, LR, RL, got 'XY'"),
        ({"max_steps": 1}, r"viz.draw: max_steps must be an int >= 2 or None, got 1"),
        ({"max_steps": 2.5}, r"viz.draw: max_steps must be an int >= 2 or None, got 2.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    _, loss = rnn_loss(T=2)
    with pytest.raises(ValueError, match=message):
        ts.viz.draw(loss, **kwargs)


def test_bad_roots_and_params():
    with pytest.raises(TypeError, match=r"viz.draw: expected a tensor or a list of tensors, got ndarray"):
        ts.viz.draw(ts.randn(2).numpy())
    with pytest.raises(TypeError, match=r"viz.draw: expected a tensor or a list of tensors, got list"):
        ts.viz.draw([])
    with pytest.raises(TypeError, match=r"viz.draw: params\['w'\] must be a tensor, got float"):
        ts.viz.draw(ts.randn(2, requires_grad=True) * 2, params={"w": 1.0})


def test_import_stays_cheap():
    import subprocess

    code = "import sys, tinyseq; print('graphviz' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_views_of_a_parameter_are_drawn_as_the_parameter():
    w = ts.randn(4, 4, requires_grad=True)
    u = ts.randn(4, 4, requires_grad=True)
    w_t = w.T.reshape(2, 8).reshape(4, 4)  # views made once, before the loop
    u2 = u * 2  # not a view: stays an op
    h = ts.randn(2, 4)
    for t in range(3):
        with ts.viz.step(t), autograd.scope(cell=("Cell", next(_ids))):
            h = (h @ w_t + h @ u2).tanh()
    src = ts.viz.draw(h, params={"w": w, "u": u}).source
    cells = set(labelled(src, "Cell"))
    assert weights(src) == {"w": "(4, 4)"}
    assert all(nodes(src)[c]["label"] == "Cell\\nw" for c in cells)
    assert not labelled(src, "Permute") and not labelled(src, "Reshape")
    (mul,) = labelled(src, "Mul")
    assert {d for s, d, _ in edges(src) if s == mul} == cells
    (pu,) = labelled(src, "u")  # u feeds an op outside the steps: drawn with its edge
    assert [d for s, d, _ in edges(src) if s == pu] == [mul]
    literal = ts.viz.draw(h, params={"w": w}, detail="literal").source
    assert labelled(literal, "Permute") and labelled(literal, "Reshape")
    assert ts.viz.draw(w_t, params={"w": w}).source.count("->") == 0  # a view as the root: the weight


