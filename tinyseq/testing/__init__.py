"""Helpers for testing code that must run on every device, without a GPU.

- ``strict_device``: the "strict" device (``device="strict"``, registered the
  first time it is named): numpy underneath, but its arrays refuse to mix with
  host arrays the way CuPy's do, so device bugs show up on any machine.
- ``kernel_emulator``: runs the CUDA kernel bodies of ``tinyseq_gpu.kernels``
  with numpy, to check their arithmetic and plumbing on the CPU.
- ``fakegpu/``: a stand-in ``cupy`` package built from the two; with that
  folder first on PYTHONPATH, ``device="cuda"`` (the real ``tinyseq_gpu``
  code, its kernels emulated) runs on the CPU. Used to dry-run the GPU tests,
  the GPU benchmark and every example's ``--device cuda`` path.
"""
