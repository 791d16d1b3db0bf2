"""``ts.cuda``: ask about NVIDIA GPUs without importing CuPy at ``import tinyseq``.

    ts.cuda.is_available()     # True when CuPy imports and sees at least one GPU
    ts.cuda.device_count()     # 0 without CuPy or a GPU
    ts.cuda.synchronize()      # wait for queued GPU work (for timing)

The device itself ("cuda", "cuda:1") comes from the ``tinyseq_gpu`` package,
imported the first time a tensor asks for it.
"""

from __future__ import annotations

from .backend import get_backend


def _gpu_module():
    try:
        import tinyseq_gpu
    except ImportError:  # a broken install: the package ships with tinyseq
        return None
    return tinyseq_gpu


def device_count() -> int:
    """Number of CUDA GPUs CuPy can use (0 without CuPy, a driver or a GPU)."""
    gpu = _gpu_module()
    return 0 if gpu is None else gpu.device_count()


def is_available() -> bool:
    """Whether ``device="cuda"`` will work here; never raises."""
    return device_count() > 0


def synchronize(device="cuda") -> None:
    """Block until every kernel queued on ``device`` has finished.

    Raises the device's RuntimeError (what is missing, how to install it) when
    there is no usable GPU."""
    get_backend(device).synchronize()
