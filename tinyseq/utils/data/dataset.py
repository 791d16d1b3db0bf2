"""Datasets: PyTorch's ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset`` and ``random_split``."""

from __future__ import annotations

import bisect
import math
import numbers
import warnings

import numpy as np

from ..._tensor import Tensor
from ...backend import host_rng


def as_tensor(x, name: str) -> Tensor:
    """``x`` (a tensor, array or nested list) as a tensor cut from any graph; tensors are not copied."""
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray) and x.dtype == object:
        raise TypeError(f"{name}: object arrays are not supported")
    try:
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: expected an array, tensor or nested list, got {type(x).__name__} ({e})") from None


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i; most also define ``__len__``.
    ``a + b`` chains two datasets (a ``ConcatDataset``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a Dataset subclass must define __getitem__")

    def __add__(self, other) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses define ``__iter__``. A ``DataLoader`` batches
    what it yields, in order (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: an IterableDataset subclass must define __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset: chaining streams with + is not supported; use itertools.chain")


class TensorDataset(Dataset):
    """Samples ``(t0[i], t1[i], ...)`` from tensors (or arrays) sharing their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(as_tensor(t, "TensorDataset") for t in tensors)
        first = self.tensors[0]
        for t in self.tensors:
            if t.ndim == 0 or t.shape[0] != first.shape[0]:
                shapes = ", ".join(str(x.shape) for x in self.tensors)
                raise ValueError(
                    f"TensorDataset: every array needs the same first dimension (the sample count), got {shapes}"
                )

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, list):  # handed on as one list, as PyTorch does
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Map-style datasets one after another: sample i comes from the dataset whose range holds i."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: index {index} is out of range for length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def _split_lengths(n: int, lengths) -> list:
    """PyTorch's rule: counts as given, or fractions of n rounded down with the remainder
    handed out one by one from the first part."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions (PyTorch's test)
        if any(v < 0 or v > 1 for v in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this results in an empty dataset.",
                              stacklevel=3)  # fmt: skip
        return counts
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: the lengths {lengths} sum to {sum(lengths)}, not to the dataset's length {n}"
        )
    return [int(v) for v in lengths]


def random_split(dataset, lengths, generator=None) -> list:
    """Disjoint random ``Subset``s of the given ``lengths`` (counts summing to the dataset's
    length, or fractions summing to 1). The permutation comes from ``generator`` (a
    ``ts.Generator``) or the host generator (``ts.manual_seed``)."""
    counts = _split_lengths(len(dataset), lengths)
    rng = host_rng() if generator is None else generator
    order = np.argsort(rng.random(sum(counts))).tolist()
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, order[start : start + c]))
        start += c
    return out
