"""Gradient flow: ts.viz.gradient_norms, draw(show_grad=True), plot_gradient_flow."""

import math
import sys

import numpy as np
import pytest
from test_viz import HandRNN
from test_viz_dot import clusters, edges, labelled

import tinyseq as ts
from tinyseq import autograd
from tinyseq.viz.draw import grad_colour


def rnn_chain(T=6, scale=0.3, seed=0):
    """A float64 vanilla RNN loop; returns (loss, [h_t], w) with every h_t retaining its grad."""
    rng = np.random.default_rng(seed)
    w = ts.tensor(rng.normal(size=(4, 4)) * scale, requires_grad=True)
    u = ts.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    x = ts.tensor(rng.normal(size=(T, 2, 3)))
    h = ts.zeros(2, 4, dtype=ts.float64)
    hs = []
    for t in range(T):
        with ts.viz.step(t), autograd.scope(cell=("RNNCell", t)):
            h = (x[t] @ u + h @ w).tanh()
        h.retain_grad()
        hs.append(h)
    loss = (ts.stack(hs) ** 2).sum() / 2
    return loss, hs, w


def norm(t):
    return float(np.linalg.norm(t.grad.numpy()))


def test_norms_are_the_hidden_state_gradients():
    loss, hs, w = rnn_chain()
    got = ts.viz.gradient_norms(loss)
    assert list(got) == [(None, None)]
    assert w.grad is None  # measuring leaves .grad alone
    loss.backward()
    np.testing.assert_allclose(got[(None, None)], [norm(h) for h in hs], rtol=1e-12)


def test_lstm_like_state_counts_h_and_c_together():
    rng = np.random.default_rng(1)
    w = ts.tensor(rng.normal(size=(4, 8)) * 0.5, requires_grad=True)
    h = ts.zeros(2, 4, dtype=ts.float64)
    c = ts.zeros(2, 4, dtype=ts.float64)
    states = []
    for t in range(4):
        with ts.viz.step(t), autograd.scope(cell=("LSTMish", t)):
            f, g = (h @ w + float(t)).sigmoid().chunk(2, dim=1)
            c = f * c + g
            h = c.tanh()
        h.retain_grad()
        c.retain_grad()
        states.append((h, c))
    loss = h.sum()
    got = ts.viz.gradient_norms(loss)[(None, None)]
    loss.backward()
    # c_t counts with the gradient from outside its step: what step t+1 sends back
    # through c' = f' * c + g', i.e. f' * dL/dc' (not c_t's in-step share through h_t)
    want = []
    for t, (h_t, _) in enumerate(states):
        if t == len(states) - 1:
            want.append(norm(h_t))  # c_T is not handed on: only h_T leaves the last step
            continue
        f_next = (h_t @ w + float(t + 1)).sigmoid().chunk(2, dim=1)[0].numpy()
        g_c = f_next * states[t + 1][1].grad.numpy()
        want.append(math.hypot(norm(h_t), float(np.linalg.norm(g_c))))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_lanes_for_layers_and_directions():
    model = HandRNN(num_layers=2, bidirectional=True)
    out = model(ts.randn(5, 2, 3))
    got = ts.viz.gradient_norms(out)  # non-scalar root: seeded with ones
    assert sorted(got) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(len(v) == 5 and all(n > 0 for n in v) for v in got.values())
    same = ts.viz.gradient_norms(out, grad=ts.ones(*out.shape))
    assert same == got
    doubled = ts.viz.gradient_norms(out, grad=2 * np.ones(out.shape, dtype=np.float32))
    np.testing.assert_allclose(doubled[(1, 1)], [2 * v for v in got[(1, 1)]], rtol=1e-6)


def test_needs_the_saved_arrays():
    loss, _, w = rnn_chain()
    loss.backward(retain_graph=True)
    before = w.grad.numpy().copy()
    assert len(ts.viz.gradient_norms(loss)[(None, None)]) == 6
    np.testing.assert_array_equal(w.grad.numpy(), before)
    loss.backward()
    with pytest.raises(RuntimeError, match=r"viz.gradient_norms: the graph was freed by backward\(\)"):
        ts.viz.gradient_norms(loss)
    with pytest.raises(RuntimeError, match=r"viz.draw: the graph was freed by backward\(\).*retain_graph=True"):
        ts.viz.draw(loss, show_grad=True)
    assert "freed" not in ts.viz.draw(loss).source  # drawing alone needs no saved arrays


