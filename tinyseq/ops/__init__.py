"""The differentiable ops, by family; each Function sits beside its public wrapper.

The core, the primitives that autograd, the recurrent layers, viz and the device
switch build on:

    registry.py     the one list of public ops: ts.<name>, Tensor methods and operators
    args.py         argument normalisation (dims, operand dtypes and Python numbers)
    convert.py      clone, cast, device moves (Tensor.to)
    elementwise.py  add/sub/mul/div, exp/log, tanh/sigmoid/relu, where, comparisons
    reduce.py       sum, mean, amax/amin, logsumexp, softmax / log_softmax
    shape.py        reshape/view, permute/transpose, expand, indexing, cat/stack/split
    matmul.py       matmul, mm, bmm

Beyond it:

    fused/          fused recurrent cells and losses, checked against their composed forms
    extra/          PyTorch parity: math.py (powers, abs, min/max, clamp, rounding division,
                    closeness), reduce.py (max/min with indices, arg-max, var/std, norm,
                    prod), select.py (gather, sort, topk, cumsum, ...), einsum.py, special.py
                    (erf), pad.py, conv.py, pooling.py, embedding.py, normalization.py
                    (layer norm), sampling.py (multinomial),
                    factories.py (eye, linspace, *_like, ...), methods.py (Tensor.type,
                    new_*, in-place fills), args.py (their argument checks)

Every registered op is also ``tinyseq.ops.<name>``.
"""

from .._tensor import Tensor
from . import extra, registry  # noqa: F401  (extra declares its ops on import)

registry.install(globals(), None, Tensor)
