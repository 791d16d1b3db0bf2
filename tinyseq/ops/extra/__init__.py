"""Ops beyond the primitives the recurrent layers need: PyTorch parity (math, selection,
sorting, einsum, special functions, padding, sampling; conv, pooling, embedding and layer
norm for nn). Not part of the core line budget. Declared with the core's registry, one line
an op."""

from ..registry import op
from . import einsum as Xeinsum
from . import math as Xmath
from . import methods as Xmethods
from . import pad as Xpad
from . import reduce as Xreduce
from . import sampling as Xsampling
from . import select as Xselect
from . import special as Xspecial

op("pow", Xmath.pow, method=True, operators=("__pow__", "__rpow__"))
op("square", Xmath.square, method=True)
op("sqrt", Xmath.sqrt, method=True)
op("abs", Xmath.abs, method=True, operators=("__abs__",))
op("maximum", Xmath.maximum, method=True)
op("minimum", Xmath.minimum, method=True)
op("clamp", Xmath.clamp, method=True)
op("clip", Xmath.clamp, method=True)
op("masked_fill", Xmath.masked_fill, method=True)
op("floor_divide", Xmath.floor_divide, method=True, operators=("__floordiv__", "__rfloordiv__"))
op("remainder", Xmath.remainder, method=True, operators=("__mod__", "__rmod__"))
op("log1p", Xmath.log1p, method=True)
op("sin", Xmath.sin, method=True)
op("cos", Xmath.cos, method=True)
op("sign", Xmath.sign, method=True)
op("isnan", Xmath.isnan, method=True)
op("isfinite", Xmath.isfinite, method=True)
op("isclose", Xmath.isclose, method=True)
op("allclose", Xmath.allclose, method=True)
op("tril", Xmath.tril, method=True)
op("triu", Xmath.triu, method=True)
op("erf", Xspecial.erf, method=True)
op("max", Xreduce.max, method=True)
op("min", Xreduce.min, method=True)
op("argmax", Xreduce.argmax, method=True)
op("argmin", Xreduce.argmin, method=True)
op("any", Xreduce.any, method=True)
op("all", Xreduce.all, method=True)
op("var", Xreduce.var, method=True)
op("std", Xreduce.std, method=True)
op("norm", Xreduce.norm, method=True)
op("prod", Xreduce.prod, method=True)
op("pad", Xpad.pad)
op("flip", Xselect.flip, method=True)
op("narrow", Xselect.narrow, method=True)
op("unbind", Xselect.unbind, method=True)
op("index_select", Xselect.index_select, method=True)
op("gather", Xselect.gather, method=True)
op("sort", Xselect.sort, method=True)
op("argsort", Xselect.argsort, method=True)
op("topk", Xselect.topk, method=True)
op("cumsum", Xselect.cumsum, method=True)
op("repeat", Xselect.repeat, method=True)
op("einsum", Xeinsum.einsum)
op("multinomial", Xsampling.multinomial, method=True)
op("type_as", Xmethods.type_as, method=True, function=False)
op("type", Xmethods.type, method=True, function=False)
op("is_floating_point", Xmethods.is_floating_point, method=True, function=False)
op("is_complex", Xmethods.is_complex, method=True, function=False)
op("is_contiguous", Xmethods.is_contiguous, method=True, function=False)
op("element_size", Xmethods.element_size, method=True, function=False)
op("nelement", Xmethods.nelement, method=True, function=False)
op("ndimension", Xmethods.ndimension, method=True, function=False)
op("new_full", Xmethods.new_full, method=True, function=False)
op("new_zeros", Xmethods.new_zeros, method=True, function=False)
op("new_ones", Xmethods.new_ones, method=True, function=False)
op("new_empty", Xmethods.new_empty, method=True, function=False)
op("new_tensor", Xmethods.new_tensor, method=True, function=False)
op("contiguous", Xmethods.contiguous, method=True, function=False)
op("t", Xmethods.t, method=True, function=False)
op("masked_fill_", Xmethods.masked_fill_, method=True, function=False)
op("uniform_", Xmethods.uniform_, method=True, function=False)
op("normal_", Xmethods.normal_, method=True, function=False)
op("clamp_", Xmethods.clamp_, method=True, function=False)
