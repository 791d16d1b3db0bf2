"""Sampling: indices drawn from categorical distributions (``ts.multinomial``)."""

from __future__ import annotations

import numpy as np

from ..._tensor import Tensor


def multinomial(input, num_samples, replacement=False) -> Tensor:
    """Indices drawn from the categorical distributions in the rows of ``input`` (C,) or
    (N, C) (non-negative weights, not necessarily normalised), ``num_samples`` per row:
    with replacement by inverse CDF, without by the Gumbel-top-k trick (each draw
    removes its category). From the device's generator (seeded by ``manual_seed``)."""
    probs = input._data
    if probs.ndim not in (1, 2) or probs.shape[-1] == 0:
        raise ValueError(f"multinomial: expects a (C,) or (N, C) tensor of weights, got shape {input.shape}")
    if not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    be, xp = input._backend, input.xp
    rows = probs.reshape(-1, probs.shape[-1]).astype(np.float64)
    if bool((rows < 0).any()) or not bool(xp.isfinite(rows).all()) or bool((rows.sum(axis=1) <= 0).any()):
        raise ValueError("multinomial: weights must be finite, non-negative, and sum to more than 0 in every row")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with fewer "
            "categories of non-zero weight"
        )
    if replacement:
        # inverse CDF: row r's normalised CDF shifted to [r, r + 1], so that one
        # searchsorted over all rows finds every draw's category
        n, C = rows.shape
        cdf = xp.cumsum(rows, axis=1)
        shift = xp.arange(n, dtype=np.float64)[:, None]
        cdf = cdf / cdf[:, -1:] + shift
        u = be.rng.random((n, num_samples)) + shift
        out = xp.searchsorted(cdf.ravel(), u.ravel(), side="right").reshape(n, num_samples)
        out = xp.minimum(out - (shift * C).astype(np.int64), C - 1)  # a total rounded below 1
    else:
        with np.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(be.rng.random(rows.shape)))
        out = xp.argsort(-keys, axis=1)[:, :num_samples]
    out = out.astype(np.int64)
    return Tensor._make(out if probs.ndim == 2 else out[0], be)

