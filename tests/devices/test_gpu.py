"""The "cuda" device on a real GPU: every op and layer against the CPU, the fused
CUDA kernels against the array code, a training run on both devices.

Skipped (never failed) without CuPy or a GPU. Runs under pytest, or, on a GPU
machine without pytest, as a script (``python tests/devices/test_gpu.py``), which is
what ``benchmarks/gpu_check.sh`` falls back to.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

try:
    import pytest
except ImportError:  # run as a script by benchmarks/gpu_check.sh
    pytest = None

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import device_cases  # noqa: E402

import tinyseq as ts  # noqa: E402
from tinyseq.ops.fused import kernels as fused  # noqa: E402

if pytest is not None:
    cupy = pytest.importorskip("cupy")
    if ts.cuda.device_count() == 0:
        pytest.skip("no CUDA GPU here", allow_module_level=True)
    pytestmark = pytest.mark.gpu
else:
    import cupy

from tinyseq_gpu import kernels  # noqa: E402

DTYPES = ("float64", "float32")


def _close(got, want, dtype, what):
    device_cases._close(what, cupy.asnumpy(got) if isinstance(got, cupy.ndarray) else got, want, dtype)


if pytest is not None:

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("case", device_cases.CASES, ids=repr)
    def test_case_on_gpu_matches_cpu(case, dtype):
        device_cases.check(case, "cuda", dtype)


# -- the device ------------------------------------------------------------------------------
def test_device_basics():
    be = ts.get_backend("cuda")
    assert ts.cuda.is_available() and be.name == "cuda:0" and be.xp is cupy
    x = ts.randn(3, 4, device="cuda")
    assert isinstance(x._data, cupy.ndarray) and x.device == "cuda:0"
    host = x.numpy()
    assert isinstance(host, np.ndarray)
    host[0, 0] = 123.0
    assert x.numpy()[0, 0] != 123.0
    y = ts.tensor(cupy.arange(3.0))  # a CuPy array stays on its GPU
    assert y.device == "cuda:0"
    np.testing.assert_array_equal(x.to("cpu").to("cuda").numpy(), x.numpy())
    try:
        x + ts.randn(3, 4)
        raise AssertionError("mixing devices did not raise")
    except RuntimeError as e:
        assert "tensors on different devices (cuda:0 and cpu)" in str(e)
    ts.cuda.synchronize()


def test_random_draws_are_seeded():
    ts.manual_seed(5)
    a = ts.randn(1000, device="cuda").numpy()
    b = ts.rand(10, device="cuda").numpy()
    ts.manual_seed(5)
    assert np.array_equal(a, ts.randn(1000, device="cuda").numpy())
    assert np.array_equal(b, ts.rand(10, device="cuda").numpy())
    assert abs(a.mean()) < 0.2 and 0.8 < a.std() < 1.2
    r = ts.randint(0, 7, (500,), device="cuda").numpy()
    assert r.min() >= 0 and r.max() < 7 and r.dtype == np.int64
    d = ts.nn.functional.dropout(ts.ones(10000, device="cuda"), p=0.25).numpy()
    assert abs((d == 0).mean() - 0.25) < 0.03 and np.allclose(d[d != 0], 1 / 0.75)


def test_module_optimizer_and_checkpoint_follow_the_device():
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(3, 4)
    opt = ts.optim.Adam(lstm.parameters(), lr=0.01)
    lstm(ts.randn(5, 2, 3))[0].sum().backward()
    opt.step()
    lstm.to("cuda")
    lstm(ts.randn(5, 2, 3, device="cuda"))[0].sum().backward()
    opt.step()
    assert all(isinstance(s["exp_avg"], cupy.ndarray) for s in opt.state.values())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.npz"
        ts.save({"model": lstm.state_dict(), "optim": opt.state_dict()}, path)
        back = ts.load(path, device="cuda")
        assert all(t.device == "cuda:0" for t in back["model"].values())
        assert all(t.device == "cpu" for t in ts.load(path)["model"].values())


# -- fused kernels vs the array code -----------------------------------------------------------
def _rng_arrays(seed, dtype, *shapes, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]


def test_lstm_kernel_matches_array_code():
    for dtype in DTYPES:
        B, H = 5, 7
        gates, c_prev, dh, dc = _rng_arrays(0, dtype, (B, 4 * H), (B, H), (B, H), (B, H), scale=2.0)
        h_r, c_r, saved = fused.lstm_cell_forward(np, gates.copy(), c_prev)
        d_r, dcp_r = fused.lstm_cell_backward(np, saved, dh, dc)
        h_out = cupy.zeros((B, 2 * H), dtype=dtype)[:, ::2]  # a strided view, as the layers may pass
        h, c, ks = kernels.lstm_cell_forward(cupy, cupy.asarray(gates), cupy.asarray(c_prev), h_out=h_out)
        assert h is h_out
        out = cupy.zeros((B, 8 * H), dtype=dtype)[:, 1::2]
        d, dcp = kernels.lstm_cell_backward(cupy, ks, cupy.asarray(dh), cupy.asarray(dc), out=out)
        assert d is out
        for got, want, what in [(h, h_r, "h"), (c, c_r, "c"), (d, d_r, "dgates"), (dcp, dcp_r, "dc_prev")]:
            _close(got, want, dtype, f"lstm {what} {dtype}")


def test_gru_kernel_matches_array_code():
    for dtype in DTYPES:
        B, H = 4, 6
        gx, gh, h_prev, dh = _rng_arrays(1, dtype, (B, 3 * H), (B, 3 * H), (B, H), (B, H), scale=2.0)
        h_r, saved = fused.gru_cell_forward(np, gx.copy(), gh, h_prev)
        dgx_r, dgh_r, direct_r = fused.gru_cell_backward(np, saved, dh)
        h, ks = kernels.gru_cell_forward(cupy, cupy.asarray(gx), cupy.asarray(gh), cupy.asarray(h_prev))
        dgx, dgh, direct = kernels.gru_cell_backward(cupy, ks, cupy.asarray(dh))
        for got, want, what in [(h, h_r, "h"), (dgx, dgx_r, "dgx"), (dgh, dgh_r, "dgh"), (direct, direct_r, "dh")]:
            _close(got, want, dtype, f"gru {what} {dtype}")


def test_rnn_kernel_matches_array_code():
    for dtype in DTYPES:
        for nl in ("tanh", "relu"):
            pre, dh = _rng_arrays(2, dtype, (3, 5), (3, 5))
            h_r, saved = fused.rnn_cell_forward(np, pre, nl)
            d_r = fused.rnn_cell_backward(np, saved, dh, nl)
            h, ks = kernels.rnn_cell_forward(cupy, cupy.asarray(pre), nl)
            _close(h, h_r, dtype, f"rnn {nl} h")
            _close(kernels.rnn_cell_backward(cupy, ks, cupy.asarray(dh), nl), d_r, dtype, f"rnn {nl} dpre")


def test_softmax_xent_kernel_matches_array_code():
    for dtype in DTYPES:
        for M, C in ((7, 1), (9, 5), (33, 300), (4, 5000)):
            (logits,) = _rng_arrays(3, dtype, (M, C), scale=4.0)
            target = np.random.default_rng(4).integers(0, C, M)
            target[::3] = -100
            loss_r, saved = fused.softmax_xent_forward(np, logits, target, -100)
            scale = np.linspace(0.5, 1.5, M).astype(dtype) * (target != -100)
            d_r = fused.softmax_xent_backward(np, saved, scale)
            loss, ks = kernels.softmax_xent_forward(cupy, cupy.asarray(logits), cupy.asarray(target), -100)
            d = kernels.softmax_xent_backward(cupy, ks, cupy.asarray(scale))
            _close(loss, loss_r, dtype, f"xent loss {M}x{C} {dtype}")
            _close(d, d_r, dtype, f"xent dlogits {M}x{C} {dtype}")


def test_layers_same_with_and_without_kernels():
    """The GPU's fused kernels and the composed array code give the same layer."""
    be = ts.get_backend("cuda")
    for cls in (ts.nn.LSTM, ts.nn.GRU, ts.nn.RNN, ts.nn.ConvLSTM):
        results = []
        for table in (kernels.kernel_table(), {}):
            be.kernels = table
            try:
                ts.manual_seed(0)
                rng = np.random.default_rng(5)
                if cls is ts.nn.ConvLSTM:  # its gate arithmetic runs the LSTM cell kernels
                    layer = cls(2, 3, 3, num_layers=2).double().to("cuda")
                    x = ts.tensor(rng.standard_normal((4, 2, 2, 5, 6)), device="cuda", requires_grad=True)
                    out, _ = layer(x)
                else:
                    layer = cls(6, 8, num_layers=2, bidirectional=True).double().to("cuda")
                    x = ts.tensor(rng.standard_normal((7, 3, 6)), device="cuda", requires_grad=True)
                    out, _ = layer(x, lengths=[7, 5, 2])
                (out * out).sum().backward()
                results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
            finally:
                be.kernels = kernels.kernel_table()
        for k, (a, b) in enumerate(zip(*results)):
            _close(a, b, "float64", f"{cls.__name__} kernels vs array code, array {k}")


