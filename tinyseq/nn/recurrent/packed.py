"""PyTorch's packed sequences (public as ``ts.nn.utils.rnn``), for code written against them.

tinyseq's recurrent layers take ``lengths=`` directly; these functions keep
PyTorch code working unchanged. A ``PackedSequence`` holds the valid steps of a
batch of variable-length sequences, time-major, longest sequences first:

    data            (sum of lengths, *): step 0 of every sequence, then step 1 of
                    those at least 2 long, ...
    batch_sizes     (T,) int64 on the CPU: how many sequences are at least t + 1 long
    sorted_indices  (B,) the original batch index of each packed row (None when the
                    batch was already sorted), unsorted_indices its inverse

A recurrent layer given a PackedSequence returns its output as one, with the same
batch_sizes and indices, and ``h_n`` in the original batch order (as PyTorch does).
Everything here is differentiable through ``data``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import ops
from ..._tensor import Tensor
from ...backend import get_backend
from ...data import pad_sequences
from ...dtypes import check_fill

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence"]


class PackedSequence(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data`` (and the indices) moved or cast; batch_sizes stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        move = (lambda t: t if t is None else t.to(data.device))  # noqa: E731
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))


def _host_lengths(lengths, name):
    host = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    if host.ndim != 1 or host.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be a 1-D sequence of integers, got {host.tolist()!r}")
    return host.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of the
    given lengths. With ``enforce_sorted`` the lengths must not increase; without it
    the batch is sorted here and the order kept in sorted/unsorted_indices."""
    host = _host_lengths(lengths, "pack_padded_sequence")
    x = input.transpose(0, 1) if batch_first else input
    T, B = x.shape[:2]
    if host.shape != (B,):
        raise ValueError(f"pack_padded_sequence: {len(host)} lengths for a batch of {B} (input {input.shape})")
    if (host < 1).any() or (host > T).any():
        raise ValueError(f"pack_padded_sequence: lengths must be in [1, {T}], got {host.tolist()}")
    sorted_indices = unsorted_indices = None
    if enforce_sorted:
        if (np.diff(host) > 0).any():
            raise ValueError(
                "pack_padded_sequence: lengths must be sorted in decreasing order when enforce_sorted=True, "
                f"got {host.tolist()}; pass enforce_sorted=False to sort them here"
            )
    else:
        order = np.argsort(-host, kind="stable")
        host = host[order]
        be = x._backend
        sorted_indices = Tensor._make(be.from_host(order), be)
        unsorted_indices = Tensor._make(be.from_host(np.argsort(order)), be)
        x = x.index_select(1, sorted_indices)
    batch_sizes = (host[None, :] > np.arange(host[0])[:, None]).sum(axis=1)
    data = _pack_sorted(x, batch_sizes)
    batch_sizes = Tensor._make(batch_sizes.astype(np.int64), get_backend("cpu"))
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence -> (padded (T, B, *) or (B, T, *), lengths
    (B,) int64 on the CPU), in the original batch order. ``total_length`` pads T further."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy().astype(np.int64)
    T, B = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is less than the longest length {T}")
        T = total_length
    steps = ops.split(data, [int(n) for n in batch_sizes], dim=0) if len(batch_sizes) > 1 else [data]
    tail = data.shape[1:]
    rows = []
    for n, step in zip(batch_sizes, steps):
        rows.append(step if n == B else ops.cat([step, _full((B - int(n),) + tail, padding_value, data)], dim=0))
    rows += [_full((B,) + tail, padding_value, data)] * (T - len(batch_sizes))
    padded = ops.stack(rows, dim=0)
    lengths = (batch_sizes[None, :] > np.arange(B)[:, None]).sum(axis=1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor._make(lengths.astype(np.int64), get_backend("cpu"))


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """A list of (L_i, *) tensors -> one padded (max L, B, *) tensor ((B, max L, *) with
    batch_first); see ``ts.data.pad_sequences`` for the lengths too."""
    return pad_sequences(sequences, batch_first=batch_first, padding_value=padding_value)[0]


def pack_sequence(sequences, enforce_sorted=True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors (longest first, unless enforce_sorted=False)."""
    padded, lengths = pad_sequences(sequences)
    return pack_padded_sequence(padded, lengths, enforce_sorted=enforce_sorted)


def _full(shape, value, like):
    check_fill(value, like.dtype, "pad_packed_sequence")
    return Tensor._make(like.xp.full(shape, value, dtype=like.dtype), like._backend)


def _pack_sorted(x, batch_sizes):
    """x (T, B, *) already in packed (sorted) order -> data (sum of batch_sizes, *)."""
    return ops.cat([x[t, : int(n)] for t, n in enumerate(batch_sizes)], dim=0)


def forward_packed(layer, sequence, hx):
    """A recurrent layer on a PackedSequence: unpack, run with lengths, pack the output
    in the input's own layout. -> (PackedSequence, h_n or (h_n, c_n))."""
    padded, lengths = pad_packed_sequence(sequence)  # time-major, original batch order
    out, state = layer.forward(padded.transpose(0, 1) if layer.batch_first else padded, hx, lengths=lengths)
    out = out.transpose(0, 1) if layer.batch_first else out
    if sequence.sorted_indices is not None:
        out = out.index_select(1, sequence.sorted_indices)
    data = _pack_sorted(out, sequence.batch_sizes.numpy())
    return PackedSequence(data, sequence.batch_sizes, sequence.sorted_indices, sequence.unsorted_indices), state
