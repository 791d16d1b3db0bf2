"""``ts.utils.data``: PyTorch's dataset and loading API.

    from tinyseq.utils.data import DataLoader, TensorDataset, random_split
    train, val = random_split(TensorDataset(x, y), [0.9, 0.1], generator=ts.Generator().manual_seed(0))
    for xb, yb in DataLoader(train, batch_size=32, shuffle=True):
        ...

Batches, orders and collation follow PyTorch's (samples stacked by
``default_collate``; Python floats collate to float64 as in PyTorch). Shuffled
orders come from NumPy's generator, so they differ from PyTorch's numbers but
are fixed by ``ts.manual_seed`` or a ``ts.Generator``. Loading runs in the
calling process: ``num_workers`` and ``pin_memory`` are accepted and have no
effect (a warning says so once). The sequence utilities (sliding windows,
language-model batches, padding) stay in ``ts.data``.
"""

from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "DataLoader", "default_collate", "default_convert", "get_worker_info", "Dataset", "IterableDataset",
    "TensorDataset", "Subset", "ConcatDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
    "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
]  # fmt: skip
