"""Adam and AdamW (decoupled weight decay), with the AMSGrad variant."""

from __future__ import annotations

from .optimizer import Optimizer, _buffer, _lerp_, _non_negative


class Adam(Optimizer):
    """PyTorch's Adam. Per step t, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * x          (AdamW instead: x = x * (1 - lr * weight_decay))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v)             (amsgrad; the denominator then uses v_hat)
        x = x - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    amsgrad, ``max_exp_avg_sq``.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, maximize=False):  # fmt: skip
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key in ("lr", "eps", "weight_decay"):
            _non_negative(self._name, group, key)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{self._name}: invalid betas {betas} (two values in [0, 1))")

    def _update(self, p, x, g, state, group):
        xp = p.xp
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
        if group["maximize"]:
            g = -g
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if self._decoupled:
                x *= 1 - lr * wd
            else:
                g = g + wd * x
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(xp, m, g, 1 - beta1)
        v *= beta2
        gg = (1 - beta2) * g
        gg *= g
        v += gg
        if group["amsgrad"]:
            vmax = _buffer(state, "max_exp_avg_sq", xp, x)
            v = xp.maximum(vmax, v, out=vmax)
        step_size = lr / (1 - beta1**step)
        denom = xp.sqrt(v)
        denom /= (1 - beta2**step) ** 0.5
        denom += eps
        upd = m * -step_size
        upd /= denom
        x += upd


class AdamW(Adam):
    """Adam with decoupled weight decay (``x *= 1 - lr * weight_decay`` before the
    Adam step); PyTorch's default weight_decay of 0.01."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
