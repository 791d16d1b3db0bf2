"""``ts.accelerator``: PyTorch's device-agnostic questions about the accelerator.

    ts.accelerator.is_available()          # True when a CUDA GPU can be used
    ts.accelerator.current_accelerator()   # ts.device("cuda") or None
    ts.accelerator.device_count()

The only accelerator tinyseq drives is CUDA (through CuPy); nothing here
imports CuPy unless asked.
"""

from __future__ import annotations

from . import cuda
from .backend import device


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU) can be used; never raises."""
    return cuda.is_available()


def device_count() -> int:
    return cuda.device_count()


def current_accelerator(check_available: bool = False):
    """``ts.device("cuda")`` when a GPU can be used, else None (as PyTorch with no accelerator)."""
    return device("cuda") if cuda.is_available() else None


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work (see ``ts.cuda.synchronize``)."""
    cuda.synchronize("cuda" if device is None else device)
