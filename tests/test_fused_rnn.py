"""Fused recurrent ops: the kernel contract devices implement, gradchecks of the
per-step layer graph, and the corners of its shared buffers."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.ops import fused

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
    """A device registers (forward, backward) pairs in backend.fused; every fused op uses them."""
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

    saved = dict(be.fused)
    try:
        for name, pair in fused._CPU_KERNELS.items():
            be.fused[name] = counting(name, pair)
        x = ts.randn(4, 2, 3)
        for layer in (ts.nn.LSTM(3, 5), ts.nn.GRU(3, 5), ts.nn.RNN(3, 5)):
            out, _ = layer(x)
            out.sum().backward()
        for cell in (ts.nn.LSTMCell(3, 5), ts.nn.GRUCell(3, 5), ts.nn.RNNCell(3, 5)):
            out = cell(x[0])
            (out[0] if isinstance(out, tuple) else out).sum().backward()
    finally:
        be.fused.clear()
        be.fused.update(saved)
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
    grads = [p.grad.data for p in m.parameters()] + [x.grad.data]
    for i, a in enumerate(grads):
        for b in grads[i + 1 :]:
            assert not np.shares_memory(a, b)
    before = m.bias_hh_l0.grad.numpy().copy()
    m.bias_ih_l0.grad.data *= 0
    np.testing.assert_array_equal(m.bias_hh_l0.grad.numpy(), before)
