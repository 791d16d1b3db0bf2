"""``ts.cuda``: ask about NVIDIA GPUs without importing CuPy at ``import tinyseq``.

    ts.cuda.is_available()     # True when CuPy imports and sees at least one GPU
    ts.cuda.device_count()     # 0 without CuPy or a GPU
    ts.cuda.synchronize()      # wait for queued GPU work (for timing)
    ts.cuda.manual_seed_all(0) # PyTorch's spelling; ts.manual_seed already seeds every device

The device itself ("cuda", "cuda:1") comes from the ``tinyseq_gpu`` package,
imported the first time a tensor asks for it.
"""

from __future__ import annotations

from .backend import get_backend
from .backend import manual_seed as _seed_all


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


def manual_seed(seed: int) -> None:
    """Seed the random draws; as ``ts.manual_seed``, it seeds every device (the GPUs' streams
    are derived from the seed and the device's name)."""
    _seed_all(seed)


manual_seed_all = manual_seed


def empty_cache() -> None:
    """Hand the GPU memory that CuPy keeps for reuse back to the driver (nothing without a GPU)."""
    if device_count() > 0:
        get_backend("cuda").xp.get_default_memory_pool().free_all_blocks()  # xp is CuPy there
