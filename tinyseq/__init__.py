"""tinyseq: a small, fast deep-learning framework for sequence models.

    import tinyseq as ts
    x = ts.tensor([[1., 2.]], requires_grad=True)
    (x * x).sum().backward()
"""

import math as _math

import numpy as _np

from . import (  # noqa: F401
    accelerator,
    backends,
    cuda,
    data,
    distributed,
    nn,
    onnx,
    ops,
    optim,
    utils,
    viz,  # noqa: F401  (drawing; imports graphviz only when drawing)
)
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .backend import (
    Generator,
    default_device,
    device,
    get_backend,
    get_default_device,
    manual_seed,
    set_default_device,
)
from .gradcheck import GradcheckError, gradcheck
from .ops import (
    abs,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    bmm,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concatenate,
    cos,
    cumsum,
    div,
    einsum,
    eq,
    erf,
    exp,
    expand,
    flatten,
    flip,
    floor_divide,
    gather,
    ge,
    gt,
    index_select,
    isclose,
    isfinite,
    isnan,
    le,
    log,
    log1p,
    log_softmax,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    narrow,
    ne,
    neg,
    norm,
    pad,
    permute,
    pow,
    prod,
    relu,
    remainder,
    repeat,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    topk,
    transpose,
    tril,
    triu,
    unbind,
    unsqueeze,
    var,
    view,
    where,
)  # fmt: skip
from .ops.promotion import can_cast, promote_types, result_type
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    arange,
    as_dtype,
    as_tensor,
    bool_,
    complex64,
    complex128,
    empty,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    is_tensor,
    linspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    set_default_dtype,
    tensor,
    uint8,
    zeros,
    zeros_like,
)  # fmt: skip

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan

# PyTorch's other names for the dtypes
bool = bool_  # noqa: A001
float = float32  # noqa: A001
double = float64
half = float16
int = int32  # noqa: A001
long = int64
short = int16
cfloat = complex64
cdouble = complex128
dtype = _np.dtype  # isinstance(x.dtype, ts.dtype)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "empty", "randn", "rand", "randint", "arange",
    "from_numpy", "eye", "linspace", "randperm", "multinomial",
    "zeros_like", "ones_like", "full_like", "randn_like", "rand_like", "float16", "float32",
    "float64", "int8", "int16", "int32", "int64", "uint8", "complex64", "complex128", "bool", "float", "double",
    "half", "int", "long", "short", "cfloat", "cdouble", "dtype", "get_default_dtype", "set_default_dtype",
    "result_type", "promote_types", "can_cast", "device", "Generator",
    "as_dtype", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "manual_seed", "set_default_device", "default_device", "get_default_device", "get_backend",
    "gradcheck", "GradcheckError", "cuda", "accelerator", "backends", "onnx", "distributed", "nn", "ops",
    "utils", "viz",
    "data", "optim", "save", "load", "CheckpointError",
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cat", "chunk", "clamp", "clip",
    "clone", "concatenate", "cumsum", "div", "eq", "erf", "exp", "expand", "flatten", "flip", "gather",
    "index_select", "log", "log1p", "log_softmax", "narrow", "repeat", "sort", "argsort", "topk", "unbind",
    "ne", "lt", "le", "gt", "ge", "isnan", "isfinite", "any", "all", "allclose", "norm", "bmm", "tril", "triu",
    "logsumexp", "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul",
    "neg", "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sign", "softmax", "split",
    "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "tanh", "transpose", "unsqueeze",
    "var", "view", "where", "sin", "cos", "einsum", "prod", "isclose", "pi", "e", "inf", "nan",
    "floor_divide", "remainder", "as_tensor", "is_tensor",
]  # fmt: skip
