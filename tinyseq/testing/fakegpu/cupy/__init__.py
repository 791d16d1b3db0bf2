"""A stand-in for CuPy on the CPU, to dry-run GPU code paths without a GPU.

Put this folder first on the path and the "cuda" device, tinyseq_gpu's
kernels, ``tests/test_gpu.py`` and ``benchmarks/gpu.py`` run on the CPU:

    PYTHONPATH=tinyseq/testing/fakegpu:. python tests/test_gpu.py

Arrays are the strict device's (numpy underneath, refusing host arrays the way
CuPy's do); ``ElementwiseKernel`` bodies run through the kernel emulator;
``cuda.runtime`` reports one GPU. It checks plumbing and arithmetic, not
speed: timings taken through it mean nothing.
"""

import types

import numpy as np

from tinyseq.testing import strict_device as _strict
from tinyseq.testing.kernel_emulator import ElementwiseEmulator, xent_forward

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


# A CuPy array names its GPU with a Device object; so do these, in this process.
_strict.StrictArray.device = property(lambda self: _Device(0))

ndarray = _strict.StrictArray
ElementwiseKernel = ElementwiseEmulator
cuda = types.SimpleNamespace(Device=_Device, runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
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
