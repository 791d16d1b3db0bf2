"""Fused recurrent ops: the kernel contract devices implement, gradchecks of the
per-step layer graph, and the corners of its shared buffers."""

import numpy as np
import pytest
from graph_walk import graph_nodes

import tinyseq as ts
from tinyseq.nn.recurrent import sequence, steps
from tinyseq.ops.fused import kernels as fused

RNG = np.random.default_rng(0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- the kernel contract -------------------------------------------------------------------------
def test_lstm_kernel_forward_backward():
    B, H = 3, 4
    gates, c_prev = RNG.standard_normal((B, 4 * H)), RNG.standard_normal((B, H))
    dh, dc = RNG.standard_normal((B, H)), RNG.standard_normal((B, H))
    keep = [a.copy() for a in (c_prev, dh, dc)]
    pre = gates.copy()
    h_out, c_out = np.empty((B, H)), np.empty((B, H))
    h, c, saved = fused.lstm_cell_forward(np, gates, c_prev, h_out=h_out, c_out=c_out)
    assert h is h_out and c is c_out
    i, f, o = sigmoid(pre[:, :H]), sigmoid(pre[:, H : 2 * H]), sigmoid(pre[:, 3 * H :])
    g = np.tanh(pre[:, 2 * H : 3 * H])
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-14)
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-14)
    out = np.empty((B, 4 * H))
    dgates, dc_prev = fused.lstm_cell_backward(np, saved, dh, dc, out=out)
    assert dgates is out

    # against central differences of sum(h * dh + c * dc) in the pre-activations
    def objective(p):
        hh, cc, _ = fused.lstm_cell_forward(np, p.copy(), c_prev)
        return (hh * dh).sum() + (cc * dc).sum()

    numeric = np.zeros_like(pre)
    for k in np.ndindex(pre.shape):
        e = np.zeros_like(pre)
        e[k] = 1e-6
        numeric[k] = (objective(pre + e) - objective(pre - e)) / 2e-6
    np.testing.assert_allclose(dgates, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dc_prev, (dc + dh * o * (1 - np.tanh(c) ** 2)) * f, rtol=1e-13)
    for a, b in zip(keep, (c_prev, dh, dc)):
        np.testing.assert_array_equal(a, b)  # inputs other than gates stay untouched


