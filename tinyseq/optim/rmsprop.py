"""RMSprop, optionally centered and with momentum."""

from __future__ import annotations

from .optimizer import Optimizer, _buffer, _lerp_, _non_negative


class RMSprop(Optimizer):
    """PyTorch's RMSprop. Per step, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * x
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - ga * ga) + eps,  ga = alpha * ga + (1 - alpha) * g   (centered)
        avg = sqrt(v) + eps                                                (otherwise)
        buf = momentum * buf + g / avg;  x = x - lr * buf                  (momentum > 0)
        x = x - lr * g / avg                                               (otherwise)

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (ga, centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False):  # fmt: skip
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            _non_negative(self._name, group, key)

    def _update(self, p, x, g, state, group):
        xp = p.xp
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
        if group["maximize"]:
            g = -g
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        v = state["square_avg"]
        v *= alpha
        gg = (1 - alpha) * g
        gg *= g
        v += gg
        if group["centered"]:
            ga = _buffer(state, "grad_avg", xp, x)
            _lerp_(xp, ga, g, 1 - alpha)
            avg = xp.sqrt(v - ga * ga)
        else:
            avg = xp.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            buf = _buffer(state, "momentum_buffer", xp, x)
            buf *= momentum
            buf += g / avg
            x -= group["lr"] * buf
        else:
            upd = g * -group["lr"]
            upd /= avg
            x += upd
