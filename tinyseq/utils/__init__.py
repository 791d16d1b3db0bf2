"""``ts.utils``: PyTorch's ``torch.utils`` names that programs use (``ts.utils.data``)."""

from . import data  # noqa: F401
