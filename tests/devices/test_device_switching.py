"""Switching devices with one flag, checked on the strict device (a GPU's host
boundary on the CPU): every spelling of the flag, factories, tensor.to,
module.to, optimizer state, checkpoints, mixing errors, a training run, and
the examples' --device option."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import backend
from tinyseq.devices.strict import StrictArray

ROOT = Path(__file__).resolve().parents[2]
STRICT = "strict:0"


@pytest.fixture
def default_strict():
    ts.set_default_device("strict")
    yield
    ts.set_default_device("cpu")


def _python(code, **env):
    full = dict(os.environ, PYTHONPATH=str(ROOT))
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def _model():
    if hasattr(ts.nn, "LSTM"):

        class Net(ts.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = ts.nn.LSTM(3, 5)
                self.w = ts.nn.Parameter(ts.randn(5, 2) * 0.3)

            def forward(self, x):
                out, _ = self.lstm(x)
                return out @ self.w

    else:

        class Net(ts.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = ts.nn.Parameter(ts.randn(3, 2) * 0.3)

            def forward(self, x):
                return ts.tanh(x) @ self.w

    ts.manual_seed(0)
    return Net()


# -- the flag -------------------------------------------------------------------------------
def test_every_spelling_of_the_flag_gives_the_same_device(default_strict):
    assert ts.default_device() == STRICT
    made = [ts.zeros(2), ts.randn(2), ts.tensor([1.0]), ts.arange(3), ts.full((2,), 1.5)]
    made += [ts.zeros(2, device="strict"), ts.ones(2, device="strict:0"), ts.tensor([1.0], device="cpu").to("strict")]
    assert {t.device for t in made} == {STRICT}
    assert all(isinstance(t._data, StrictArray) for t in made)


def test_env_var_is_read_on_first_use_not_at_import():
    code = (
        "import os, tinyseq as ts\n"
        "os.environ['TINYSEQ_DEVICE'] = 'strict'\n"  # set after import: still honoured
        "print(ts.zeros(2).device, ts.get_backend().name)\n"
    )
    r = _python(code, TINYSEQ_DEVICE="cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [STRICT, STRICT]
    r = _python("import tinyseq as ts; print(ts.randn(2, 2).device)", TINYSEQ_DEVICE="strict")
    assert r.stdout.strip() == STRICT, r.stderr


def test_env_var_cuda_without_cupy_fails_at_first_use_with_install_hint():
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    r = _python("import tinyseq as ts\nprint('imported')\nts.zeros(1)", TINYSEQ_DEVICE="cuda")
    assert r.stdout.strip() == "imported"
    assert "RuntimeError: TINYSEQ_DEVICE='cuda': device 'cuda:0' needs CuPy, which is not installed" in r.stderr
    assert 'pip install "tinyseq[gpu]"' in r.stderr


def test_unknown_device_kind_is_named():
    with pytest.raises(ValueError, match="device: unknown device 'tpu' \\(known kinds: cpu, cuda, strict\\)"):
        ts.zeros(2, device="tpu")


# -- factories and moves ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda d: ts.zeros(2, 3, device=d), lambda d: ts.ones(2, device=d), lambda d: ts.empty(2, device=d),
        lambda d: ts.full((2,), 3.0, device=d), lambda d: ts.randn(2, device=d), lambda d: ts.rand(2, device=d),
        lambda d: ts.randint(0, 5, (3,), device=d), lambda d: ts.arange(4, device=d),
        lambda d: ts.zeros_like(ts.ones(2), device=d), lambda d: ts.randn_like(ts.ones(2, device=d)),
        lambda d: ts.tensor(np.ones(2), device=d),
    ],
    ids=["zeros", "ones", "empty", "full", "randn", "rand", "randint", "arange", "zeros_like", "randn_like", "tensor"],
)  # fmt: skip
def test_factories_honour_device(make):
    t = make("strict")
    assert t.device == STRICT and isinstance(t._data, StrictArray)


def test_to_and_back_is_differentiable_and_copies():
    x = ts.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to("strict")
    assert y.device == STRICT and y.requires_grad
    z = (y * y).sum().to("cpu")
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
    host = y.numpy()
    host[0] = 100.0  # numpy() of a device tensor is a copy, never a view
    assert y.numpy()[0] == 1.0
    assert y.cpu().device == "cpu"


def test_mixing_devices_names_both():
    a, b = ts.ones(2), ts.ones(2, device="strict")
    with pytest.raises(RuntimeError, match="add: tensors on different devices \\(cpu and strict:0\\)"):
        a + b
    with pytest.raises(RuntimeError, match="matmul: tensors on different devices \\(strict:0 and cpu\\)"):
        b.reshape(1, 2) @ a.reshape(2, 1)
    with pytest.raises(RuntimeError, match="cat: tensors on different devices \\(cpu and strict:0\\)"):
        ts.cat([a, b])
    with pytest.raises(RuntimeError, match="less: tensors on different devices \\(strict:0 and cpu\\)"):
        _ = b < a


def test_module_to_moves_parameters_and_grads_in_place():
    net = _model()
    params = list(net.parameters())
    x = ts.randn(4, 2, 3)
    net(x).sum().backward()
    assert net.to("strict") is net
    assert all(p.device == STRICT and p.grad.device == STRICT for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]  # same objects, moved
    out = net(x.to("strict"))
    assert out.device == STRICT
    with pytest.raises(RuntimeError, match="tensors on different devices"):
        net(x)
    net.to("cpu")
    assert all(isinstance(p._data, np.ndarray) for p in net.parameters())


def _train(device, steps=4, opt_name="Adam"):
    net = _model().to(device)
    opt = getattr(ts.optim, opt_name)(net.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    x = ts.tensor(rng.standard_normal((6, 4, 3)).astype(np.float32), device=device)
    y = ts.tensor(rng.standard_normal((6, 4, 2)).astype(np.float32), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ts.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, opt, losses


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "Adagrad", "RMSprop"])
def test_training_on_device_matches_cpu(opt_name):
    _, _, cpu = _train("cpu", opt_name=opt_name)
    net, opt, dev = _train("strict", opt_name=opt_name)
    np.testing.assert_allclose(dev, cpu, rtol=1e-6)
    assert dev[-1] < dev[0]
    for state in opt.state.values():
        arrays = [v for v in state.values() if hasattr(v, "shape") and getattr(v, "ndim", 0)]
        assert all(isinstance(v, StrictArray) for v in arrays)


def test_optimizer_state_follows_its_parameters():
    net, opt, _ = _train("cpu", steps=2)
    net.to("strict")
    loss = net(ts.randn(3, 2, 3, device="strict")).sum()
    loss.backward()
    opt.step()  # the moments move with their parameters, not the other way round
    for p, state in opt.state.items():
        assert p.device == STRICT
        assert isinstance(state["exp_avg"], StrictArray) and isinstance(state["exp_avg_sq"], StrictArray)
    net.to("cpu")
    opt.step()
    assert all(isinstance(s["exp_avg"], np.ndarray) for s in opt.state.values())


def test_checkpoint_round_trip_maps_devices(tmp_path):
    net, opt, _ = _train("strict", steps=2)
    path = tmp_path / "ckpt.npz"
    ts.save({"model": net.state_dict(), "optim": opt.state_dict(), "epoch": 2}, path)
    on_cpu = ts.load(path)
    assert all(t.device == "cpu" for t in on_cpu["model"].values())
    on_dev = ts.load(path, device="strict")
    assert all(t.device == STRICT for t in on_dev["model"].values())
    fresh = _model()
    fresh.load_state_dict(on_dev["model"])  # device tensors into a CPU model: copied across
    for (k, a), (_, b) in zip(fresh.state_dict().items(), net.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    fresh.to("strict")
    opt2 = ts.optim.Adam(fresh.parameters(), lr=0.05)
    opt2.load_state_dict(on_cpu["optim"])  # host state onto device parameters
    assert all(isinstance(s["exp_avg"], StrictArray) for s in opt2.state.values())


def test_fused_kernel_table_is_consulted():
    be = ts.get_backend("strict")
    calls = []
    from tinyseq.ops.fused import kernels as fused

    def fwd(xp, logits, target, ignore_index):
        calls.append("fwd")
        return fused.softmax_xent_forward(xp, logits, target, ignore_index)

    def bwd(xp, saved, scale):
        calls.append("bwd")
        return fused.softmax_xent_backward(xp, saved, scale)

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(be.kernels, "softmax_xent", (fwd, bwd))
        x = ts.randn(4, 3, device="strict", requires_grad=True)
        ts.nn.functional.cross_entropy(x, ts.tensor([0, 2, 1, 1], device="strict")).backward()
        ts.nn.functional.cross_entropy(ts.randn(4, 3), ts.tensor([0, 2, 1, 1]))  # the CPU keeps its own
    assert calls == ["fwd", "bwd"]


def test_gradient_clipping_and_drawing_work_on_device_tensors():
    net = _model().to("strict")
    net(ts.randn(5, 2, 3, device="strict")).sum().backward()
    norm = ts.nn.utils.clip_grad_norm_(net.parameters(), 0.1)
    assert norm.device == STRICT and float(norm) > 0.1
    ts.nn.utils.clip_grad_value_(net.parameters(), 0.01)
    assert all(float(abs(p.grad).max()) <= 0.01 for p in net.parameters())
    out = net(ts.randn(5, 2, 3, device="strict")).sum()
    norms = ts.viz.gradient_norms(out)
    assert norms and all(v is None or v >= 0 for lane in norms.values() for v in lane)
    assert "digraph" in ts.viz.draw(out, show_grad=True).source


# -- the examples ----------------------------------------------------------------------------
FAKE_GPU = ROOT / "tests" / "support" / "fakegpu"


def _examples():
    return sorted((ROOT / "examples").glob("[!_]*.py"))


@pytest.mark.parametrize("script", _examples(), ids=lambda p: p.name)
def test_example_runs_with_device_cuda_on_the_fake_gpu(script, tmp_path):
    """Every example's ``--device cuda --smoke`` path, on the fake CuPy (strict arrays,
    emulated kernels), so a host/device slip in an example fails here, not on a GPU."""
    env = dict(os.environ, PYTHONPATH=f"{FAKE_GPU}{os.pathsep}{ROOT}", MPLBACKEND="Agg")
    help_text = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                               env=env, timeout=120).stdout  # fmt: skip
    if "--device" not in help_text or "--smoke" not in help_text:
        pytest.skip(f"{script.name} has no --device and --smoke options")
    r = subprocess.run([sys.executable, str(script), "--device", "cuda", "--smoke"], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]


def test_fake_gpu_gives_cuda_tensors_of_strict_arrays():
    code = "import tinyseq as ts; x = ts.randn(2, device='cuda'); print(x.device, type(x._data).__name__)"
    r = _python(code, PYTHONPATH=f"{FAKE_GPU}{os.pathsep}{ROOT}")
    assert r.stdout.split() == ["cuda:0", "StrictArray"], r.stderr


def test_backend_registry_has_the_strict_kind_lazily():
    assert backend._lazy_modules.get("strict") == "tinyseq.devices.strict" or "strict" in backend._factories
