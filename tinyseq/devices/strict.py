"""The "strict" device: numpy underneath, a GPU at the host boundary.

A CuPy array is not a numpy array: ``np.asarray(gpu_array)`` raises, so do
``gpu_array + host_array`` and ``gpu_array[host_index_array]``; only explicit
copies (``backend.from_host`` / ``backend.to_host``, i.e. ``tensor.to(...)``,
``tensor.numpy()``) cross. Code that forgets this works on the CPU and breaks
on a GPU. This device makes it break on the CPU too, so device bugs are caught
by every test run:

    import tinyseq as ts
    import tinyseq.devices.strict   # registers "strict" (also loaded lazily)
    model.to("strict"); x = ts.randn(3, 4, device="strict")

Its arrays (``StrictArray``) wrap an ``np.ndarray`` and behave like CuPy's:

- arithmetic, ufuncs and ``xp.*`` functions between strict arrays work and
  return strict arrays; Python and numpy scalars and 0-d host arrays mix in
  freely, as they do with CuPy;
- mixing with a host array of one or more dimensions (operand, ``out=``,
  index, assigned value) raises TypeError, and so does any implicit
  conversion to numpy (``np.asarray``, ``np.array``, ``__array__``);
- ``float()``, ``int()``, ``bool()`` and ``.item()`` work on one-element
  arrays only (a GPU syncs for those, it does not silently copy arrays);
- full reductions return 0-d arrays, not numpy scalars (as CuPy's do);
- ``from_host`` and ``to_host`` copy, so host and device never share memory.

``xp`` for this device is ``strict_numpy``, a stand-in for the ``cupy``
module: every numpy function and ufunc, unwrapping and re-wrapping arrays.
Random draws come from the backend's ``rng`` (seeded by ``ts.manual_seed``).
"""

from __future__ import annotations

import operator
import types

import numpy as np

from ..backend import Backend, register_device

__all__ = ["StrictArray", "StrictBackend", "strict_numpy"]

_HINT = "move data explicitly: tensor.to(device) / tensor.numpy(), or backend.from_host / backend.to_host"


def _refuse(what: str):
    raise TypeError(f"strict device: {what}, which a GPU array refuses too; {_HINT}")


def _host(x, where: str):
    """A host ndarray met where a device array belongs: 0-d passes as a scalar."""
    if x.ndim == 0:
        return x
    _refuse(f"{where} mixes a device array with a host numpy array of shape {x.shape}")


def _operand(x, where: str):
    """Raw value for an operator operand, or NotImplemented for foreign types (e.g. Tensor)."""
    if type(x) is StrictArray:
        return x._a
    if isinstance(x, (bool, int, float, complex, np.generic)):
        return x
    if isinstance(x, np.ndarray):
        return _host(x, where)
    if isinstance(x, (list, tuple)):
        _refuse(f"{where} mixes a device array with a Python {type(x).__name__}")
    return NotImplemented


