"""The "cuda" device: CuPy arrays on an NVIDIA GPU.

CuPy is imported when the first "cuda" tensor is made, never at
``import tinyseq``. Without CuPy, or with CuPy but no usable GPU, making the
device raises one RuntimeError that names what is missing and how to get it.
"""

from __future__ import annotations

import numpy as np

from tinyseq.backend import Backend

INSTALL = 'pip install "tinyseq[gpu]"'
_WHEELS = "cupy-cuda12x for CUDA 12 drivers, cupy-cuda13x (the gpu-cuda13 extra) for CUDA 13; see `nvidia-smi`"


def _import_cupy(device: str):
    try:
        import cupy
        import cupyx  # noqa: F401  (scatter_add)
    except ImportError as e:
        raise RuntimeError(
            f"device {device!r} needs CuPy, which is not installed ({e}). Install it with: {INSTALL} "
            f"(or the CuPy wheel for your CUDA version: {_WHEELS})"
        ) from None
    return cupy


def device_count() -> int:
    """CUDA GPUs CuPy can use; 0 when CuPy, the driver or a GPU is missing (never raises)."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, CUDARuntimeError (no driver / no device), a broken install
        return 0


def make_backend(index: int) -> CudaBackend:
    """Factory registered for the "cuda" kind: the backend of "cuda:<index>"."""
    name = f"cuda:{index}"
    cupy = _import_cupy(name)
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as e:
        raise RuntimeError(
            f"device {name!r}: CuPy {cupy.__version__} is installed but finds no usable CUDA GPU ({e}). "
            f"Check that `nvidia-smi` lists a GPU and that the CuPy wheel matches the driver ({_WHEELS})"
        ) from None
    if count == 0:
        raise RuntimeError(f"device {name!r}: CuPy {cupy.__version__} is installed but this machine has no CUDA GPU")
    if index >= count:
        raise RuntimeError(f"device {name!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    return CudaBackend(cupy, index)


class _Guarded:
    """A CuPy callable (function or ufunc, with its ``.at``/``.reduce``) run with ``device`` current."""

    def __init__(self, fn, device):
        self._fn = fn
        self._device = device

    def __call__(self, *args, **kwargs):
        with self._device:
            return self._fn(*args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._fn, name)
        return _Guarded(attr, self._device) if callable(attr) and not isinstance(attr, type) else attr


class _OnDevice:
    """``cupy`` with every function call made while GPU ``device`` is current.

    CuPy allocates on the *current* GPU; for "cuda:1" the ops' ``xp.zeros(...)``
    must land on GPU 1 whatever is current."""

    def __init__(self, cupy, device):
        self._cupy = cupy
        self._device = device

    def __getattr__(self, name):
        obj = getattr(self._cupy, name)
        if callable(obj) and not isinstance(obj, type):
            obj = _Guarded(obj, self._device)
        setattr(self, name, obj)
        return obj


class _DeviceGenerator:
    """A CuPy Generator whose draws run with its GPU current."""

    def __init__(self, generator, device):
        self._gen = generator
        self._device = device

    def __getattr__(self, name):
        attr = getattr(self._gen, name)
        return _Guarded(attr, self._device) if callable(attr) else attr


class CudaBackend(Backend):
    """One GPU: ``xp`` is cupy, ``rng`` a CuPy Generator seeded by ``ts.manual_seed``.

    ``kernels`` holds the CUDA kernels of ``tinyseq_gpu.kernels`` (LSTM/GRU/RNN
    cells, softmax cross-entropy); clear it to run the composed array code
    instead (for comparisons).

    "cuda:N" allocates, copies, draws and runs its fused kernels on GPU N.
    Array arithmetic runs on CuPy's *current* GPU, which
    ``ts.set_default_device("cuda:N")`` makes GPU N; a tensor on another GPU
    still works where CuPy can reach it (peer access)."""

    def __init__(self, cupy, index: int):
        import cupyx

        self.cupy = cupy
        self.index = index
        self.device = cupy.cuda.Device(index)
        self._scatter_add = getattr(cupyx, "scatter_add", None)
        # GPU 0 is the current GPU unless the user changed it; any other index needs the guard
        xp = cupy if index == 0 else _OnDevice(cupy, self.device)
        super().__init__(f"cuda:{index}", xp)
        from .kernels import kernel_table

        self.kernels = kernel_table()
        if index != 0:
            self.kernels = {k: tuple(_Guarded(f, self.device) for f in pair) for k, pair in self.kernels.items()}

    def make_rng(self, seed: int):
        with self.device:
            gen = self.cupy.random.default_rng(seed)
        return gen if self.index == 0 else _DeviceGenerator(gen, self.device)

    def asarray(self, data, dtype=None):
        with self.device:
            return self.cupy.asarray(data, dtype=dtype)

    def from_host(self, array):
        with self.device:
            return self.cupy.asarray(array)

    def to_host(self, array) -> np.ndarray:
        return self.cupy.asnumpy(array)

    def owns(self, array) -> bool:
        return isinstance(array, self.cupy.ndarray) and array.device.id == self.index

    def synchronize(self) -> None:
        self.device.synchronize()

    def transpose_into(self, out, a):
        out[...] = a.T  # one kernel; the host's blocking would only add launches
        return out

    def activate(self) -> None:
        self.device.use()

    def scatter_add(self, target, index, values) -> None:
        with self.device:
            if self._scatter_add is not None:
                self._scatter_add(target, index, values)
            else:
                self.cupy.add.at(target, index, values)
