"""Run the bodies of ``tinyseq_gpu.kernels`` on the CPU, for tests without a GPU.

``ElementwiseEmulator(in_params, out_params, body)`` behaves like the
``cupy.ElementwiseKernel`` built from the same strings, for the subset of
CUDA C those bodies use (``const T``/``const ptrdiff_t`` declarations,
arithmetic, ``tanh``/``exp``/``log``/``fmax``, ``T(1)`` casts, ``a ? b : c``,
reads and writes of ``raw`` arrays at computed linear indices). The body is
translated statement by statement into numpy, evaluated over every index ``i``
at once: same statements, same order, same index arithmetic, so an index slip
or a wrong formula shows up as a CPU test failure.

``xent_forward`` is the contract of the raw softmax kernel in numpy (its C
loops are checked on a GPU only).
"""

from __future__ import annotations

import re

import numpy as np

from tinyseq.devices.strict import StrictArray

_FUNCS = {
    "tanh": np.tanh, "exp": np.exp, "log": np.log, "fmax": np.fmax,
    "sigm": lambda x: np.tanh(x * 0.5) * 0.5 + 0.5, "np": np,
}  # fmt: skip
_PART = r"((?:[^()?:]|\([^()]*\))*)"  # text with at most one level of parentheses


def _split_top(s, sep=","):
    """Split at ``sep`` outside parentheses and brackets."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += 1 if ch in "([" else -1 if ch in ")]" else 0
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def _expr(e, integer):
    e = re.sub(rf"\({_PART} \? {_PART} : {_PART}\)", r"np.where(\1, \2, \3)", e)
    e = re.sub(r"\bT\(([^()]*)\)", r"(\1)", e)
    return e.replace("/", "//") if integer else e


def translate(body, plain_outputs):
    """The body as numpy statements (outputs that are not raw are assigned in place)."""
    lines = []
    for stmt in body.split(";"):
        stmt = " ".join(stmt.split())
        if not stmt:
            continue
        integer = stmt.startswith("const ptrdiff_t ")
        declaration = re.match(r"^const (ptrdiff_t|T) ", stmt) is not None
        stmt = re.sub(r"^const (ptrdiff_t|T) ", "", stmt)
        for part in _split_top(stmt) if declaration else [stmt]:
            target, value = (s.strip() for s in part.split("=", 1))
            if target in plain_outputs:
                target += "[...]"
            lines.append(f"{target} = {_expr(value, integer)}")
    return "\n".join(lines)


class ElementwiseEmulator:
    """A stand-in for ``cupy.ElementwiseKernel(in_params, out_params, body, name)``."""

    def __init__(self, in_params, out_params, operation, name="kernel", **kwargs):
        self.name = name
        self.params = [p.split() for p in (in_params + ", " + out_params).split(", ")]
        self.n_in = len(in_params.split(", "))
        plain = {p[-1] for p in self.params[self.n_in :] if p[0] != "raw"}
        self.code = compile(translate(operation, plain), f"<{name}>", "exec")

    def __call__(self, *args):
        strict = any(isinstance(a, StrictArray) for a in args)
        args = [a._a if isinstance(a, StrictArray) else a for a in args]
        arrays = [(p, a) for p, a in zip(self.params, args) if hasattr(a, "shape") and p[0] != "raw"]
        shape = np.broadcast_shapes(*(a.shape for _, a in arrays))
        if len(args) == self.n_in:  # outputs not given: allocated, as CuPy does (plain ones only)
            dtype = next(a.dtype for p, a in arrays if p[0] == "T")
            args += [np.empty(shape, dtype=dtype) for _ in self.params[self.n_in :]]
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.params)} parameters")
        env = dict(_FUNCS, i=np.arange(int(np.prod(shape))))
        flat = {}
        for p, a in zip(self.params, args):
            if not hasattr(a, "shape"):
                env[p[-1]] = a
                continue
            src = a if p[0] == "raw" else np.broadcast_to(a, shape)
            env[p[-1]] = flat[p[-1]] = np.array(src, copy=True).reshape(-1)
        exec(self.code, env)
        outs = []
        for p, a in list(zip(self.params, args))[self.n_in :]:
            a[...] = flat[p[-1]].reshape(a.shape)
            outs.append(StrictArray(a) if strict else a)
        return outs[0] if len(outs) == 1 else tuple(outs)


def xent_forward(grid, block, args, threads=256):
    """What the raw softmax-statistics kernel writes, for a launch (grid, block, args)."""
    x, t, loss, m, s, C, ignore = (a._a if isinstance(a, StrictArray) else a for a in args)
    if grid != (x.shape[0],) or block != (threads,) or C != x.shape[1]:
        raise ValueError(f"xent_fwd: launch {grid} x {block} for logits {x.shape}, C={C}")
    m[...] = x.max(axis=1)
    s[...] = np.exp(x - m[:, None]).sum(axis=1)
    picked = x[np.arange(len(t)), np.where(t == ignore, 0, t)]
    loss[...] = np.where(t == ignore, 0, np.log(s) - (picked - m))
