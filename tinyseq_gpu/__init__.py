"""tinyseq on NVIDIA GPUs: registers the "cuda" device (CuPy arrays).

Nothing here needs importing by hand: ``tinyseq`` imports this package the
first time a tensor asks for "cuda" (``device="cuda"``, ``.to("cuda")``,
``ts.set_default_device("cuda")``, ``TINYSEQ_DEVICE=cuda``). Importing it
does not import CuPy; making the device does, and fails with one clear
RuntimeError when CuPy or a GPU is missing.

    pip install "tinyseq[gpu]"

Fused CUDA kernels (``tinyseq_gpu.kernels``) replace the array code of the
fused ops (LSTM/GRU/RNN cell steps, softmax cross-entropy) on this device;
the autograd graph is the same on every device.
"""

from tinyseq.backend import register_device

from .backend import INSTALL, CudaBackend, device_count, make_backend

register_device("cuda", make_backend)

__all__ = ["CudaBackend", "device_count", "make_backend", "INSTALL"]
