"""The compiled CPU cell kernels (the ``fast`` extra) against the NumPy reference kernels:
1e-12 in float64, a few ulp in float32, over the shapes and argument forms the kernel
contract allows; and whole layers with them on, against the NumPy kernels and PyTorch."""

import numpy as np
import pytest

pytest.importorskip("numba")

import tinyseq as ts  # noqa: E402
from tinyseq.ops.fused import fast as fk  # noqa: E402
from tinyseq.ops.fused import kernels as fused  # noqa: E402


@pytest.fixture(autouse=True)
def keep_kernel_choice():
    """Tests switch the CPU kernels; each leaves the choice as it found it."""
    saved = list(fused._cpu_choice)
    yield
    fused._cpu_choice[:] = saved


SHAPES = [(1, 1), (1, 100), (5, 7), (32, 64), (2, 20000)]  # the last: a ConvLSTM's wide rows
DTYPES = [np.float64, np.float32]


def close(a, b, dtype):
    if dtype == np.float64:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    else:
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_max_ulp(a, b, maxulp=4)


def arrays(rng, dtype, *shapes):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def grad_forms(rng, dtype, B, H):
    """dh-like gradients in the forms the contract allows: plain, read-only broadcast, strided slice."""
    plain = rng.standard_normal((B, H)).astype(dtype)
    row = rng.standard_normal(H).astype(dtype)
    broadcast = np.broadcast_to(row, (B, H))  # read-only, stride 0 (the gradient of a sum)
    wide = rng.standard_normal((B, 2 * H)).astype(dtype)
    return {"plain": plain, "broadcast": broadcast, "strided": wide[:, ::2]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,H", SHAPES)
@pytest.mark.parametrize("with_rec", [False, True])
@pytest.mark.parametrize("outs", [False, True])
def test_lstm_kernels_equal_numpy(dtype, B, H, with_rec, outs):
    rng = np.random.default_rng(B * 1000 + H)
    gates, rec = arrays(rng, dtype, (B, 4 * H), (B, 4 * H))
    c_prev = rng.standard_normal((B, H)).astype(dtype)
    rec = rec if with_rec else None
    forms = grad_forms(rng, dtype, B, H)
    results = []
    for mod in (fused, fk):
        g = gates.copy()
        kw = {}
        if outs:
            kw = {k: np.empty((B, H), dtype) for k in ("h_out", "c_out", "tc_out")}
        keep = [c_prev.copy(), None if rec is None else rec.copy()]
        h, c, saved = mod.lstm_cell_forward(np, g, c_prev, rec=rec, **kw)
        if outs:
            assert h is kw["h_out"] and c is kw["c_out"]
        np.testing.assert_array_equal(keep[0], c_prev)
        if rec is not None:
            np.testing.assert_array_equal(keep[1], rec)
        grads = []
        for form, dh in forms.items():
            dc = dh[::-1] if form != "broadcast" else dh
            dh_keep, dc_keep = dh.copy(), dc.copy()
            out = np.empty((B, 4 * H), dtype) if outs else None
            d, dc_prev = mod.lstm_cell_backward(np, saved, dh, dc, out=out)
            if outs:
                assert d is out
            np.testing.assert_array_equal(dh, dh_keep)
            np.testing.assert_array_equal(dc, dc_keep)
            grads += [d.copy(), dc_prev.copy()]
        results.append([h.copy(), c.copy(), g.copy()] + grads)
    for a, b in zip(*results):
        assert a.dtype == b.dtype == dtype
        close(b, a, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,H", SHAPES[:4])
@pytest.mark.parametrize("with_b", [False, True])
@pytest.mark.parametrize("outs", [False, True])
def test_gru_kernels_equal_numpy(dtype, B, H, with_b, outs):
    rng = np.random.default_rng(B * 1000 + H)
    gx, gh, h_prev = arrays(rng, dtype, (B, 3 * H), (B, 3 * H), (B, H))
    b_hh = rng.standard_normal(3 * H).astype(dtype) if with_b else None
    forms = grad_forms(rng, dtype, B, H)
    results = []
    for mod in (fused, fk):
        x, hh = gx.copy(), gh.copy()
        h_out = np.empty((B, H), dtype) if outs else None
        h, saved = mod.gru_cell_forward(np, x, hh, h_prev, h_out=h_out, b_hh=b_hh)
        if outs:
            assert h is h_out
        if not with_b:
            np.testing.assert_array_equal(hh, gh)  # read only without b_hh
        res = [h.copy(), x.copy(), hh.copy()]
        for dh in forms.values():
            keep = dh.copy()
            kw = {"dgx": np.empty((B, 3 * H), dtype), "dgh": np.empty((B, 3 * H), dtype)} if outs else {}
            dgx, dgh, dh_direct = mod.gru_cell_backward(np, saved, dh, **kw)
            if outs:
                assert dgx is kw["dgx"] and dgh is kw["dgh"]
            np.testing.assert_array_equal(dh, keep)
            res += [dgx.copy(), dgh.copy(), dh_direct.copy()]
        results.append(res)
    for a, b in zip(*results):
        assert a.dtype == b.dtype == dtype
        close(b, a, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B,H", SHAPES[:4])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("with_rec", [False, True])
def test_rnn_kernels_equal_numpy(dtype, B, H, nonlinearity, with_rec):
    rng = np.random.default_rng(B * 1000 + H)
    pre, rec = arrays(rng, dtype, (B, H), (B, H))
    rec = rec if with_rec else None
    forms = grad_forms(rng, dtype, B, H)
    results = []
    for mod in (fused, fk):
        p = pre.copy()
        out = np.empty((B, H), dtype)
        h, saved = mod.rnn_cell_forward(np, p, nonlinearity, out=out, rec=rec)
        assert h is out
        np.testing.assert_array_equal(p, pre)  # pre is read only
        res = [h.copy()]
        for dh in forms.values():
            d_out = np.empty((B, H), dtype)
            assert mod.rnn_cell_backward(np, saved, dh, nonlinearity, out=d_out) is d_out
            res += [d_out.copy(), mod.rnn_cell_backward(np, saved, dh, nonlinearity)]
        results.append(res)
    for a, b in zip(*results):
        close(b, a, dtype)


def test_kernel_choice(monkeypatch):
    cpu = ts.backend.get_backend("cpu")
    monkeypatch.setenv("TINYSEQ_KERNELS", "numpy")
    assert fused.select_cpu_kernels() == "numpy"
    assert fused.cell_kernels(cpu, "lstm_cell")[0] is fused.lstm_cell_forward
    monkeypatch.setenv("TINYSEQ_KERNELS", "fast")
    assert fused.select_cpu_kernels() == "fast"
    assert fused.cell_kernels(cpu, "gru_cell")[1] is fk.gru_cell_backward
    monkeypatch.setenv("TINYSEQ_KERNELS", "numba")
    with pytest.raises(ValueError, match="TINYSEQ_KERNELS: expected 'auto', 'numpy' or 'fast', got 'numba'"):
        fused.select_cpu_kernels()
    monkeypatch.delenv("TINYSEQ_KERNELS")
    assert fused.select_cpu_kernels() == "fast"  # auto: compiled when installed


def _run_layer(kind, kw, kernels, dtype, x, state_dict):
    fused.select_cpu_kernels(kernels)
    layer = getattr(ts.nn, kind)(x.shape[2], 6, **kw).to(dtype=dtype)
    layer.load_state_dict(state_dict)
    xs = ts.tensor(x, requires_grad=True)
    out, _ = layer(xs)
    (out * out).sum().backward()
    return [out.numpy(), xs.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]


LAYERS = [
    ("LSTM", {}),
    ("GRU", {}),
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("GRU", {"bidirectional": True, "bias": False}),
]


@pytest.mark.parametrize("kind,kw", LAYERS)
def test_layers_with_fast_kernels_equal_numpy_composed_and_torch(kind, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 4))
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(4, 6, **kw).double()
    sd = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
    fast = _run_layer(kind, kw, "fast", np.float64, x, sd)
    slow = _run_layer(kind, kw, "numpy", np.float64, x, sd)
    composed = _run_layer(kind, dict(kw, fused=False), "fast", np.float64, x, sd)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = ref(xt)
    (out * out).sum().backward()
    want = [out.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in ref.parameters()]
    for a, b, c, w in zip(fast, slow, composed, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a, w, rtol=1e-10, atol=1e-12)


def test_float32_layer_with_fast_kernels_stays_close_to_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 2, 5)).astype(np.float32)
    layer = ts.nn.LSTM(5, 6)
    sd = {k: v.numpy().astype(np.float32) for k, v in layer.state_dict().items()}
    fast = _run_layer("LSTM", {}, "fast", np.float32, x, sd)
    slow = _run_layer("LSTM", {}, "numpy", np.float32, x, sd)
    for a, b in zip(fast, slow):
        assert a.dtype == np.float32
        np.testing.assert_array_max_ulp(a, b, maxulp=8)


def test_conv_lstm_with_fast_kernels_equals_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 2, 5, 6))  # (T, B, C, H, W)
    results = []
    for kernels in ("fast", "numpy"):
        fused.select_cpu_kernels(kernels)
        ts.manual_seed(0)
        layer = ts.nn.ConvLSTM(2, 3, 3).double()
        xs = ts.tensor(x, requires_grad=True)
        out, _ = layer(xs)
        (out * out).sum().backward()
        results.append([out.numpy(), xs.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
