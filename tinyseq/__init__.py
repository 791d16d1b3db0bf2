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
from ._tensor import Tensor
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .backend import (
    default_device,
    device,
    get_backend,
    get_default_device,
    manual_seed,
    set_default_device,
)
from .dtypes import (
    as_dtype,
    bool_,
    can_cast,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from .factories import (
    arange,
    as_tensor,
    empty,
    full,
    is_tensor,
    ones,
    rand,
    randint,
    randn,
    tensor,
    zeros,
)
from .gradcheck import GradcheckError, gradcheck
from .ops import registry as _registry
from .ops.extra.factories import (
    eye,
    from_numpy,
    full_like,
    linspace,
    ones_like,
    rand_like,
    randn_like,
    randperm,
    zeros_like,
)
from .random import Generator
from .serialization import CheckpointError, load, save

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
    "from_numpy", "eye", "linspace", "randperm",
    "zeros_like", "ones_like", "full_like", "randn_like", "rand_like", "float16", "float32",
    "float64", "int8", "int16", "int32", "int64", "uint8", "complex64", "complex128", "bool", "float", "double",
    "half", "int", "long", "short", "cfloat", "cdouble", "dtype", "get_default_dtype", "set_default_dtype",
    "result_type", "promote_types", "can_cast", "device", "Generator",
    "as_dtype", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "manual_seed", "set_default_device", "default_device", "get_default_device", "get_backend",
    "gradcheck", "GradcheckError", "cuda", "accelerator", "backends", "onnx", "distributed", "nn", "ops",
    "utils", "viz", "data", "optim", "save", "load", "CheckpointError",
    "pi", "e", "inf", "nan", "as_tensor", "is_tensor",
]  # fmt: skip

# the ops: ts.add, ts.matmul, ts.cat ... and their names in __all__, from the one registry
_registry.install(globals(), __all__)
