"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

from .optimizer import Optimizer, _non_negative


class Adagrad(Optimizer):
    """PyTorch's Adagrad. Per step t, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * x
        s = s + g * g                     (s starts at initial_accumulator_value)
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    State per parameter: ``step`` and ``sum`` (s).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False):  # fmt: skip
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _non_negative(self._name, group, key)

    def _update(self, p, x, g, state, group):
        xp = p.xp
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(x, group["initial_accumulator_value"])
        if group["maximize"]:
            g = -g
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        std = xp.sqrt(s)
        std += group["eps"]
        upd = g * -clr
        upd /= std
        x += upd
