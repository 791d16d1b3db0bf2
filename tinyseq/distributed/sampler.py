"""Splitting data between ranks: ``DistributedSampler`` for datasets of samples,
``shard_streams`` for the parallel token streams of truncated BPTT."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._tensor import Tensor
from . import group as _group


def _world(num_replicas, rank, name):
    if num_replicas is None or rank is None:
        if not _group.is_initialized():
            raise RuntimeError(
                f"{name}: pass num_replicas and rank, or call ts.distributed.init_process_group() first"
            )
        num_replicas = _group.get_world_size() if num_replicas is None else num_replicas
        rank = _group.get_rank() if rank is None else rank
    for key, v in (("num_replicas", num_replicas), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name}: {key} must be an integer, got {v!r}")
    if num_replicas < 1:
        raise ValueError(f"{name}: num_replicas must be at least 1, got {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"{name}: invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
    return int(num_replicas), int(rank)


class DistributedSampler:
    """The indices of ``dataset`` that this rank trains on, a disjoint share per rank.

    PyTorch's semantics: each epoch every rank draws the same permutation (from
    ``seed + epoch``; call ``set_epoch(epoch)`` before each epoch, else every epoch
    repeats the order), pads it by repeating its start so it divides evenly (or,
    with ``drop_last``, cuts the tail), and takes every ``num_replicas``-th index from
    position ``rank``. ``len()`` is the count per rank. num_replicas and rank default
    to the default process group's. Use it as ``DataLoader(dataset, sampler=...)``."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):  # fmt: skip
        self.num_replicas, self.rank = _world(num_replicas, rank, "DistributedSampler")
        self.dataset, self.shuffle, self.seed, self.drop_last = dataset, shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's permutation (the same on every rank, different per epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:  # repeat the start of the order until it divides evenly
            order = np.concatenate([order] * math.ceil(self.total_size / n))[: self.total_size]
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())


def shard_streams(data: Tensor, num_replicas: int | None = None, rank: int | None = None) -> Tensor:
    """This rank's columns of ``batchify`` output: ``(T, B, *)`` -> ``(T, B // num_replicas, *)``.

    Rank r takes the contiguous columns ``[r*k, (r+1)*k)``, k = B // num_replicas, so the
    ranks together hold every stream once; each rank carries its own recurrent state
    through ``bptt_chunks``. B must divide evenly (so that averaging every rank's
    mean loss is the mean loss over all B streams). Example: batchify the corpus with
    ``batch_size = per_rank * world_size``, then ``shard_streams(batched)``."""
    num_replicas, rank = _world(num_replicas, rank, "shard_streams")
    if not isinstance(data, Tensor) or data.ndim < 2:
        got = data.shape if isinstance(data, Tensor) else type(data).__name__
        raise ValueError(f"shard_streams: data must be a (T, B, ...) tensor as batchify returns, got {got}")
    B = data.shape[1]
    if B % num_replicas:
        raise ValueError(
            f"shard_streams: {B} streams (data of shape {data.shape}) do not split evenly between "
            f"{num_replicas} ranks; batchify with a batch size that is a multiple of {num_replicas}"
        )
    k = B // num_replicas
    part = data._data[:, rank * k : (rank + 1) * k]
    return Tensor._make(data.xp.ascontiguousarray(part), data._backend)
