"""``ts.Generator``: PyTorch's seeded host random stream, for samplers, splits and randperm."""

from __future__ import annotations

import numpy as np

from .backend import _DEFAULT_SEED, canonical, get_backend


class Generator:
    """PyTorch's ``torch.Generator`` for host-side draws: a seeded stream of its own, for
    ``random_split``, ``RandomSampler``, ``DataLoader(generator=...)`` and ``randperm``.

        g = ts.Generator().manual_seed(42)

    Its draws are NumPy's (PCG64), so the numbers differ from PyTorch's; a seed
    still fixes them run to run."""

    def __init__(self, device="cpu"):
        if canonical(device) != "cpu":
            raise RuntimeError(f"Generator: only cpu generators exist, got device {device!r}")
        self.device = get_backend("cpu").device_name
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63))).initial_seed()

    def initial_seed(self) -> int:
        return self._seed

    def random(self, size):
        """Uniform draws in [0, 1) (what a backend's generator offers)."""
        return self.rng.random(size)
