"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, _non_negative


class SGD(Optimizer):
    """PyTorch's SGD. Per step, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * x
        buf = g  (first step)  or  momentum * buf + (1 - dampening) * g
        g = g + momentum * buf  (nesterov)  or  buf
        x = x - lr * g

    State per parameter: ``momentum_buffer`` (buf; only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, maximize=False):  # fmt: skip
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key in ("lr", "momentum", "weight_decay"):
            _non_negative(self._name, group, key)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum needs momentum > 0 and dampening = 0, got momentum "
                f"{group['momentum']} and dampening {group['dampening']}"
            )

    def _update(self, p, x, g, state, group):
        xp = p.xp
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * x
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # xp.array, not g.copy(): on 0-d arrays numpy arithmetic returns scalars, which
                # would not update in place
                buf = state["momentum_buffer"] = xp.array(g, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        x -= lr * g
