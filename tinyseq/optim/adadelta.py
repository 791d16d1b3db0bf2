"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from .optimizer import Optimizer, _non_negative


class Adadelta(Optimizer):
    """PyTorch's Adadelta (Zeiler, 2012). Per step, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * x
        v = rho * v + (1 - rho) * g * g
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d * d
        x = x - lr * d

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):  # fmt: skip
        # foreach / capturable / differentiable select PyTorch kernels; the update is the same.
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach, capturable=capturable,
                        maximize=maximize, differentiable=differentiable)  # fmt: skip
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key in ("lr", "eps", "weight_decay"):
            _non_negative(self._name, group, key)
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"{self._name}: invalid rho {group['rho']} (must be in [0, 1])")

    def _update(self, p, x, g, state, group):
        xp = p.xp
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
            state["acc_delta"] = xp.zeros_like(x)
        if group["maximize"]:
            g = -g
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * (g * g)
        delta = xp.sqrt(u + eps)
        delta /= xp.sqrt(v + eps)
        delta *= g
        u *= rho
        u += (1 - rho) * (delta * delta)
        x -= group["lr"] * delta