def test_gru_kernel_forward_backward():
    B, H = 2, 3
    gx, gh, h_prev, dh = (RNG.standard_normal(s) for s in [(B, 3 * H), (B, 3 * H), (B, H), (B, H)])
    keep = [a.copy() for a in (gh, h_prev, dh)]
    x_pre = gx.copy()
    h, saved = fused.gru_cell_forward(np, gx, gh, h_prev)
    r = sigmoid(x_pre[:, :H] + gh[:, :H])
    z = sigmoid(x_pre[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(x_pre[:, 2 * H :] + r * gh[:, 2 * H :])
    np.testing.assert_allclose(h, (1 - z) * n + z * h_prev, rtol=1e-13)
    dgx, dgh, dh_direct = fused.gru_cell_backward(np, saved, dh)
    np.testing.assert_allclose(dh_direct, dh * z, rtol=1e-14)

    def objective(a, b):
        out, _ = fused.gru_cell_forward(np, a.copy(), b, h_prev)
        return (out * dh).sum()

    for which, grad in ((0, dgx), (1, dgh)):
        numeric = np.zeros_like(grad)
        for k in np.ndindex(grad.shape):
            e = np.zeros_like(grad)
            e[k] = 1e-6
            args_p = [x_pre, gh]
            args_m = [x_pre, gh]
            args_p[which] = args_p[which] + e
            args_m[which] = args_m[which] - e
            numeric[k] = (objective(*args_p) - objective(*args_m)) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    for a, b in zip(keep, (gh, h_prev, dh)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_kernel(nonlinearity):
    pre, dh = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    keep = pre.copy()
    h, saved = fused.rnn_cell_forward(np, pre, nonlinearity)
    expected = np.tanh(keep) if nonlinearity == "tanh" else np.maximum(keep, 0)
    np.testing.assert_array_equal(pre, keep)
    np.testing.assert_allclose(h, expected, rtol=1e-15)
    d = fused.rnn_cell_backward(np, saved, dh, nonlinearity)
    deriv = 1 - expected**2 if nonlinearity == "tanh" else (keep > 0)
    np.testing.assert_allclose(d, dh * deriv, rtol=1e-15)


def test_float32_kernels_stay_float32():
    gates = RNG.standard_normal((2, 8)).astype(np.float32)
    c = RNG.standard_normal((2, 2)).astype(np.float32)
    h, c2, saved = fused.lstm_cell_forward(np, gates, c)
    d, dc = fused.lstm_cell_backward(np, saved, h, c2)
    assert {a.dtype for a in (h, c2, d, dc)} == {np.dtype(np.float32)}


def test_device_kernels_replace_the_array_code():
    """A device registers (forward, backward) pairs in backend.kernels; every fused op uses them."""
    be = ts.get_backend("cpu")
    calls = {}

    def counting(name, pair):
        fwd, bwd = pair

        def f(*a, **k):
            calls[name, "forward"] = calls.get((name, "forward"), 0) + 1
            return fwd(*a, **k)

        def b(*a, **k):
            calls[name, "backward"] = calls.get((name, "backward"), 0) + 1
            return bwd(*a, **k)

        return f, b

    saved = dict(be.kernels)
    try:
        for name, pair in fused._CPU_KERNELS.items():
            be.kernels[name] = counting(name, pair)
        x = ts.randn(4, 2, 3)
        for layer in (ts.nn.LSTM(3, 5), ts.nn.GRU(3, 5), ts.nn.RNN(3, 5)):
            out, _ = layer(x)
            out.sum().backward()
        for cell in (ts.nn.LSTMCell(3, 5), ts.nn.GRUCell(3, 5), ts.nn.RNNCell(3, 5)):
            out = cell(x[0])
            (out[0] if isinstance(out, tuple) else out).sum().backward()
    finally:
        be.kernels.clear()
        be.kernels.update(saved)
    for name in ("lstm_cell", "gru_cell", "rnn_cell"):
        assert calls[name, "forward"] == 4 + 1 and calls[name, "backward"] == 4 + 1


# -- the per-step layer graph, gradchecked --------------------------------------------------------
@pytest.mark.parametrize(
    "cls,kw,lengths",
    [
        (ts.nn.LSTM, {"num_layers": 2, "bidirectional": True}, None),
        (ts.nn.LSTM, {"bidirectional": True, "proj_size": 1}, [3, 1]),
        (ts.nn.GRU, {"num_layers": 2, "bidirectional": True}, [1, 3]),
        (ts.nn.RNN, {"bidirectional": True}, [2, 3]),
        (ts.nn.RNN, {"nonlinearity": "relu", "bias": False}, None),
    ],
)
def test_layer_gradcheck(cls, kw, lengths):
    layer = cls(2, 2, dtype=ts.float64, **kw)
    if kw.get("nonlinearity") == "relu":
        with ts.no_grad():
            layer.weight_ih_l0.mul_(0.0).add_(1.0)  # pre-activations well away from 0
    rng = np.random.default_rng(1)
    D = 2 if kw.get("bidirectional") else 1
    L, P = kw.get("num_layers", 1), kw.get("proj_size") or 2
    x = ts.tensor(rng.uniform(0.5, 1.0, (3, 2, 2)), requires_grad=True)
    h0 = ts.tensor(rng.standard_normal((L * D, 2, P)) * 0.5, requires_grad=True)
    c0 = ts.tensor(rng.standard_normal((L * D, 2, 2)) * 0.5, requires_grad=True)
    params = list(layer.parameters())

    def fn(x, h0, c0, *ps):
        out, hn = layer(x, (h0, c0) if cls is ts.nn.LSTM else h0, lengths=lengths)
        return (out, *hn) if cls is ts.nn.LSTM else (out, hn)

    inputs = [x, h0] + ([c0] if cls is ts.nn.LSTM else [ts.tensor(np.zeros(1))]) + params
    assert ts.gradcheck(fn, inputs)


# -- shared buffers: partial backward, retained graphs, frozen parts ------------------------------
def _pair(kind, **kw):
    cls = {"lstm": ts.nn.LSTM, "gru": ts.nn.GRU, "rnn": ts.nn.RNN}[kind]
    a = cls(3, 4, dtype=ts.float64, **kw)
    b = cls(3, 4, dtype=ts.float64, fused=False, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pick", ["early output", "h_n only", "c_n only"])
def test_backward_from_part_of_the_outputs(kind, pick):
    if pick == "c_n only" and kind != "lstm":
        pytest.skip("only LSTM has c_n")
    x = RNG.standard_normal((6, 2, 3))
    grads = []
    for m in _pair(kind, bidirectional=True):
        xs = ts.tensor(x, requires_grad=True)
        out, hn = m(xs)
        h_n, c_n = hn if kind == "lstm" else (hn, None)
        loss = {"early output": out[1], "h_n only": h_n, "c_n only": c_n}[pick].sum()
        loss.backward()
        grads.append([xs.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for u, v in zip(*grads):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_retained_graph_backward_twice_doubles_gradients(kind):
    m, _ = _pair(kind, num_layers=2)
    out, _ = m(ts.tensor(RNG.standard_normal((4, 2, 3))))
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    once = [p.grad.numpy().copy() for p in m.parameters()]
    loss.backward()
    for g, p in zip(once, m.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_frozen_parameters_still_give_input_and_state_gradients(kind):
    a, b = _pair(kind)
    a.requires_grad_(False)
    b.requires_grad_(False)
    x, h = RNG.standard_normal((4, 2, 3)), RNG.standard_normal((1, 2, 4))
    grads = []
    for m, need_x in ((a, False), (b, False), (a, True), (b, True)):
        xs, hs = ts.tensor(x, requires_grad=need_x), ts.tensor(h, requires_grad=True)
        out, _ = m(xs, (hs, hs) if kind == "lstm" else hs)
        out.sum().backward()
        grads.append((hs.grad.numpy(), xs.grad.numpy() if need_x else None))
        assert all(p.grad is None for p in m.parameters())
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[2][1], grads[3][1], rtol=1e-12)


def test_output_is_a_view_of_the_step_states():
    lstm = ts.nn.LSTM(3, 4)
    out, (h_n, _) = lstm(ts.randn(5, 2, 3))
    assert type(out._ctx).__name__ == "RecurrentOutput"
    np.testing.assert_array_equal(out.numpy()[-1], h_n.numpy()[0])


@pytest.mark.parametrize("kind, kw", [("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {}), ("RNN", {})])
def test_parameter_gradients_share_no_memory(kind, kw):
    # the input node hands its gradients to the parameters uncopied (fresh_grads): every one
    # must be an array of its own, so updating one in place leaves the others alone
    m = getattr(ts.nn, kind)(3, 4, **kw)
    x = ts.randn(5, 2, 3, requires_grad=True)
    out, _ = m(x)
    out.sum().backward()
    grads = [p.grad._data for p in m.parameters()] + [x.grad._data]
    for i, a in enumerate(grads):
        for b in grads[i + 1 :]:
            assert not np.shares_memory(a, b)
    before = m.bias_hh_l0.grad.numpy().copy()
    m.bias_ih_l0.grad.data *= 0
    np.testing.assert_array_equal(m.bias_hh_l0.grad.numpy(), before)


def _graph(*roots):
    """Every node behind ``roots``, described without ids: (op, parents, generation, scope, outputs),
    parents as (op or leaf shape, output index), in creation order."""
    nodes = sorted(graph_nodes(*roots), key=lambda fn: fn.seq)

    def parent(p, i):
        if p is None:
            return ("constant", i)
        return (p.name, i) if i >= 0 else ("leaf", p.shape, p.requires_grad)

    def tags(fn):
        return tuple((k, v[0] if k == "cell" else v) for k, v in fn.scope)  # cell ids differ per call

    gen0 = min(fn.generation for fn in nodes)
    return [(fn.name, [parent(p, i) for p, i in fn.parents], fn.generation - gen0, tags(fn), fn.out_meta)
            for fn in nodes]  # fmt: skip


@pytest.mark.parametrize(
    "kind, kw",
    [("LSTM", {"num_layers": 2, "bidirectional": True}), ("LSTM", {"proj_size": 2}), ("GRU", {"bias": False}),
     ("RNN", {"nonlinearity": "relu"})],
)  # fmt: skip
@pytest.mark.parametrize("h0_grad", [False, True])
def test_unrolled_steps_record_the_nodes_apply_would(monkeypatch, kind, kw, h0_grad):
    # After its first step, a layer direction records each step's node by hand (_Step.unroll);
    # the graph must be the one that calling apply step by step makes (anomaly mode does that).
    m = getattr(ts.nn, kind)(3, 4, **kw)
    x = ts.tensor(RNG.standard_normal((5, 2, 3)).astype(np.float32))
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    h0 = ts.tensor(RNG.standard_normal((L * D, 2, kw.get("proj_size") or 4)).astype(np.float32), requires_grad=h0_grad)
    state = (h0, ts.zeros(L * D, 2, 4)) if kind == "LSTM" else h0
    graphs, grads = [], []
    for by_apply in (False, True):
        monkeypatch.setattr(steps, "is_anomaly_enabled", lambda by_apply=by_apply: by_apply)
        m.zero_grad()
        h0.grad = None
        out, h_n = m(x, state)
        graphs.append(_graph(out, *(h_n if kind == "LSTM" else (h_n,))))
        (out * out).sum().backward()
        grads.append([p.grad.numpy().copy() for p in m.parameters()] + ([h0.grad.numpy()] if h0_grad else []))
    assert graphs[0] == graphs[1]
    recorded = [n for n in graphs[0] if n[0].endswith("Step")]
    assert len(recorded) == 5 * D * L
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_unrolled_steps_without_a_graph_and_with_frozen_weights():
    m = ts.nn.LSTM(3, 4)
    x = ts.randn(4, 2, 3)
    with ts.no_grad():
        out, (h, c) = m(x)
    assert out._ctx is None and h._ctx is None and c._ctx is None
    m.requires_grad_(False)
    h0 = ts.randn(1, 2, 4, requires_grad=True)
    out, _ = m(x, (h0, ts.zeros(1, 2, 4)))  # only h_0 needs a gradient: the token is a constant
    out.sum().backward()
    assert h0.grad is not None and all(p.grad is None for p in m.parameters())
    steps = [fn for fn in graph_nodes(out) if fn.name == "LSTMStep"]
    assert len(steps) == 4 and all(fn.parents[0][0] is None for fn in steps)


def test_anomaly_mode_names_the_node_and_step_of_a_nan():
    m = ts.nn.LSTM(3, 4)
    x = RNG.standard_normal((6, 1, 3)).astype(np.float32)
    x[3, 0, 1] = np.nan
    # x_3's projection is where the NaN is first made: its index names the step
    message = r"InputProjection produced NaN .* at index \(3, 0, "
    with ts.detect_anomaly(), pytest.raises(FloatingPointError, match=message):
        m(ts.tensor(x))


# -- the workspace: internal buffers reused from one call to the next ------------------------------
@pytest.mark.parametrize("kind, kw", [("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {}), ("RNN", {})])
@pytest.mark.parametrize("layers", [1, 2])
def test_recycled_buffers_never_reach_results_still_in_use(kind, kw, layers):
    # one layer: h_n and c_n are views of the step buffers, which must not be recycled
    m = getattr(ts.nn, kind)(3, 4, num_layers=layers, **kw).double()
    xs = [ts.tensor(RNG.standard_normal((9, 2, 3))) for _ in range(3)]

    def run(x):
        m.zero_grad()
        out, h = m(x)
        (out * out).sum().backward()
        return out, h, [p.grad.numpy().copy() for p in m.parameters()]

    sequence.workspace.clear()
    first = run(xs[0])
    kept = [first[0].numpy().copy()] + [t.numpy().copy() for t in (first[1] if kind == "LSTM" else (first[1],))]
    assert sequence.workspace.nbytes > 0  # backward handed the internal buffers back
    again = [run(x) for x in xs[1:]] + [run(xs[0])]
    # what the first call returned is untouched by the calls that reused its buffers ...
    states = first[1] if kind == "LSTM" else (first[1],)
    for a, b in zip(kept, [first[0]] + list(states)):
        np.testing.assert_array_equal(a, b.numpy())
    # ... and the same input gives the same results from recycled buffers
    np.testing.assert_array_equal(again[-1][0].numpy(), kept[0])
    for a, b in zip(again[-1][2], first[2]):
        np.testing.assert_array_equal(a, b)


def test_graphs_alive_together_use_their_own_buffers():
    m = ts.nn.LSTM(3, 4).double()
    x1, x2 = (ts.tensor(RNG.standard_normal((6, 2, 3))) for _ in range(2))
    grads = []
    for x in (x1, x2):
        m.zero_grad()
        out, _ = m(x)
        (out * out).sum().backward()
        grads.append([p.grad.numpy().copy() for p in m.parameters()])
    m.zero_grad()
    out1, _ = m(x1)
    out2, _ = m(x2)  # both graphs alive before either backward
    (out2 * out2).sum().backward()
    for a, b in zip(grads[1], [p.grad.numpy() for p in m.parameters()]):
        np.testing.assert_array_equal(a, b)
    m.zero_grad()
    (out1 * out1).sum().backward()
    for a, b in zip(grads[0], [p.grad.numpy() for p in m.parameters()]):
        np.testing.assert_array_equal(a, b)


def test_retained_graph_keeps_its_buffers():
    m = ts.nn.GRU(3, 4).double()
    x = ts.tensor(RNG.standard_normal((5, 2, 3)))
    out, _ = m(x)
    loss = (out * out).sum()
    sequence.workspace.clear()
    loss.backward(retain_graph=True)
    assert sequence.workspace.nbytes > 0  # the gate gradients only: activations stay with the graph
    held = sequence.workspace.nbytes
    m2 = ts.nn.GRU(3, 4).double()
    m2.load_state_dict(m.state_dict())
    m2(x)[0].sum().backward()  # another call takes the spare gradient buffer, and gives all back
    once = [p.grad.numpy().copy() for p in m.parameters()]
    loss.backward()
    for g, p in zip(once, m.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-12)
    assert sequence.workspace.nbytes >= held


def test_workspace_keeps_at_most_its_limit():
    w = sequence.Workspace(limit=1000)
    w.give(np, np.empty(100), np.empty(100))  # 800 bytes each: only one fits
    assert w.nbytes == 800
    a = w.take(np, (100,), np.dtype("float64"))
    assert w.nbytes == 0 and a.shape == (100,)
    b = w.take(np, (100,), np.dtype("float64"))
    assert b is not a
    w.give(np, np.empty(3), np.empty(3), np.empty(3))  # two of a shape at most
    assert w.nbytes == 48
    w.clear()
    assert w.nbytes == 0 and not w.spare


def test_cpu_kernel_choice_without_the_fast_extra(monkeypatch):
    """Without the compiled kernels, "auto" falls back to the NumPy kernels and "fast" says what to install."""
    import sys

    saved = list(fused._cpu_choice)
    monkeypatch.setitem(sys.modules, "tinyseq.ops.fused.fast", None)  # makes its import fail
    monkeypatch.delattr(ts.ops.fused, "fast", raising=False)
    try:
        assert fused.select_cpu_kernels("auto") == "numpy"
        assert fused.cell_kernels(ts.backend.get_backend("cpu"), "lstm_cell")[0] is fused.lstm_cell_forward
        with pytest.raises(ImportError, match=r"need the 'fast' extra \(pip install tinyseq\[fast\]\)"):
            fused.select_cpu_kernels("fast")
    finally:
        fused._cpu_choice[:] = saved
