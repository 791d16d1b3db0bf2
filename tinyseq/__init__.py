"""tinyseq: a small, fast deep-learning framework for sequence models.

    import tinyseq as ts
    x = ts.tensor([[1., 2.]], requires_grad=True)
    (x * x).sum().backward()
"""

from . import (  # noqa: F401
    cuda,
    data,
    nn,
    ops,
    optim,
    viz,  # noqa: F401  (drawing; imports graphviz only when drawing)
)
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .backend import default_device, get_backend, manual_seed, set_default_device
from .gradcheck import GradcheckError, gradcheck
from .ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concatenate,
    div,
    eq,
    exp,
    expand,
    flatten,
    log,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    neg,
    pad,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    view,
    where,
)  # fmt: skip
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    arange,
    as_dtype,
    bool_,
    empty,
    float16,
    float32,
    float64,
    full,
    full_like,
    int32,
    int64,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)  # fmt: skip

bool = bool_  # noqa: A001  (PyTorch spells it ts.bool)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "empty", "randn", "rand", "randint", "arange",
    "zeros_like", "ones_like", "full_like", "randn_like", "rand_like", "float16", "float32",
    "float64", "int32", "int64", "bool", "as_dtype", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "manual_seed", "set_default_device", "default_device", "get_backend",
    "gradcheck", "GradcheckError", "cuda", "nn", "ops", "viz",
    "data", "optim", "save", "load", "CheckpointError",
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cat", "chunk", "clamp", "clip",
    "clone", "concatenate", "div", "eq", "exp", "expand", "flatten", "log", "log_softmax",
    "logsumexp", "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul",
    "neg", "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sign", "softmax", "split",
    "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "tanh", "transpose", "unsqueeze",
    "var", "view", "where",
]  # fmt: skip
