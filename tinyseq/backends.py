"""``ts.backends``: the switches PyTorch programs set or ask about, for ones that
test ``torch.backends.mps.is_available()`` or set ``torch.backends.cudnn.deterministic``.

tinyseq has no MPS device and does not use cuDNN: ``mps.is_available()`` is
False and the cuDNN flags are accepted and change nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = SimpleNamespace(enabled=True, deterministic=False, benchmark=False, is_available=lambda: False)