def _unwrap(x, where: str):
    """Raw arguments for numpy: strict arrays unwrapped, in lists and tuples too."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is tuple or t is list:
        return t(_unwrap(v, where) for v in x)
    if isinstance(x, np.ndarray):
        return _host(x, where)
    return x


def _wrap(x):
    """Arrays (and numpy scalars, as 0-d arrays) as strict arrays; other values as they are."""
    if isinstance(x, np.ndarray):
        return StrictArray(x)
    if isinstance(x, np.generic):
        return StrictArray(np.asarray(x))
    t = type(x)
    if t is tuple or t is list:
        return t(_wrap(v) for v in x)
    return x


def _call(fn, args, kwargs, where):
    raw = fn(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
    out = kwargs.get("out")
    if type(out) is StrictArray and raw is out._a:
        return out
    return _wrap(raw)


# Attributes through which numpy would read the data without asking (__array__
# is the one that may be asked, and it refuses); a GPU array has none of them.
_NO_ATTRS = frozenset(["__array_interface__", "__array_struct__", "ctypes", "__buffer__", "_a"])


class StrictArray:
    """An array of the strict device: an ``np.ndarray`` that will not meet host arrays."""

    __slots__ = ("_a",)
    __hash__ = None

    def __init__(self, array: np.ndarray):
        self._a = array

    # -- the host boundary ----------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        _refuse("implicit conversion of a device array to a host numpy array (np.asarray, np.array)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"np.{ufunc.__name__}"
        raw = []
        for x in inputs:
            r = _operand(x, where)
            if r is NotImplemented:
                return NotImplemented
            raw.append(r)
        out = kwargs.get("out")
        if out is not None:
            for o in out:
                if type(o) is not StrictArray:
                    _refuse(f"{where} writes into a {type(o).__name__} (out=)")
            kwargs["out"] = tuple(o._a for o in out)
        result = getattr(ufunc, method)(*raw, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _call(func, args, kwargs, f"np.{func.__name__}")

    def _scalar(self, kind):
        if self._a.size != 1:
            raise TypeError(f"only one-element arrays convert to Python scalars ({kind}), got shape {self._a.shape}")
        return self._a.reshape(())

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __bool__(self):
        if self._a.size != 1:
            raise ValueError(f"the truth value of an array of shape {self._a.shape} is ambiguous")
        return bool(self._a.reshape(()))

    def __index__(self):
        if self._a.ndim or self._a.dtype.kind not in "iub":
            raise TypeError(f"only 0-d integer arrays can be used as an index, got {self._a.dtype} {self._a.shape}")
        return int(self._a)

    def __format__(self, spec):
        return format(self._scalar("format").item(), spec) if spec else repr(self)

    def __repr__(self):
        return f"strict_array({np.array2string(self._a, separator=', ')}, dtype={self._a.dtype})"

    __str__ = __repr__

    # -- attributes ----------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def T(self):
        return StrictArray(self._a.T)

    @property
    def device(self) -> str:
        return "strict:0"

    def __getattr__(self, name):
        if name in _NO_ATTRS:
            raise AttributeError(f"strict device arrays have no {name}")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)
        where = f"ndarray.{name}"
        return lambda *args, **kwargs: _call(attr, args, kwargs, where)

    # -- containers ----------------------------------------------------------------------
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(len(self._a)):
            yield StrictArray(self._a[i])

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index, "indexing")])

    def __setitem__(self, index, value):
        v = _operand(value, "item assignment")
        if v is NotImplemented:
            _refuse(f"item assignment of a {type(value).__name__}")
        self._a[_unwrap(index, "indexing")] = v

    def __contains__(self, value):
        return bool((self._a == _operand(value, "in")).any())

    def __copy__(self):
        return StrictArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._a.copy())

    def __reduce__(self):
        return (StrictArray, (self._a.copy(),))


def _binary(op, name):
    where = f"operator {name}"

    def forward(self, other):
        o = _operand(other, where)
        return NotImplemented if o is NotImplemented else _wrap(op(self._a, o))

    def reflected(self, other):
        o = _operand(other, where)
        return NotImplemented if o is NotImplemented else _wrap(op(o, self._a))

    return forward, reflected


def _inplace(op, name):
    where = f"operator {name}="

    def method(self, other):
        o = _operand(other, where)
        if o is NotImplemented:
            return NotImplemented
        self._a = op(self._a, o)
        return self

    return method


for _name, _op in [("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("floordiv", "//"),
                   ("mod", "%"), ("pow", "**"), ("matmul", "@"), ("and", "&"), ("or", "|"),
                   ("xor", "^"), ("lshift", "<<"), ("rshift", ">>")]:  # fmt: skip
    _fn = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    _f, _r = _binary(_fn, _op)
    setattr(StrictArray, f"__{_name}__", _f)
    setattr(StrictArray, f"__r{_name}__", _r)
    setattr(StrictArray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}"), _op))

for _name, _op in [("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")]:
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name), _op)[0])

for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__", lambda self, _f=getattr(operator, _name): StrictArray(_f(self._a)))


# -- the array module ---------------------------------------------------------------------
# What CuPy's ufuncs support beyond a plain call (cupy._core._kernel.ufunc):
# only these keywords, and reduce/accumulate/reduceat for add and multiply only.
_UFUNC_KEYWORDS = frozenset(["out", "dtype", "casting"])
_UFUNC_METHODS = {"reduce": ("add", "multiply"), "accumulate": ("add", "multiply"), "reduceat": ("add",)}


class _Ufunc:
    """A numpy ufunc on strict arrays (``xp.add``, ``xp.add.at``), limited as CuPy's are."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        extra = set(kwargs) - _UFUNC_KEYWORDS
        if extra:
            raise TypeError(f"strict device: xp.{self.__name__} got {sorted(extra)}; CuPy's ufuncs take only "
                            "out=, dtype= and casting=")  # fmt: skip
        return _call(self._ufunc, args, kwargs, f"xp.{self.__name__}")

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        if not callable(attr):
            return attr
        if name in _UFUNC_METHODS and self.__name__ not in _UFUNC_METHODS[name]:
            raise NotImplementedError(f"strict device: xp.{self.__name__}.{name} is not supported by CuPy")
        where = f"xp.{self.__name__}.{name}"
        return lambda *args, **kwargs: _call(attr, args, kwargs, where)


