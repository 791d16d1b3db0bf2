"""Devices: names, the lazily imported "cuda" kind and its errors, registration,
default device, seeding, scatter_add, transpose_into; importing tinyseq stays quiet."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import backend


@pytest.fixture
def isolated_devices(monkeypatch):
    """Let a test register or fail devices without touching the rest of the run."""
    monkeypatch.setattr(backend, "_factories", dict(backend._factories))
    monkeypatch.setattr(backend, "_lazy_modules", dict(backend._lazy_modules))
    monkeypatch.setattr(backend, "_backends", dict(backend._backends))
    monkeypatch.setattr(backend, "_default", [backend._default[0]])
    monkeypatch.setattr(backend, "_chosen", backend._PerThreadDevice())
    return backend


def test_canonical_names():
    assert backend.canonical("cpu") == "cpu" and backend.canonical("cpu:0") == "cpu"
    assert backend.canonical("cuda") == "cuda:0" and backend.canonical("cuda:1") == "cuda:1"
    assert backend.canonical(ts.get_backend("cpu")) == "cpu"
    with pytest.raises(ValueError, match="device: unknown device 'cpu:1'"):
        backend.canonical("cpu:1")
    with pytest.raises(ValueError, match="device: bad device index in 'cuda:x'"):
        backend.canonical("cuda:x")


def test_unknown_device_kind_lists_known_ones():
    with pytest.raises(ValueError, match=r"device: unknown device 'tpu' \(known kinds: .*cpu.*cuda"):
        ts.zeros(2, device="tpu")


def test_cpu_backend_is_numpy_and_shared():
    be = ts.get_backend("cpu")
    assert be.xp is np and be is ts.get_backend("cpu:0") and ts.ones(1).xp is np
    assert ts.get_backend(be) is be
    assert ts.ones(2)._backend is be


def test_cuda_without_its_package_is_a_clear_runtime_error(isolated_devices):
    isolated_devices._factories.pop("cuda", None)
    isolated_devices._backends.pop("cuda:0", None)
    isolated_devices._lazy_modules["cuda"] = "tinyseq_gpu_missing_for_this_test"
    with pytest.raises(RuntimeError, match=r"device 'cuda' needs the tinyseq_gpu_missing_for_this_test package and "
                                           r"CuPy with a working GPU.*pip install 'tinyseq\[gpu\]'"):
        ts.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CuPy"):
        ts.ones(2).to("cuda")
    before = ts.default_device()
    with pytest.raises(RuntimeError, match="CuPy"):
        ts.set_default_device("cuda")
    assert ts.default_device() == before  # a failed switch changes nothing


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_cuda_without_cupy_names_cupy_and_gpu():
    with pytest.raises(RuntimeError, match="CuPy") as info:
        ts.zeros(2, device="cuda")
    assert not isinstance(info.value, ImportError)
    assert "gpu" in str(info.value).lower()


def test_register_device_and_move_between_devices(isolated_devices):
    made = []

    def factory(index):
        made.append(index)
        return backend.Backend(f"mine:{index}", np)

    backend.register_device("mine", factory)
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("mine:1")
    assert y.device == "mine:1" and made == [1] and ts.get_backend("mine:1") is y._backend
    (y * 3).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]
    assert ts.zeros(2, device="mine:1").device == "mine:1" and made == [1]  # built once
    assert y.cpu().device == "cpu"


def test_default_device_is_read_lazily_from_the_environment(isolated_devices, monkeypatch):
    isolated_devices._default[0] = None
    monkeypatch.setenv("TINYSEQ_DEVICE", "cpu")
    assert ts.default_device() == "cpu"
    isolated_devices._default[0] = None
    monkeypatch.setenv("TINYSEQ_DEVICE", "")
    assert ts.default_device() == "cpu"
    backend.register_device("mine", lambda i: backend.Backend(f"mine:{i}", np))
    ts.set_default_device("mine")
    assert ts.default_device() == "mine:0" and ts.zeros(1).device == "mine:0"


def test_manual_seed_covers_every_device(isolated_devices):
    backend.register_device("mine", lambda i: backend.Backend(f"mine:{i}", np))
    ts.manual_seed(5)
    a = (ts.randn(3).numpy(), ts.randn(3, device="mine").numpy(), backend.host_rng().random())
    ts.manual_seed(5)
    b = (ts.randn(3).numpy(), ts.randn(3, device="mine").numpy(), backend.host_rng().random())
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]
    assert not np.array_equal(a[0], a[1])  # each device has its own stream


def test_scatter_add_accumulates_repeated_indices():
    target = np.zeros(4)
    ts.get_backend("cpu").scatter_add(target, np.array([0, 2, 0, 0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert target.tolist() == [8.0, 0.0, 2.0, 0.0]


@pytest.mark.parametrize("shape", [(3, 5), (70, 1000), (2048, 33)])
@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_transpose_into_copies_the_transpose(shape, device):
    """Small arrays take the plain copy, large ones the blocked one (row counts not a
    multiple of the block included)."""
    be = ts.get_backend(device)
    a = np.random.default_rng(0).standard_normal(shape)
    out = be.xp.empty(shape[::-1])
    assert be.transpose_into(out, be.from_host(a)) is out
    assert np.array_equal(be.to_host(out), a.T)


def test_import_is_quiet_and_lazy():
    code = (
        "import sys, tinyseq, tinyseq.nn; "
        "print(sorted(m for m in ('cupy', 'torch', 'tinyseq_gpu') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"TINYSEQ_DEVICE": "no-such-device", "PATH": ""})
    assert out.stdout.strip() == "[]" and out.stderr == ""


@pytest.mark.parametrize("index_range", [(0, 7), (-7, 7)])
def test_scatter_add_of_rows_equals_add_at(index_range):
    """Many rows by one index each (an embedding's backward) take a sort-and-sum path; negative
    indices, which may name a row twice, keep ufunc.at's."""
    rng = np.random.default_rng(0)
    index = rng.integers(*index_range, 200)
    values = rng.standard_normal((200, 3))
    want = rng.standard_normal((7, 3))
    got = want.copy()
    np.add.at(want, index, values)
    backend.get_backend("cpu").scatter_add(got, index, values)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
