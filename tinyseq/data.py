"""Sequence data: sliding windows for forecasting, language-model batching with
truncated-BPTT chunks, padding with lengths, and a minibatch loader.

Inputs may be numpy arrays, nested lists or tensors. Numpy arrays and tensors
keep their dtype (a float64 numpy series gives float64 tensors; pass
``dtype=ts.float32`` where offered, or convert, to train in float32); lists
follow ``ts.tensor``'s rules (Python floats -> float32, ints -> int64).
Tensors keep their device; everything else lands on the default device.
Results are data, cut from any graph, except ``pad_sequences``, which is
differentiable so padded activations can carry gradients.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import ops
from ._tensor import Tensor, as_dtype, check_fill
from .autograd import is_grad_enabled
from .backend import get_backend, host_rng
from .utils.data.dataset import TensorDataset, as_tensor


def _tensor(x, name: str, dtype=None) -> Tensor:
    """x as a tensor cut from any graph (no copy for tensors already of the dtype)."""
    t = as_tensor(x, name)
    dtype = as_dtype(dtype)
    if dtype is not None and t.dtype != dtype:
        t = Tensor._make(t._data.astype(dtype), t._backend)
    return t


def _positive(name: str, **sizes) -> None:
    for key, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{name}: {key} must be a positive integer, got {v!r}")


# -- forecasting --------------------------------------------------------------------------
def sliding_window(series, window: int, horizon: int = 1, stride: int = 1, dtype=None):
    """Cut a series into (past ``window`` steps -> next ``horizon`` steps) training pairs.

    series: ``(T,)`` or ``(T, F)``; a 1-D series is one feature (F = 1).
    Returns ``(inputs, targets)``: inputs ``(N, window, F)``, targets ``(N, horizon, F)``,
    with N = (T - window - horizon) // stride + 1. Window i starts at step
    ``i * stride``; its targets are the ``horizon`` steps right after it.
    Targets are 3-D even for horizon=1, so one rule fits every horizon; a one-step
    model that outputs ``(N, F)`` compares with ``targets[:, 0]``.

    Example, T=6, window=3, horizon=1::

        x, y = sliding_window(np.arange(6.0), window=3)
        x[..., 0] -> [[0, 1, 2], [1, 2, 3], [2, 3, 4]]      x: (3, 3, 1)
        y[..., 0] -> [[3], [4], [5]]                        y: (3, 1, 1)

    Inputs are batch-first: feed them to recurrent layers built with batch_first=True.
    """
    s = _tensor(series, "sliding_window", dtype)
    if s.ndim not in (1, 2):
        raise ValueError(f"sliding_window: series must have shape (T,) or (T, F), got {s.shape}")
    _positive("sliding_window", window=window, horizon=horizon, stride=stride)
    T = s.shape[0]
    if window + horizon > T:
        raise ValueError(
            f"sliding_window: a series of length {T} (shape {s.shape}) is too short for window={window} "
            f"plus horizon={horizon}; it needs at least {window + horizon} steps"
        )
    xp = s.xp
    x = s._data if s.ndim == 2 else s._data[:, None]
    starts = xp.arange(0, T - window - horizon + 1, stride)[:, None]
    inputs = x[starts + xp.arange(window)]
    targets = x[starts + window + xp.arange(horizon)]
    return Tensor._make(inputs, s._backend), Tensor._make(targets, s._backend)


# -- language modelling ------------------------------------------------------------------
def batchify(ids, batch_size: int) -> Tensor:
    """Lay a token stream out as ``batch_size`` contiguous streams side by side.

    ids: ``(N,)`` token ids. Returns ``(T, batch_size)`` with T = N // batch_size;
    column b holds tokens ``ids[b*T : (b+1)*T]`` in order, and the last
    ``N % batch_size`` tokens are dropped. Because each column is one continuous
    stream, a recurrent net's hidden state at the end of one ``bptt_chunks``
    chunk is the right start for the next. Example::

        batchify([0, 1, 2, 3, 4, 5, 6], 2) -> [[0, 3], [1, 4], [2, 5]]
    """
    t = _tensor(ids, "batchify")
    if t.ndim != 1:
        raise ValueError(f"batchify: ids must be a 1-D stream of shape (N,), got {t.shape}")
    _positive("batchify", batch_size=batch_size)
    n = t.shape[0] // batch_size
    if n == 0:
        raise ValueError(
            f"batchify: {t.shape[0]} tokens cannot fill batch_size={batch_size} streams (need at least {batch_size})"
        )
    data = t._data[: n * batch_size].reshape(batch_size, n).T
    return Tensor._make(t.xp.ascontiguousarray(data), t._backend)


class bptt_chunks:
    """Iterate over ``(input, target)`` chunks of ``seq_len`` steps for truncated BPTT.

    data: ``(T, B, *)``, e.g. from ``batchify``. Chunk k covers steps
    ``[k*seq_len, k*seq_len + L)`` as input and the same steps shifted by one as
    target, both ``(L, B, *)``; L = seq_len except for a shorter last chunk, and
    the last target step is ``data[T-1]``. ``len()`` gives the number of chunks.
    Detach the hidden state between chunks to truncate backpropagation. Example,
    ``data[:, 0] = [0 .. 6]``, seq_len=3: inputs ``[0,1,2]``, ``[3,4,5]``; targets
    ``[1,2,3]``, ``[4,5,6]``.
    """

    def __init__(self, data, seq_len: int):
        t = _tensor(data, "bptt_chunks")
        if t.ndim < 2:
            raise ValueError(f"bptt_chunks: data must have shape (T, B, ...) as batchify returns, got {t.shape}")
        _positive("bptt_chunks", seq_len=seq_len)
        if t.shape[0] < 2:
            raise ValueError(f"bptt_chunks: data of shape {t.shape} has fewer than 2 steps; no input/target pair")
        self.data, self.seq_len = t, seq_len

    def __len__(self) -> int:
        return math.ceil((self.data.shape[0] - 1) / self.seq_len)

    def __iter__(self):
        a, be = self.data._data, self.data._backend
        last = a.shape[0] - 1
        for i in range(0, last, self.seq_len):
            n = min(self.seq_len, last - i)
            yield Tensor._make(a[i : i + n], be), Tensor._make(a[i + 1 : i + 1 + n], be)


# -- variable-length batches ------------------------------------------------------------
def pad_sequences(sequences, batch_first: bool = False, padding_value=0):
    """Stack sequences of different lengths into one padded tensor.

    sequences: a list of ``(L_i, *)`` arrays or tensors with equal trailing shape
    and dtype. Returns ``(padded, lengths)``: padded ``(max L, B, *)`` (or
    ``(B, max L, *)`` with batch_first), positions past a sequence's length set
    to ``padding_value``; lengths ``(B,)`` int64 on the CPU (as the ``lengths=``
    argument of the recurrent layers expects). Differentiable with respect to
    tensor sequences that require grad. Example::

        pad_sequences([[1, 2, 3], [4]]) -> ([[1, 4], [2, 0], [3, 0]], [3, 1])
    """
    seqs = [s if isinstance(s, Tensor) else _tensor(s, "pad_sequences") for s in sequences]
    if not seqs:
        raise ValueError("pad_sequences: got no sequences")
    first = seqs[0]
    for s in seqs:
        if s.ndim == 0 or s.shape[1:] != first.shape[1:] or s.dtype != first.dtype or s._backend is not first._backend:
            desc = ", ".join(f"{x.shape} {x.dtype} on {x.device}" for x in seqs)
            raise ValueError(
                f"pad_sequences: sequences need shape (L_i, *) with the same trailing shape, dtype and device; "
                f"got {desc}"
            )
    check_fill(padding_value, first.dtype, "pad_sequences")
    lengths = [s.shape[0] for s in seqs]
    longest = max(lengths)
    if is_grad_enabled() and any(s.requires_grad for s in seqs):
        pieces = [ops.pad(s, (0, 0) * (s.ndim - 1) + (0, longest - s.shape[0]), value=padding_value) for s in seqs]
        padded = ops.stack(pieces, dim=0 if batch_first else 1)
    else:
        xp = first.xp
        shape = (len(seqs), longest) + first.shape[1:]
        out = xp.full(shape, padding_value, dtype=first.dtype)
        for i, s in enumerate(seqs):
            out[i, : s.shape[0]] = s._data
        if not batch_first:
            out = xp.ascontiguousarray(xp.swapaxes(out, 0, 1))
        padded = Tensor._make(out, first._backend)
    cpu = get_backend("cpu")
    return padded, Tensor._make(np.asarray(lengths, dtype=np.int64), cpu)


# -- minibatches --------------------------------------------------------------------------
def _same_length(name, tensors) -> None:
    for t in tensors:
        if t.ndim == 0 or t.shape[0] != tensors[0].shape[0]:
            shapes = ", ".join(str(x.shape) for x in tensors)
            raise ValueError(f"{name}: every array needs the same first dimension (the sample count), got {shapes}")


class DataLoader:
    """Minibatches over a dataset, optionally reshuffled every epoch.

    dataset:
      - a tensor or array ``(N, *)``: yields tensors ``(batch, *)``;
      - a tuple of tensors/arrays sharing N (or a ``TensorDataset``): yields tuples of tensors;
      - any object with ``__len__`` and ``__getitem__`` (a list of samples, say):
        samples are combined by ``collate_fn`` (default: stack each field).
    Shuffling draws a permutation from ``ts.backend.host_rng()`` at the start of
    each epoch, so ``ts.manual_seed`` fixes the order; every sample appears once
    per epoch. ``drop_last`` drops a final smaller batch. Numpy arrays keep
    their dtype, and their batches go to the default device. ``sampler``: an
    iterable of sample indices with ``len()`` (``ts.distributed.DistributedSampler``
    gives each process its share) used instead of the loader's own order.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn=None, sampler=None):  # fmt: skip
        _positive("DataLoader", batch_size=batch_size)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.sampler = sampler
        self.collate_fn = collate_fn or default_collate
        self._single = isinstance(dataset, (Tensor, np.ndarray))
        if self._single:
            self._arrays = [_source(dataset)]
        elif isinstance(dataset, tuple):
            if not dataset:
                raise ValueError("DataLoader: got an empty tuple of arrays")
            self._arrays = [_source(a) for a in dataset]
        elif isinstance(dataset, TensorDataset):
            self._arrays = list(dataset.tensors)
        else:
            if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
                raise TypeError(
                    f"DataLoader: expected a tensor, an array, a tuple of them, or a dataset with __len__ and "
                    f"__getitem__, got {type(dataset).__name__}"
                )
            self._arrays = None
        if self._arrays is not None:
            for a in self._arrays:
                if a.ndim == 0:
                    raise ValueError(f"DataLoader: arrays need a sample dimension, got shape {tuple(a.shape)}")
            _same_length("DataLoader", self._arrays)
        self._n = len(dataset) if self._arrays is None else self._arrays[0].shape[0]

    def __len__(self) -> int:
        n, b = self._n if self.sampler is None else len(self.sampler), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64)
        else:
            order = host_rng().permutation(self._n) if self.shuffle else np.arange(self._n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            if self._arrays is None:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])
                continue
            batch = tuple(_take(a, idx) for a in self._arrays)
            yield batch[0] if self._single else batch


def _source(a):
    """Tensors and numpy arrays are indexed as they are; lists become tensors once."""
    if isinstance(a, (Tensor, np.ndarray)) and not (isinstance(a, np.ndarray) and a.dtype == object):
        return a.detach() if isinstance(a, Tensor) else a
    return _tensor(a, "DataLoader")


def _take(a, idx):
    if isinstance(a, Tensor):
        return Tensor._make(a._data[a._backend.from_host(idx)], a._backend)
    be = get_backend()
    return Tensor._make(be.from_host(np.ascontiguousarray(a[idx])), be)


def default_collate(samples):
    """Stack a list of samples: tensors/arrays/numbers stack into one tensor
    ``(batch, *)``; tuples and dicts are collated field by field."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Tensor):
        return ops.stack([s.detach() for s in samples])
    if isinstance(first, np.ndarray):
        return Tensor(np.stack(samples))
    return Tensor(list(samples))