def test_bad_seed_gradients():
    loss, _, _ = rnn_chain()
    with pytest.raises(ValueError, match=r"viz.gradient_norms: gradient of shape \(2,\) for a root of shape \(\)"):
        ts.viz.gradient_norms(loss, grad=np.ones(2))
    with pytest.raises(ValueError, match=r"viz.gradient_norms: 1 roots but 2 gradients"):
        ts.viz.gradient_norms(loss, grad=[1.0, 1.0])
    with pytest.raises(TypeError, match=r"viz.gradient_norms: expected a tensor or a list of tensors, got str"):
        ts.viz.gradient_norms("loss")


def test_show_grad_colours_steps_and_labels_state_edges():
    loss, hs, _ = rnn_chain(T=5, scale=0.2)
    norms = ts.viz.gradient_norms(loss)[(None, None)]
    src = ts.viz.draw(loss, show_grad=True).source
    cl = clusters(src)
    assert [label for label, _ in cl] == [f"t={t}  ‖g‖={n:.2e}" for t, n in enumerate(norms)]
    fills = [a["fillcolor"] for _, a in cl]
    assert fills == [grad_colour(n, max(norms)) for n in norms]
    assert fills[int(np.argmax(norms))] == "#b2182b"  # the strongest colour of the fixed palette
    # the norms are on the steps; the state arrows keep their plain "h" labels
    assert not [a for _, _, a in edges(src) if "‖g‖" in a.get("xlabel", "") + a.get("label", "")]
    state = [a for _, _, a in edges(src) if a.get("xlabel") == "h" and a.get("penwidth") == "1.6"]
    assert len(state) == 4 + 1  # and h₀
    assert labelled(src, "legend") == [] and "−8 decades" in src
    plain = ts.viz.draw(loss).source
    assert "‖g‖" not in plain and "decades" not in plain
    # backward view, colouring the same way
    bwd = ts.viz.draw(loss, show_grad=True, direction="backward").source
    assert [a["fillcolor"] for _, a in clusters(bwd)] == fills


def test_show_grad_with_elision_and_zero_gradients():
    loss, _, _ = rnn_chain(T=20)
    src = ts.viz.draw(loss, show_grad=True).source
    assert len(clusters(src)) == 6 + 1 and "… 14 steps …" in src  # 6 steps and the elided ones
    # a step whose state does not reach the loss gets norm 0 and a white fill
    w = ts.randn(2, 2, requires_grad=True)
    with ts.viz.step(0):
        a = w * 2
    with ts.viz.step(1):
        b = (a * 0).sum()
    cl = clusters(ts.viz.draw(b, show_grad=True).source)
    assert cl[0][0] == "t=0  ‖g‖=0.00e+00" and cl[0][1]["fillcolor"] == "#ffffff"
    assert "w1  (2, 2)" in ts.viz.draw(b, show_grad=True).source.replace("\\n", "\n")


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_gradient_flow(plt):
    loss, _, _ = rnn_chain(T=8)
    fig = ts.viz.plot_gradient_flow(loss)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ts.viz.gradient_norms(loss)[(None, None)])
    model = HandRNN(num_layers=2)
    deep = model(ts.randn(8, 2, 3)).sum()
    fig = ts.viz.plot_gradient_flow({"rnn": loss, "deep": ts.viz.gradient_norms(deep)}, title="cmp")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["rnn", "deep · layer 0 →", "deep · layer 1 →"]
    assert ax.get_title() == "cmp"
    _, own = plt.subplots()
    assert ts.viz.plot_gradient_flow(deep, ax=own) is own.figure and len(own.lines) == 2


def test_plot_gradient_flow_errors(plt, monkeypatch):
    with pytest.raises(TypeError, match=r"viz.plot_gradient_flow: expected a tensor or a gradient_norms\(\) dict"):
        ts.viz.plot_gradient_flow(3.0)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"viz.plot_gradient_flow needs matplotlib: pip install matplotlib"):
        ts.viz.plot_gradient_flow({(None, None): [1.0]})
