"""``DataLoader`` and the collate functions, as PyTorch's.

A loader reads ``dataset[i]`` for the indices its batch sampler yields and
joins each batch with ``collate_fn``. A ``TensorDataset`` with the default
collate is read a batch at a time (one gather per tensor), which gives the
same batches as stacking the samples one by one, without the per-sample cost.
"""

from __future__ import annotations

import collections.abc
import numbers
import warnings

import numpy as np

from ... import ops
from ..._tensor import Tensor
from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

_warned: set = set()  # the options already warned about, once per process


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=3)


def get_worker_info():
    """None: batches are always loaded in the calling process."""
    return None


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data):
    """What a loader without batching yields: numpy arrays and scalars become tensors,
    containers are converted element by element, everything else is left alone."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else Tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Join a list of samples into a batch, as PyTorch does: tensors and numpy arrays stack
    into ``(batch, *)`` (keeping their dtype and device), Python floats give float64,
    ints int64, bools bool; strings stay as they came; dicts, named tuples, tuples and lists
    are collated field by field (tuples and lists give lists)."""
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return ops.stack(list(batch))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} cannot become tensors")
        return Tensor(np.stack(batch))
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(s) != n for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(f) for f in zip(*batch)]
        return type(elem)(*fields) if _is_namedtuple(elem) else fields
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {type(elem)}"
    )


class DataLoader:
    """Batches from a dataset, as PyTorch's ``DataLoader``.

    dataset: a map-style dataset (``__getitem__`` and ``__len__``: a ``Dataset``, a list
    of samples, ...) or an ``IterableDataset``.
    batch_size: samples per batch (None: yield samples one by one, converted by
    ``default_convert``). shuffle: a new random order every epoch. sampler /
    batch_sampler: the indices (or lists of them) to read, instead of the default
    order. drop_last: drop a last, smaller batch. collate_fn: joins a list of
    samples (default ``default_collate``). generator: the ``ts.Generator`` that
    shuffling draws from. num_workers, pin_memory, timeout, worker_init_fn,
    prefetch_factor, persistent_workers, ...: accepted; loading always runs in the
    calling process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):  # fmt: skip
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}")
        if num_workers > 0:
            _warn_once("num_workers", f"DataLoader: num_workers={num_workers} has no effect; tinyseq loads "
                                      "batches in the calling process")  # fmt: skip
        if pin_memory:
            _warn_once("pin_memory", "DataLoader: pin_memory=True has no effect in tinyseq; batches are moved "
                                     "with .to(device) as usual")  # fmt: skip
        self.dataset, self.num_workers, self.pin_memory, self.timeout = dataset, num_workers, pin_memory, timeout
        self.generator, self.worker_init_fn, self.prefetch_factor = generator, worker_init_fn, prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")  # fmt: skip
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")  # fmt: skip
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")  # fmt: skip
        elif not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            if sampler is None and batch_sampler is None:
                raise TypeError(
                    f"DataLoader: expected a dataset with __getitem__ and __len__ or an IterableDataset, "
                    f"got {type(dataset).__name__}"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")  # fmt: skip
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")  # fmt: skip
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size <= 0):  # fmt: skip
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")  # fmt: skip
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collate = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collate else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # a TypeError for streams without a length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        if type(self.dataset) is TensorDataset and self.collate_fn is default_collate:
            return (self._gather(idx) for idx in self.batch_sampler)
        return (self.collate_fn([self.dataset[i] for i in idx]) for idx in self.batch_sampler)

    def _gather(self, idx):
        """A TensorDataset batch in one indexing per tensor (what stacking its samples gives)."""
        host = np.asarray(idx, dtype=np.int64)
        out = []
        for t in self.dataset.tensors:
            be = t._backend
            out.append(Tensor._make(t._data[be.from_host(host)], be))
        return out

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __repr__(self) -> str:
        return f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size})"

