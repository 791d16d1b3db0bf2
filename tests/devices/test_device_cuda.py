"""The "cuda" device where there is no GPU: one clear error, never a crash at import.

(With a GPU, tests/devices/test_gpu.py checks the device itself.)"""

import sys
import types

import pytest

import tinyseq as ts
import tinyseq_gpu
from tinyseq import backend


@pytest.fixture
def uncached(monkeypatch):
    """Forget "cuda" backends already made (on a GPU machine), so each test builds its own."""
    for name in [k for k in backend._backends if k.startswith("cuda")]:
        monkeypatch.delitem(backend._backends, name)
    monkeypatch.setattr(backend, "_default", [None])
    monkeypatch.setattr(backend, "_chosen", backend._PerThreadDevice())


@pytest.fixture
def fake_cupy(monkeypatch, uncached):
    """Install a stand-in ``cupy`` whose runtime reports ``count`` GPUs or raises."""

    def install(count=None, error=None):
        def get_count():
            if error is not None:
                raise error
            return count

        runtime = types.SimpleNamespace(getDeviceCount=get_count)
        cupy = types.ModuleType("cupy")
        cupy.__version__ = "0.0-test"
        cupy.cuda = types.SimpleNamespace(runtime=runtime)
        monkeypatch.setitem(sys.modules, "cupy", cupy)
        monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))

    return install


def test_without_cupy_the_error_names_it_and_the_install_command(monkeypatch, uncached):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    hint = r"device 'cuda:0' needs CuPy, which is not installed .*pip install \"tinyseq\[gpu\]\""
    with pytest.raises(RuntimeError, match=hint):
        ts.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"device 'cuda:1' needs CuPy"):
        ts.tensor([1.0]).to("cuda:1")
    with pytest.raises(RuntimeError, match="needs CuPy"):
        ts.set_default_device("cuda")
    assert ts.default_device() == "cpu"  # a failed switch leaves the default alone
    assert not ts.cuda.is_available() and ts.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="needs CuPy"):
        ts.cuda.synchronize()


def test_cupy_without_a_gpu_says_so(fake_cupy):
    fake_cupy(error=RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected"))
    msg = r"CuPy 0.0-test is installed but finds no usable CUDA GPU \(cudaErrorNoDevice"
    with pytest.raises(RuntimeError, match=msg):
        ts.zeros(2, device="cuda")
    assert ts.cuda.device_count() == 0 and not ts.cuda.is_available()


def test_zero_gpus_and_a_missing_index(fake_cupy):
    fake_cupy(count=0)
    with pytest.raises(RuntimeError, match="CuPy 0.0-test is installed but this machine has no CUDA GPU"):
        ts.ones(1, device="cuda")
    fake_cupy(count=2)
    assert ts.cuda.device_count() == 2 and ts.cuda.is_available()
    with pytest.raises(RuntimeError, match=r"device 'cuda:3': this machine has 2 CUDA GPU\(s\), cuda:0 to cuda:1"):
        ts.ones(1, device="cuda:3")


def test_importing_tinyseq_does_not_import_cupy():
    import subprocess

    code = "import sys, tinyseq, tinyseq.cuda; print('cupy' in sys.modules, 'tinyseq_gpu' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False"], r.stderr


def test_cuda_device_names_and_registration():
    assert backend.canonical("cuda") == "cuda:0" and backend.canonical("cuda:2") == "cuda:2"
    assert backend.canonical(types.SimpleNamespace(id=1)) == "cuda:1"  # cupy.cuda.Device(1), an array's .device
    assert backend._factories["cuda"] is tinyseq_gpu.make_backend
    with pytest.raises(ValueError, match="device: bad device index in 'cuda:x'"):
        ts.zeros(1, device="cuda:x")


def test_a_second_gpu_allocates_and_draws_on_itself(monkeypatch):
    """ "cuda:1": every xp function, copy and random draw runs with GPU 1 current."""
    current, calls = [0], []

    class Device:
        def __init__(self, index):
            self.id = index

        def __enter__(self):
            current.append(self.id)

        def __exit__(self, *exc):
            current.pop()

    def record(name):
        return lambda *args, **kwargs: calls.append((name, current[-1]))

    rng = types.SimpleNamespace(standard_normal=record("standard_normal"))

    class Ufunc:  # like cupy.add: callable, with methods
        __call__ = staticmethod(record("add"))
        at = staticmethod(record("add.at"))

    add = Ufunc()
    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(Device=Device), random=types.SimpleNamespace(default_rng=lambda seed: rng),
        zeros=record("zeros"), asarray=record("asarray"), ndarray=object, add=add,
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))
    be = tinyseq_gpu.CudaBackend(fake, 1)
    be.xp.zeros((2,))
    be.from_host(None)
    be.rng.standard_normal((2,))
    be.xp.add.at(None, None, None)  # ufunc methods keep the guard
    assert be.name == "cuda:1"
    assert calls == [("zeros", 1), ("asarray", 1), ("standard_normal", 1), ("add.at", 1)]
    assert current == [0]
