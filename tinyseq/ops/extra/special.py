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

from ...autograd import Function
from ..elementwise import _unary

_CUT = 2.0  # series below, continued fraction from here
# Terms needed to reach the rounding of float64 (about 1e-15 absolute), and 1e-10 for
# narrower dtypes, over the whole range (checked against math.erf).
_TERMS = {8: (32, 40)}
_TERMS_NARROW = (22, 20)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf_array(xp, a):
    """erf of a float array, computed in float64 and returned in a's dtype. Each part runs
    only on its elements, in place (this is GELU's inner loop)."""
    series_terms, fraction_depth = _TERMS.get(a.dtype.itemsize, _TERMS_NARROW)
    x = a.astype("float64")
    ax = xp.abs(x)
    out = xp.empty_like(ax)
    small = ax < _CUT  # False for nan, which takes the fraction path and stays nan
    s = ax[small]
    ratio = 2.0 * s * s
    term = s.copy()
    total = s.copy()
    for n in range(1, series_terms):
        term *= ratio
        term *= 1.0 / (2 * n + 1)
        total += term
    ratio *= -0.5
    total *= xp.exp(ratio)
    total *= _TWO_OVER_SQRT_PI
    out[small] = total
    large = ~small
    b = ax[large]
    f = b.copy()
    for k in range(fraction_depth, 0, -1):
        xp.divide(k / 2.0, f, out=f)
        f += b
    out[large] = 1.0 - xp.exp(-(b * b)) / (math.sqrt(math.pi) * f)
    return xp.copysign(out, x).astype(a.dtype, copy=False)


class Erf(Function):
    """erf(a); d/da = 2/sqrt(pi) exp(-a^2)."""

    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return erf_array(self.xp, a)

    def backward(self, g):
        (a,) = self.saved
        return g * (_TWO_OVER_SQRT_PI * self.xp.exp(-(a * a)))


erf = _unary(Erf, "erf", "Elementwise error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt (float64-accurate).")
