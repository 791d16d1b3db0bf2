"""L-BFGS with an optional strong-Wolfe line search, PyTorch's variant step for step.

All parameters are handled as one flat vector (their gradients concatenated in
order). The two-loop recursion turns the last ``history_size`` curvature pairs
(s = step taken, y = change of gradient) into a search direction; each
``step(closure)`` runs up to ``max_iter`` such iterations. The vectors are
tensors on the parameters' device; scalars are Python floats.
"""

from __future__ import annotations

import math

from .. import ops
from ..autograd import enable_grad, no_grad
from ..ops.extra.factories import zeros_like
from .optimizer import Optimizer


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    ``bounds`` (default: the interval between x1 and x2); its midpoint if the cubic has none."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1**2 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _dot(a, b) -> float:
    return float(ops.matmul(a, b))


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Find a step ``t`` along ``d`` meeting the strong Wolfe conditions (sufficient decrease
    with c1, curvature |g(t).d| <= c2 |g(0).d|): first widen the step until a bracket
    holds a minimiser, then shrink the bracket by cubic interpolation.

    ``evaluate(t) -> (loss, flat_grad)`` at x + t d. Returns (loss, flat_grad, t, evaluations)."""
    d_norm = float(d.abs().max())
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)
    # Each bracket end is [t, f, g, g.d].
    prev = [0.0, f, g.clone(), gtd]
    bracket = None
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= prev[1]):
            bracket = [prev, [t, f_new, g_new.clone(), gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            bracket = [prev, [t, f_new, g_new.clone(), gtd_new]]
            break
        # Extrapolate: a longer step, between 1.01 t and 10 t (measured from the previous one).
        t_next = _cubic_min(prev[0], prev[1], prev[3], t, f_new, gtd_new, bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = [t, f_new, g_new.clone(), gtd_new]
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [[0, f, g, None], [t, f_new, g_new, None]]

    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stalled = False
    while not done and ls_iter < max_ls:
        (t0, f0, _, s0), (t1, f1, _, s1) = bracket
        if abs(t1 - t0) * d_norm < tolerance_change:
            break
        t = _cubic_min(t0, f0, s0, t1, f1, s1)
        # Keep the trial away from the ends: after two steps close to one, move it 10% inside.
        top, bottom = max(t0, t1), min(t0, t1)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            if stalled or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new.clone(), gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new.clone(), gtd_new]
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """PyTorch's L-BFGS. ``step(closure)`` is required: the closure clears the gradients,
    computes the loss, calls ``backward()`` and returns the loss; it may run several times
    per step. One parameter group only.

    lr: step length (the first iteration of a run scales it by min(1, 1/|g|_1));
    max_iter / max_eval: iterations and closure evaluations per ``step`` (max_eval
    defaults to max_iter * 5 // 4); tolerance_grad: stop when max |g| is below it;
    tolerance_change: stop when the step or the loss change is below it;
    history_size: curvature pairs kept; line_search_fn: None (fixed step) or "strong_wolfe".
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):  # fmt: skip
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)  # fmt: skip
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS: doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # -- the parameters as one flat vector ---------------------------------------------------
    def _flat_grad(self):
        parts = [p.grad.reshape(-1) if p.grad is not None else zeros_like(p).reshape(-1) for p in self._params]
        return ops.cat(parts, 0)

    def _move(self, t, d):
        """x <- x + t * d, in place."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset : offset + n].reshape(p.shape), alpha=t)
            offset += n

    def _evaluate(self, closure, x, d):
        """(loss, flat gradient) at x + t d, then the parameters back to x."""

        def at(t):
            self._move(t, d)
            with enable_grad():
                loss = float(closure())
            g = self._flat_grad()
            for p, saved in zip(self._params, x):
                p.copy_(saved)
            return loss, g

        return at

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        if closure is None:
            raise RuntimeError("LBFGS.step: needs a closure that recomputes the loss and its gradients")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self._state(self._params[0])
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if float(g.abs().max()) <= tol_grad:
            return first_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep only pairs with positive curvature
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                # Two-loop recursion: d = -H g with H the implicit inverse-Hessian estimate.
                al = state.setdefault("al", [0.0] * history)  # kept in the state, as PyTorch
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q.add_(old_dirs[i], alpha=-al[i])
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r.add_(old_stps[i], alpha=al[i] - be_i)
            prev_g = g.clone()
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:  # not a descent direction
                break

            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.clone() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(self._evaluate(closure, x0, d), t, d, loss, g, gtd,
                                                     max_ls=max_eval - evals)  # fmt: skip
                self._move(t, d)
                converged = float(g.abs().max()) <= tol_grad
            else:
                self._move(t, d)
                ls_evals = 0
                converged = False
                if n_iter != max_iter:  # the next iteration needs the gradient here
                    with enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    converged = float(g.abs().max()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if float((d * t).abs().max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag, prev_flat_grad=prev_g,
                     prev_loss=prev_loss)  # fmt: skip
        return first_loss
