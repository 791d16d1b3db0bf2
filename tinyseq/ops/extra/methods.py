"""Tensor methods for PyTorch parity: device and dtype shortcuts (type, type_as),
predicates and sizes, new_* tensors like this one, contiguous, t, and in-place fills. Each is
a method-only line of the op registry (ops/extra/__init__.py); none records a new kind of node."""

from __future__ import annotations

from ..._tensor import Tensor, _draw, _size
from ...backend import get_backend
from ...dtypes import as_dtype, check_fill

_TYPE_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
    "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
}  # fmt: skip


def type_as(self, other) -> Tensor:
    """This tensor in ``other``'s dtype."""
    return self.to(other.dtype)

def type(self, dtype=None, non_blocking=False) -> Tensor | str:
    """Without ``dtype``: PyTorch's type string ("torch.FloatTensor", "torch.cuda.LongTensor").
    With one: this tensor in that dtype (a dtype, or such a string, which also names the device)."""
    if dtype is None:
        where = "" if self._backend.name == "cpu" else f"{self.device.type}."
        return f"torch.{where}{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}Tensor"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        parts = dtype.split(".")
        names = {v: k for k, v in _TYPE_NAMES.items()}
        if parts[-1][: -len("Tensor")] not in names or parts[0] not in ("torch", "tinyseq"):
            raise TypeError(f"type: unknown tensor type {dtype!r}")
        device = "cuda" if len(parts) == 3 and parts[1] == "cuda" else "cpu"
        return self.to(device, as_dtype(names[parts[-1][: -len("Tensor")]]))
    return self.to(as_dtype(dtype))

def is_floating_point(self) -> bool:
    return self.dtype.kind == "f"

def is_complex(self) -> bool:
    return self.dtype.kind == "c"

def is_contiguous(self) -> bool:
    return bool(self._data.flags.c_contiguous)

def element_size(self) -> int:
    return self.dtype.itemsize

def nelement(self) -> int:
    return int(self._data.size)

def ndimension(self) -> int:
    return self._data.ndim

def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = as_dtype(dtype) or self.dtype
    check_fill(fill_value, dtype, "new_full")
    be = self._backend if device is None else get_backend(device)
    shape = (size,) if isinstance(size, int) else _size(tuple(size))
    t = Tensor._make(be.xp.full(shape, fill_value, dtype=dtype), be)
    return t.requires_grad_() if requires_grad else t

def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return self.new_full(_size(size), 0, dtype, device, requires_grad)

def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return self.new_full(_size(size), 1, dtype, device, requires_grad)

def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return self.new_full(_size(size), 0, dtype, device, requires_grad)

def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A copy of ``data`` in this tensor's dtype and device (unless given)."""
    return Tensor(data, dtype=dtype or self.dtype, device=device or self._backend, requires_grad=requires_grad)

def contiguous(self) -> Tensor:
    """This tensor if its data is C-contiguous, else a contiguous copy (differentiable)."""
    return self if self._data.flags.c_contiguous else self.clone()

def t(self) -> Tensor:
    """The transpose of a tensor of at most 2 dims."""
    if self.ndim > 2:
        raise RuntimeError(f"t: expects a tensor of at most 2 dims, got shape {self.shape}")
    return self if self.ndim < 2 else self.transpose(0, 1)

def masked_fill_(self, mask, value) -> Tensor:
    self._inplace_check("masked_fill_")
    m = mask._data if isinstance(mask, Tensor) else self._backend.asarray(mask)
    self._data[self.xp.broadcast_to(m, self._data.shape)] = self._other_data(value)
    return self

def uniform_(self, a=0.0, b=1.0, generator=None) -> Tensor:
    """Fill with uniform draws in [a, b) from the device's generator (or ``generator``)."""
    self._inplace_check("uniform_")
    self._data[...] = _draw(self._backend, generator, lambda r: r.random(self._data.shape)) * (b - a) + a
    return self

def normal_(self, mean=0.0, std=1.0, generator=None) -> Tensor:
    """Fill with normal draws of ``mean`` and ``std`` from the device's generator (or ``generator``)."""
    self._inplace_check("normal_")
    self._data[...] = _draw(self._backend, generator, lambda r: r.standard_normal(self._data.shape)) * std + mean
    return self

def clamp_(self, min=None, max=None) -> Tensor:
    self._inplace_check("clamp_")
    self.xp.clip(self._data, min, max, out=self._data)
    return self
