"""ts.viz on the library's recurrent layers (fused and composed paths)."""

import numpy as np
import pytest
from test_viz_dot import clusters, edges, labelled, members, nodes

import tinyseq as ts

needs_layers = pytest.mark.skipif(not hasattr(ts.nn, "LSTM"), reason="recurrent layers not available")
needs_conv = pytest.mark.skipif(not hasattr(ts.nn, "ConvLSTM"), reason="ConvLSTM not available")


def lstm(T=4, layers=2, bidirectional=True, fused=True, dtype=ts.float32, state=None):
    model = ts.nn.LSTM(3, 4, num_layers=layers, bidirectional=bidirectional, fused=fused, dtype=dtype)
    if state is not None:
        model.load_state_dict(state)
    out, _ = model(ts.randn(T, 2, 3, dtype=dtype))
    return model, (out * out).mean()


def expected_labels(layers, dirs, T):
    arrow = "→←"
    return {f"layer {k} {arrow[d]} · t={t}" for k in range(layers) for d in range(dirs) for t in range(T)}


@needs_layers
@pytest.mark.parametrize("fused", [True, False])
def test_lstm_clusters_and_parameters(fused):
    model, loss = lstm(fused=fused)
    src = ts.viz.draw(loss).source
    labels = [label for label, _ in clusters(src)]
    assert len(labels) == 2 * 2 * 4 and set(labels) == expected_labels(2, 2, 4)
    assert len(labelled(src, "LSTMCell")) == 16
    for name, _ in model.named_parameters():
        assert len(labelled(src, name)) == 1, name


@needs_layers
def test_composed_lstm_weight_feeds_every_step():
    model, loss = lstm(fused=False)
    src = ts.viz.draw(loss).source
    inside = members(src)
    for k, d, sfx in [(0, 0, "_l0"), (1, 1, "_l1_reverse")]:
        (w,) = labelled(src, "weight_hh" + sfx)
        arrow = "→←"[d]
        steps = {n for t in range(4) for n in inside[f"layer {k} {arrow} · t={t}"] if n in labelled(src, "LSTMCell")}
        assert {dst for s, dst, _ in edges(src) if s == w} == steps


@needs_layers
@pytest.mark.parametrize(
    "kind, kw, names",
    [("LSTM", {}, ["weight_hh_l0"]), ("LSTM", {"proj_size": 2}, ["weight_hh_l0", "weight_hr_l0"]),
     ("GRU", {}, ["weight_hh_l0", "bias_hh_l0"]), ("RNN", {}, ["weight_hh_l0"])],
)  # fmt: skip
def test_fused_weights_feed_every_step(kind, kw, names):
    # the fused steps take their recurrent weights as inputs, so the drawing shows the sharing
    model = getattr(ts.nn, kind)(3, 4, **kw)
    out, _ = model(ts.randn(5, 2, 3))
    src = ts.viz.draw(out.sum(), detail="cell").source
    inside = members(src)
    for name in names:
        (w,) = labelled(src, name)
        targets = {dst for s, dst, _ in edges(src) if s == w}
        for t in range(5):
            assert targets & set(inside[f"layer 0 → · t={t}"]), (name, t)
    (w_ih,) = labelled(src, "weight_ih_l0")
    assert not {dst for s, dst, _ in edges(src) if s == w_ih} & {n for ns in inside.values() for n in ns}


@needs_layers
def test_cell_view_is_smaller_than_op_view():
    _, fused = lstm(T=3)
    _, composed = lstm(T=3, fused=False)
    cell = len(nodes(ts.viz.draw(fused, detail="cell").source))
    composed_cell = len(nodes(ts.viz.draw(composed, detail="cell").source))
    op_src = ts.viz.draw(composed, detail="op").source
    assert cell < len(nodes(op_src)) and composed_cell < len(nodes(op_src))
    gates = [a["label"] for a in nodes(op_src).values()]
    assert gates.count("Sigmoid") == 3 * 3 * 4 and gates.count("Tanh") == 2 * 3 * 4
    assert len(clusters(op_src)) == 12


@needs_layers
@pytest.mark.parametrize("kind, cell", [("RNN", "RNNCell"), ("GRU", "GRUCell")])
def test_rnn_and_gru(kind, cell):
    model = getattr(ts.nn, kind)(3, 5, num_layers=1)
    out, h = model(ts.randn(5, 2, 3))
    src = ts.viz.draw([out, h]).source
    assert {label for label, _ in clusters(src)} == expected_labels(1, 1, 5)
    assert len(labelled(src, cell)) == 5
    assert labelled(src, "output 0") and labelled(src, "output 1")


@needs_layers
def test_long_sequence_is_elided():
    model = ts.nn.RNN(3, 4)
    out, _ = model(ts.randn(1000, 1, 3))
    src = ts.viz.draw(out.sum()).source
    assert len(clusters(src)) == 6
    assert len(nodes(src)) < 40 and "… 994 steps …" in src
    assert len(clusters(ts.viz.draw(out.sum(), max_steps=10).source)) == 10


@needs_layers
def test_gradient_norms_agree_between_fused_and_composed():
    model, loss = lstm(T=5, dtype=ts.float64)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    ts.manual_seed(0)
    _, fused = lstm(T=5, dtype=ts.float64, state=state)
    ts.manual_seed(0)
    _, composed = lstm(T=5, dtype=ts.float64, fused=False, state=state)
    a, b = ts.viz.gradient_norms(fused), ts.viz.gradient_norms(composed)
    assert sorted(a) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for lane in a:
        np.testing.assert_allclose(a[lane], b[lane], rtol=1e-10)
    src = ts.viz.draw(fused, show_grad=True).source
    fills = {attrs["fillcolor"] for _, attrs in clusters(src)}
    assert len(fills) > 4 and all("‖g‖=" in label for label, _ in clusters(src))


@needs_layers
def test_backward_view_of_a_fused_lstm():
    model, loss = lstm(T=3, layers=1, bidirectional=False)
    src = ts.viz.draw(loss, direction="backward").source
    assert len(labelled(src, "LSTMCell")) == 3 and len(clusters(src)) == 3
    for name, _ in model.named_parameters():
        (p,) = labelled(src, name)
        assert [s for s, d, _ in edges(src) if s == p] == []


@needs_conv
def test_conv_lstm(monkeypatch):
    # hoist the frame convolution of every layer, so each step's weight use is only
    # the state-to-state part (with few channels the layer convolves cat([x, h]) per step)
    monkeypatch.setattr("tinyseq.nn.conv_recurrent.HOIST_MIN_COLUMNS", 0)
    model = ts.nn.ConvLSTM(2, 3, 3, num_layers=2)
    out, _ = model(ts.randn(4, 1, 2, 5, 5))
    src = ts.viz.draw(out).source
    assert {label for label, _ in clusters(src)} == expected_labels(2, 1, 4)
    assert len(labelled(src, "ConvLSTMCell")) == 8
    inside = members(src)
    for name, _ in model.named_parameters():
        assert len(labelled(src, name)) == 1, name
    (w,) = labelled(src, "weight_l1")
    targets = {d for s, d, _ in edges(src) if s == w}
    # W[:, C:] is cut once before the loop; drawn as the weight, it feeds every step
    # that has a state to convolve (t=0 starts from zeros and skips it)
    assert all(targets & set(inside[f"layer 1 → · t={t}"]) for t in range(1, 4))
    assert not targets & set(inside["layer 1 → · t=0"])
