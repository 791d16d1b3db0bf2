"""The differentiable ops, by family; each Function sits beside its public wrapper.

    registry.py     the one list of public ops: ts.<name>, Tensor methods and operators
    args.py         argument normalisation (dims, sizes, indices, operand dtypes)
    convert.py      clone, cast, device moves (Tensor.to)
    elementwise.py  arithmetic, exp/log/tanh/sigmoid/relu, clamp, where, comparisons
    reduce.py       sum, mean, max/min, var/std, norm, logsumexp, softmax
    shape.py        reshape/view, permute, expand, indexing, cat/stack/split, pad
    matmul.py       matmul, mm, bmm
    conv.py         conv2d / conv1d (im2col)
    fused/          fused recurrent cells and losses, beside their composed forms
    extra/          PyTorch parity beyond the core: selection and sorting, einsum, erf,
                    prod/tril/triu, pooling, embedding, layer norm

Every registered op is also ``tinyseq.ops.<name>``.
"""

from ..tensor import Tensor
from . import registry
from .convert import cast, to_device  # noqa: F401  (not public ops: Tensor.to's parts)
from .elementwise import compare  # noqa: F401
from .shape import getitem  # noqa: F401

registry.install(globals(), None, Tensor)