class _Namespace:
    """numpy's namespace (or a submodule of it) on strict arrays: the device's ``xp``."""

    def __init__(self, module, name):
        self._module = module
        self.__name__ = name

    def __getattr__(self, name):
        obj = getattr(self._module, name)
        if isinstance(obj, np.ufunc):
            wrapped = _Ufunc(obj)
        elif isinstance(obj, types.ModuleType):
            wrapped = _Namespace(obj, f"{self.__name__}.{name}")
        elif callable(obj) and not isinstance(obj, type):
            where = f"{self.__name__}.{name}"

            def wrapped(*args, _fn=obj, _where=where, **kwargs):
                return _call(_fn, args, kwargs, _where)

            wrapped.__name__ = name
        else:  # dtypes, scalar types, constants, classes such as errstate
            wrapped = obj
        setattr(self, name, wrapped)
        return wrapped

    ndarray = StrictArray

    # Like cupy.asarray / cupy.array: host data in, device array out (a copy).
    @staticmethod
    def asarray(a, dtype=None, order=None):
        if type(a) is StrictArray:
            return a if dtype is None or a.dtype == np.dtype(dtype) else StrictArray(a._a.astype(dtype))
        return StrictArray(np.array(_unwrap(a, "xp.asarray") if isinstance(a, list) else a, dtype=dtype, copy=True))

    @staticmethod
    def array(a, dtype=None, copy=True, order="K", ndmin=0):
        if type(a) is StrictArray:
            return StrictArray(np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
        src = _unwrap(a, "xp.array") if isinstance(a, list) else a
        return StrictArray(np.array(src, dtype=dtype, copy=True, order=order, ndmin=ndmin))

    asanyarray = asarray

    def __repr__(self):
        return "<strict_numpy: the strict device's array module>"


strict_numpy = _Namespace(np, "xp")


class _Generator:
    """A numpy Generator whose draws land on the strict device."""

    def __init__(self, generator: np.random.Generator):
        self._gen = generator

    def __getattr__(self, name):
        attr = getattr(self._gen, name)
        if not callable(attr):
            return attr
        where = f"rng.{name}"
        return lambda *args, **kwargs: _call(attr, args, kwargs, where)


class StrictBackend(Backend):
    """Backend of "strict:N": ``xp`` is ``strict_numpy``; host crossings copy."""

    def __init__(self, index: int = 0):
        super().__init__(f"strict:{index}", strict_numpy)

    def make_rng(self, seed: int):
        return _Generator(np.random.default_rng(seed))

    def from_host(self, array):
        if type(array) is StrictArray:
            _refuse("from_host was given an array that is already on the device")
        return StrictArray(np.array(array, copy=True))

    def to_host(self, array) -> np.ndarray:
        if type(array) is not StrictArray:
            _refuse(f"to_host was given a {type(array).__name__}, not an array of {self.name}")
        return array._a.copy()

    def owns(self, array) -> bool:
        return type(array) is StrictArray

    def scatter_add(self, target, index, values) -> None:
        if type(target) is not StrictArray:
            _refuse(f"scatter_add into a {type(target).__name__}")
        v = _operand(values, "scatter_add")
        np.add.at(target._a, _unwrap(index, "scatter_add"), v)


register_device("strict", StrictBackend)
