"""``einsum``: sums of products named by subscripts, differentiable in every operand.

The equation is first rewritten in explicit form with the ellipsis spelled out
as letters (``"...ij,jk"`` -> ``"Aij,jk->Aik"``), so that forward and backward
read the same subscripts. The gradient of operand k is one more einsum: the
output gradient and the other operands, contracted to k's letters. Three things
that einsum itself cannot express are done around it:

- a letter only operand k has (summed in the forward pass) gets no size from
  the others: its gradient is broadcast along it;
- a letter k repeats (``"ii->i"``, a diagonal) receives the gradient on that
  diagonal only, zeros elsewhere;
- a size-1 dimension of k that the others broadcast sums its gradient back.
"""

from __future__ import annotations

import string

from ..._tensor import Tensor
from ...autograd import Function, OpError
from ..args import as_tensors

_LETTERS = set(string.ascii_letters)


def _parse(equation: str, shapes) -> tuple:
    """-> (input subscripts, one string per operand; output subscripts), ellipsis spelled out."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise OpError(f"einsum: the equation {equation!r} names {len(terms)} operands but {len(shapes)} were given")
    for term in terms + ([rhs] if arrow else []):
        bad = set(term.replace("...", "")) - _LETTERS
        if bad or term.count("...") > 1:
            raise OpError(f"einsum: invalid subscripts {term!r} in {equation!r} (letters and one '...' only)")
    used = set(eq) & _LETTERS
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    widths = []
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        width = len(shape) - named
        if width < 0 or (width and "..." not in term):
            raise OpError(
                f"einsum: subscripts {term!r} in {equation!r} do not fit an operand of shape {tuple(shape)}"
            )
        widths.append(width)
    ell = "".join(spare[: max(widths, default=0)])
    # ellipsis dims line up from the right, as broadcasting does
    terms = [t.replace("...", ell[len(ell) - w :]) for t, w in zip(terms, widths)]
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit: the ellipsis dims, then the letters used once, in order
        counts = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    for c in out:
        if out.count(c) > 1 or not any(c in t for t in terms):
            raise OpError(f"einsum: output subscript {c!r} in {equation!r} is repeated or names no input dim")
    sizes = {}
    for t, shape in zip(terms, shapes):
        for c, n in zip(t, shape):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise OpError(
                    f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} in {equation!r} "
                    f"for shapes {', '.join(str(tuple(s)) for s in shapes)}"
                )
            if n != 1 or c not in sizes:
                sizes[c] = n
    return terms, out


class Einsum(Function):
    """einsum(terms -> out) of the inputs; see the module notes for the gradient."""

    def forward(self, *arrays, terms, out):
        self.saved = arrays
        self.spec = (terms, out)
        return self.xp.einsum(",".join(terms) + "->" + out, *arrays, optimize=len(arrays) > 2)

    def backward(self, g):
        arrays = self.saved
        terms, out = self.spec
        return tuple(self._grad(k, g, arrays, terms, out) if self.needs(k) else None for k in range(len(arrays)))

    def _grad(self, k, g, arrays, terms, out):
        xp = self.xp
        a, term = arrays[k], terms[k]
        others = [t for j, t in enumerate(terms) if j != k]
        unique = "".join(dict.fromkeys(term))
        known = set(out).union(*others)
        reach = "".join(c for c in unique if c in known)  # letters the gradient einsum can name
        ops = [g] + [x for j, x in enumerate(arrays) if j != k]
        grad = xp.einsum(",".join([out] + others) + "->" + reach, *ops, optimize=len(ops) > 2)
        # onto k's unique letters: broadcast along letters only k has, sum broadcast dims
        size = {c: n for c, n in zip(term, a.shape)}
        grad = grad.reshape(tuple(grad.shape[reach.index(c)] if c in reach else 1 for c in unique))
        target = tuple(size[c] for c in unique)
        sum_axes = tuple(i for i, (m, n) in enumerate(zip(grad.shape, target)) if m != n and n == 1)
        if sum_axes:
            grad = grad.sum(axis=sum_axes, keepdims=True)
        grad = xp.broadcast_to(grad, target)
        if unique == term:
            return grad
        # a repeated letter: the gradient lies on that diagonal of k
        full = xp.zeros(a.shape, dtype=grad.dtype)
        grids = [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (len(target) - i - 1)) for i, n in enumerate(target)]
        full[tuple(grids[unique.index(c)] for c in term)] = grad
        return full


def einsum(equation, *operands):
    """Sums of products by subscripts, as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)``,
    ``einsum("ii", a)`` (trace), ``einsum("...ij->...ji", x)``; the operands may also come
    as one list. Differentiable in every floating operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument must be the equation string, got {type(equation).__name__}")
    if not operands or not all(isinstance(t, Tensor) for t in operands):
        raise TypeError("einsum: expected one or more tensors after the equation")
    operands = as_tensors(operands, "einsum")
    terms, out = _parse(equation, [t.shape for t in operands])
    return Einsum.apply(*operands, terms=tuple(terms), out=out)
