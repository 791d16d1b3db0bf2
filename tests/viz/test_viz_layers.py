"""ts.viz on the library's recurrent layers (fused and composed paths)."""

import numpy as np
import pytest
from test_viz_dot import clusters, edges, labelled, members, nodes, step_names, weights

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
    labels = step_names(src)
    assert len(labels) == 2 * 2 * 4 and set(labels) == expected_labels(2, 2, 4)
    assert len(labelled(src, "LSTMCell")) == 16
    assert set(weights(src)) == {name for name, _ in model.named_parameters()}


@needs_layers
@pytest.mark.parametrize("fused", [True, False])
def test_every_step_names_its_recurrent_weight(fused):
    model, loss = lstm(fused=fused)
    src = ts.viz.draw(loss).source
    inside = members(src)
    for k, d in [(0, 0), (1, 1)]:
        arrow = "→←"[d]
        for t in range(4):
            (cell,) = [n for n in inside[f"layer {k} {arrow} · t={t}"] if n in labelled(src, "LSTMCell")]
            assert "W_hh" in nodes(src)[cell]["label"].split("\\n")[1]


@needs_layers
@pytest.mark.parametrize(
    "kind, kw, names",
    [("LSTM", {}, ["W_hh"]), ("LSTM", {"proj_size": 2}, ["W_hh", "W_hr"]),
     ("GRU", {}, ["W_hh"]), ("RNN", {}, ["W_hh"])],
)  # fmt: skip
def test_fused_steps_name_their_weights(kind, kw, names):
    # the fused steps take their recurrent weights as inputs; each names them, none has a weight edge
    model = getattr(ts.nn, kind)(3, 4, **kw)
    out, _ = model(ts.randn(5, 2, 3))
    src = ts.viz.draw(out.sum(), detail="cell").source
    inside = members(src)
    for t in range(5):
        (cell,) = [n for n in inside[f"layer 0 → · t={t}"] if nodes(src)[n].get("shape") == "box"]
        for name in names:
            assert name in nodes(src)[cell]["label"], (name, t)
    assert set(weights(src)) == {name for name, _ in model.named_parameters()}
    assert not [d for s, d, a in edges(src) if a.get("color") == "#5b84d1"]


@needs_layers
def test_cell_view_is_smaller_than_op_view():
    _, fused = lstm(T=3)
    _, composed = lstm(T=3, fused=False)
    cell = len(nodes(ts.viz.draw(fused, detail="cell").source))
    composed_cell = len(nodes(ts.viz.draw(composed, detail="cell").source))
    op_src = ts.viz.draw(composed, detail="op").source
    assert cell < len(nodes(op_src)) and composed_cell < len(nodes(op_src))
    gates = [a["label"] for a in nodes(op_src).values()]
    assert gates.count("f = σ(·)  forget") == 3 * 4 and gates.count("tanh(c)") == 3 * 4
    assert len(clusters(op_src)) == 12


@needs_layers
@pytest.mark.parametrize("kind, cell", [("RNN", "RNNCell"), ("GRU", "GRUCell")])
def test_rnn_and_gru(kind, cell):
    model = getattr(ts.nn, kind)(3, 5, num_layers=1)
    out, h = model(ts.randn(5, 2, 3))
    src = ts.viz.draw([out, h]).source
    assert set(step_names(src)) == expected_labels(1, 1, 5)
    assert len(labelled(src, cell)) == 5
    assert len(labelled(src, "y₀")) == 1 and labelled(src, "output 1")


@needs_layers
def test_long_sequence_is_elided():
    model = ts.nn.RNN(3, 4)
    out, _ = model(ts.randn(1000, 1, 3))
    src = ts.viz.draw(out.sum()).source
    assert len(step_names(src)) == 6
    assert len(nodes(src)) < 60 and "… 994 steps …" in src
    assert len(step_names(ts.viz.draw(out.sum(), max_steps=10).source)) == 10


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
    assert set(weights(src)) == {name for name, _ in model.named_parameters()}


@needs_conv
def test_conv_lstm(monkeypatch):
    # hoist the frame convolution of every layer, so each step's weight use is only
    # the state-to-state part (with few channels the layer convolves cat([x, h]) per step)
    monkeypatch.setattr("tinyseq.nn.recurrent.conv.HOIST_MIN_COLUMNS", 0)
    model = ts.nn.ConvLSTM(2, 3, 3, num_layers=2)
    out, _ = model(ts.randn(4, 1, 2, 5, 5))
    src = ts.viz.draw(out).source
    assert set(step_names(src)) == expected_labels(2, 1, 4)
    assert len(labelled(src, "ConvLSTMCell")) == 8
    inside = members(src)
    assert set(weights(src)) == {name for name, _ in model.named_parameters()}
    # W[:, C:] is cut once before the loop; drawn as the weight, every step that has a
    # state to convolve names it (t=0 starts from zeros and skips it)
    for t in range(4):
        (cell,) = [n for n in inside[f"layer 1 → · t={t}"] if n in labelled(src, "ConvLSTMCell")]
        assert ("W" in nodes(src)[cell]["label"].split("\\n")[-1].split()) == (t > 0)