# -- training ----------------------------------------------------------------------------------
def _train(device, steps=15):
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(4, 16, num_layers=2).double()
    head = ts.nn.Parameter(ts.randn(16, 5, dtype=ts.float64) * 0.2)
    lstm.to(device)
    head = ts.nn.Parameter(head.to(device).detach())
    params = list(lstm.parameters()) + [head]
    opt = ts.optim.Adam(params, lr=0.01)
    rng = np.random.default_rng(0)
    x = ts.tensor(rng.standard_normal((20, 8, 4)), device=device)
    y = ts.tensor(rng.integers(0, 5, (20, 8)), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out, _ = lstm(x)
        loss = ts.nn.functional.cross_entropy((out @ head).reshape(-1, 5), y.reshape(-1))
        loss.backward()
        ts.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_training_converges_identically_on_both_devices():
    cpu = _train("cpu")
    gpu = _train("cuda")
    np.testing.assert_allclose(gpu, cpu, rtol=1e-8, atol=0)
    assert gpu[-1] < gpu[0] - 0.05


# -- without pytest ------------------------------------------------------------------------------
def main() -> int:
    if ts.cuda.device_count() == 0:
        print("no CUDA GPU: GPU tests skipped")
        return 0
    failures = device_cases.main(["", "cuda"])
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    for name, fn in sorted(tests):
        if fn.__code__.co_argcount:  # the parametrized pytest form of the device cases, run above
            continue
        t0 = time.perf_counter()
        try:
            fn()
            status = "ok"
        except Exception:
            failures += 1
            status = "FAIL\n" + traceback.format_exc()
        print(f"{name:55s} {time.perf_counter() - t0:7.2f} s  {status}", flush=True)
    print("GPU tests:", "all passed" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
