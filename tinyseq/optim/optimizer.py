"""The Optimizer base: parameter groups, state that follows its parameters, state dicts.

Subclasses define ``_update(p, x, g, state, group)`` on raw arrays: ``x`` is the
parameter's array (updated in place), ``g`` its gradient array, ``state`` the
parameter's state dict (arrays on the parameter's device, plain numbers) and
``group`` its parameter group. Updates never build a graph.
"""

from __future__ import annotations

import copy

import numpy as np

from .._tensor import Tensor
from ..autograd import enable_grad


class Optimizer:
    """Base class of optimizers, with PyTorch's ``param_groups`` and state-dict layout.

    ``params``: an iterable of tensors, or of dicts ``{"params": [...], "lr": ...}``
    giving per-group options (missing options take the constructor's defaults).
    ``state[p]`` holds each parameter's buffers as raw arrays on its device.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self._placed: dict = {}  # param -> (backend, dtype) its state arrays live on
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of tensors or of dicts, got one tensor "
                "(wrap it in a list, or pass model.parameters())"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_options(self, group: dict) -> None:
        """Raise ValueError for out-of-range options (subclasses extend)."""
        _non_negative(self._name, group, "lr")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group ``{"params": [...], option: value, ...}``; options default to the constructor's."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be an ordered collection, not a set")
        elif params is None:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize tensors, got {type(p).__name__} at index {i}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: cannot optimize a non-leaf tensor (shape {p.shape}); detach it")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: a parameter group lists the same parameter twice")
        if seen.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        group["params"] = params
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_options(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or, with set_to_none=False, fill it with zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad._data = p.xp.zeros_like(p.grad._data)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p, p._data, p.grad._data, self._state(p), group)
                p._bump_version()  # a graph that saved p before this step can no longer use it
        return loss

    def _update(self, p, x, g, state, group) -> None:
        raise NotImplementedError

    def _state(self, p) -> dict:
        """The parameter's state, moved first if the parameter changed device or dtype."""
        where = (p._backend, p._data.dtype)
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
            self._placed[p] = where
        elif self._placed[p] != where:
            old = self._placed[p][0]
            for k, v in state.items():
                if _is_array(v):
                    state[k] = _place(old.to_host(v), p)
            self._placed[p] = where
        return state

    # -- state dicts -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {name: tensor | number}}, "param_groups": [{..., "params": [index]}]}``.

        Parameters are numbered in group order, as in PyTorch. State tensors share
        memory with the optimizer's buffers; save or copy them before stepping again."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if not self.state.get(p):
                    continue
                s = self._state(p)
                state[index[id(p)]] = {
                    k: Tensor._make(v, p._backend) if _is_array(v) else copy.deepcopy(v) for k, v in s.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()`` (tensors or numpy arrays); buffers are copied onto
        each parameter's device, floating-point ones in the parameter's dtype."""
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{self._name}.load_state_dict: expected a dict with 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{self._name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer {len(self.param_groups)}"
            )
        by_index = {}
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{self._name}.load_state_dict: parameter group {i} has {len(saved['params'])} parameters "
                    f"in the state dict but {len(mine['params'])} in the optimizer"
                )
            for idx, p in zip(saved["params"], mine["params"]):
                by_index[int(idx)] = p
        new_state = {}
        for idx, s in saved_state.items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(f"{self._name}.load_state_dict: state for parameter {idx}, which no group lists")
            new_state[p] = {k: _place_value(v, p, k) for k, v in s.items()}
        new_groups = []
        for mine, saved in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            group["params"] = mine["params"]
            new_groups.append(group)
        self.param_groups = new_groups
        self.state = new_state
        self._placed = {p: (p._backend, p._data.dtype) for p in new_state}

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _is_array(v) -> bool:
    return hasattr(v, "dtype") and hasattr(v, "shape") and not isinstance(v, (Tensor, np.generic))


def _place(host: np.ndarray, p):
    """A copy of a host array on p's device, floating-point arrays in p's dtype."""
    host = np.asarray(host)
    dtype = p._data.dtype if host.dtype.kind == "f" else host.dtype
    return p._backend.from_host(np.array(host, dtype=dtype, copy=True))


def _place_value(v, p, key):
    if key == "step" and getattr(v, "ndim", None) == 0:
        # Step counts stay Python numbers (PyTorch keeps them as 0-d tensors).
        return v.item()
    if isinstance(v, Tensor):
        if v._backend is p._backend:
            dtype = p._data.dtype if v.dtype.kind == "f" else v.dtype
            return v._data.astype(dtype, copy=True)
        return _place(v.numpy(), p)
    if isinstance(v, np.ndarray):
        return _place(v, p)
    return copy.deepcopy(v)


def _non_negative(name, group, key):
    v = group[key]
    if not v >= 0:
        raise ValueError(f"{name}: invalid {key} {v} (must be >= 0)")


def _buffer(state, key, xp, x):
    """state[key], created as zeros like x on first use (so options may be switched on later)."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = xp.zeros_like(x)
    return buf


def _lerp_(xp, a, b, w):
    """a <- a + w * (b - a), in place, rounded as PyTorch's lerp (two forms around w = 0.5)."""
    d = b - a
    if abs(w) < 0.5:
        d *= w
        a += d
    else:
        d *= 1 - w
        xp.subtract(b, d, out=a)
