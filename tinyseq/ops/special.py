"""Special functions as primitives: erf (for the exact GELU).

NumPy has no erf, so it is computed here through ``xp`` to float64 accuracy
(about 1e-15 absolute): below |x| = 2 by the all-positive series

    erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1 * 3 * ... * (2n+1))

(no cancellation, so every term keeps full precision), and from |x| = 2 up by
erfc's continued fraction

    erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))

evaluated bottom-up to a fixed depth. Both run on the whole array with the
argument clipped into their range, so there are no data-dependent branches.
"""

from __future__ import annotations

import math

from ..autograd import Function

_CUT = 2.0  # series below, continued fraction from here
_SERIES_TERMS = 32  # enough for |x| < 2 to reach float64 rounding (checked against math.erf)
_FRACTION_DEPTH = 40  # enough for |x| >= 2 likewise
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf_array(xp, a):
    """erf of a float array, computed in float64 and returned in a's dtype."""
    x = a.astype("float64")
    ax = xp.abs(x)
    s = xp.minimum(ax, _CUT)
    s2 = s * s
    term = s.copy()
    total = s.copy()
    ratio = 2.0 * s2
    for n in range(1, _SERIES_TERMS):
        term *= ratio / (2 * n + 1)
        total += term
    series = _TWO_OVER_SQRT_PI * xp.exp(-s2) * total
    b = xp.maximum(ax, _CUT)
    f = b.copy()
    for k in range(_FRACTION_DEPTH, 0, -1):
        f = b + (k / 2.0) / f
    tail = 1.0 - xp.exp(-b * b) / (math.sqrt(math.pi) * f)
    out = xp.where(ax < _CUT, series, tail)
    out = xp.where(x < 0, -out, out)
    out = xp.where(xp.isnan(x), x, out)  # nan stays nan (the clips above would hide it)
    return out.astype(a.dtype, copy=False)


class Erf(Function):
    """erf(a); d/da = 2/sqrt(pi) exp(-a^2)."""

    saves = (0,)

    def forward(self, a):
        self.saved = (a,)
        return erf_array(self.xp, a)

    def backward(self, g):
        (a,) = self.saved
        return g * (_TWO_OVER_SQRT_PI * self.xp.exp(-(a * a)))
