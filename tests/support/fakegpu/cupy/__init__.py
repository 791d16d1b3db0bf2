"""A stand-in for CuPy on the CPU, to dry-run GPU code paths without a GPU.

Put this folder first on the path and the "cuda" device, tinyseq_gpu's
kernels, ``tests/devices/test_gpu.py`` and ``benchmarks/gpu.py`` run on the CPU:

    PYTHONPATH=tests/support/fakegpu:. python tests/devices/test_gpu.py

Arrays are the strict device's (numpy underneath, refusing host arrays the way
CuPy's do); ``ElementwiseKernel`` bodies run through the kernel emulator;
``cuda.runtime`` reports one GPU. It checks plumbing and arithmetic, not
speed: timings taken through it mean nothing.
"""

import ctypes
import sys
import types
from pathlib import Path

import numpy as np

from tinyseq.devices import strict as _strict

# The kernel emulator sits two folders up, in tests/support, beside the tests that use it
# directly; this folder alone on PYTHONPATH is enough to make the fake importable.
_SUPPORT = str(Path(__file__).resolve().parents[2])
if _SUPPORT not in sys.path:
    sys.path.append(_SUPPORT)
from kernel_emulator import ElementwiseEmulator, xent_forward  # noqa: E402

__version__ = "0.0-fake"


class _Device:
    """cupy.cuda.Device: a context manager naming a GPU by ``id``."""

    def __init__(self, device=0):
        self.id = int(device)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def use(self):
        pass

    def __repr__(self):
        return f"<fake CUDA Device {self.id}>"


class _OneRankNccl:
    """cupy.cuda.nccl for a world of one rank (all the fake GPU has): collectives copy at most."""

    _SIZES = {0: 1, 1: 1, 2: 4, 3: 8, 6: 2, 7: 4, 8: 8}  # NCCL's type codes -> bytes per element
    NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_INT64, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 0, 1, 2, 4, 6, 7, 8
    NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
    available = True

    @staticmethod
    def get_unique_id():
        return tuple(range(128))

    class NcclCommunicator:
        def __init__(self, ndev, uid, rank):
            if ndev != 1 or rank != 0:
                raise RuntimeError(f"fake NCCL: one rank only, got ndev={ndev}, rank={rank}")

        def allReduce(self, send, recv, count, dtype, op, stream):
            if send != recv:
                ctypes.memmove(recv, send, count * _OneRankNccl._SIZES[dtype])

        def bcast(self, buf, count, dtype, root, stream):
            pass

        def allGather(self, send, recv, count, dtype, stream):
            ctypes.memmove(recv, send, count * _OneRankNccl._SIZES[dtype])

        def destroy(self):
            pass


_nccl = _OneRankNccl()


# A CuPy array names its GPU with a Device object; so do these, in this process.
_strict.StrictArray.device = property(lambda self: _Device(0))

# ... and name their memory by address (what NCCL is handed).
_strict.StrictArray.data = property(lambda self: types.SimpleNamespace(ptr=self._a.ctypes.data))

ndarray = _strict.StrictArray
ElementwiseKernel = ElementwiseEmulator
_stream = types.SimpleNamespace(ptr=0, synchronize=lambda: None)
cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    get_current_stream=lambda: _stream,
    nccl=_nccl,
)
sys.modules[__name__ + ".cuda"] = cuda  # so that `from cupy.cuda import nccl` finds the stand-in
random = types.SimpleNamespace(default_rng=lambda seed=None: _strict._Generator(np.random.default_rng(seed)))


def get_default_memory_pool():
    return types.SimpleNamespace(total_bytes=lambda: 0, used_bytes=lambda: 0, free_all_blocks=lambda: None)


def asnumpy(a):
    return a._a.copy() if isinstance(a, ndarray) else np.asarray(a)


class RawKernel:
    def __init__(self, code, name, **kwargs):
        if not name.startswith("xent_fwd"):
            raise NotImplementedError(f"fake cupy: no emulation of raw kernel {name!r}")
        self.name = name

    def __call__(self, grid, block, args, **kwargs):
        xent_forward(grid, block, args)


def __getattr__(name):
    return getattr(_strict.strict_numpy, name)
