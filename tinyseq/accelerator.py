"""``ts.accelerator``: PyTorch's device-agnostic questions about the current accelerator.

    device = ts.accelerator.current_accelerator() if ts.accelerator.is_available() else "cpu"
"""

from __future__ import annotations

from . import cuda


def is_available() -> bool:
    """Whether an accelerator (here: a CUDA GPU that CuPy can use) is available; never raises."""
    return cuda.is_available()


def device_count() -> int:
    """Number of accelerators (CUDA GPUs) available."""
    return cuda.device_count()


def current_accelerator(check_available: bool = False):
    """The accelerator device ("cuda"), or None when ``check_available`` and there is none."""
    if check_available and not is_available():
        return None
    from . import tensor  # ts.device, where this version has it; otherwise the device's name

    make = getattr(tensor, "device", None)
    return make("cuda") if isinstance(make, type) else "cuda"
