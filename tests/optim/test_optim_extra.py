"""Adadelta and LBFGS against PyTorch in float64: whole trajectories (LBFGS with and without
the strong-Wolfe line search, closures counted), options, state, errors."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import optim


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# Each option away from its default once, and all of them together.
ADADELTA_GRID = [dict(), dict(lr=0.3), dict(rho=0.5), dict(eps=1e-2), dict(weight_decay=0.1), dict(maximize=True),
                 dict(lr=0.3, rho=0.5, eps=1e-2, weight_decay=0.1, maximize=True)]  # fmt: skip


@pytest.mark.parametrize("kw", ADADELTA_GRID, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_adadelta_trajectory_matches_torch(torch, kw):
    rng = np.random.default_rng(0)
    inits = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    mine = [ts.nn.Parameter(ts.tensor(a)) for a in inits]
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    opt_mine, opt_theirs = optim.Adadelta(mine, **kw), torch.optim.Adadelta(theirs, **kw)
    for _ in range(15):
        for a, b in zip(mine, theirs):
            grad = 0.5 * a.numpy() + np.sin(3 * a.numpy()) + 0.1 * rng.standard_normal(a.shape)
            a.grad, b.grad = ts.tensor(grad), torch.tensor(grad)
        opt_mine.step()
        opt_theirs.step()
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)
    sd_mine, sd_theirs = opt_mine.state_dict(), opt_theirs.state_dict()
    assert sorted(sd_mine["state"][0]) == sorted(sd_theirs["state"][0])
    np.testing.assert_allclose(sd_mine["state"][1]["acc_delta"].numpy(), sd_theirs["state"][1]["acc_delta"].numpy())
    assert set(sd_theirs["param_groups"][0]) <= set(sd_mine["param_groups"][0])


def test_adadelta_rejects_bad_options():
    p = [ts.nn.Parameter(ts.ones(2))]
    with pytest.raises(ValueError, match="Adadelta: invalid rho 1.5"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="Adadelta: invalid eps"):
        optim.Adadelta(p, eps=-1.0)


def _rosenbrock_problem(lib, make):
    """A least-squares fit through a tanh layer plus a (mild) Rosenbrock term: curved, not quadratic.
    With a steeper valley the two libraries' one-rounding differences in the loss grow past 1e-10
    within a few dozen line-search trials, which would test rounding rather than the algorithm."""
    rng = np.random.default_rng(3)
    w0, b0 = rng.standard_normal((4, 3)) * 0.5, rng.standard_normal(4) * 0.1
    z0 = np.array([-1.2, 1.0])
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 4))
    w, b, z = make(w0), make(b0), make(z0)
    X, Y = lib.tensor(x), lib.tensor(y)

    def loss_fn():
        fit = ((lib.tanh(X @ w.T + b) - Y) ** 2).mean()
        rosen = (1 - z[0]) ** 2 + (z[1] - z[0] ** 2) ** 2
        return fit + rosen

    return [w, b, z], loss_fn


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("kw", [dict(), dict(lr=0.5, max_iter=7, history_size=3), dict(max_iter=4, max_eval=6),
                                dict(tolerance_grad=1e-3, tolerance_change=1e-5, history_size=5),
                                dict(tolerance_grad=1e-4, tolerance_change=1e-6, history_size=10, lr=0.8)])  # fmt: skip
def test_lbfgs_full_trajectory_matches_torch(torch, line_search_fn, kw):
    mine, loss_mine = _rosenbrock_problem(ts, lambda a: ts.nn.Parameter(ts.tensor(a)))
    theirs, loss_theirs = _rosenbrock_problem(torch, lambda a: torch.tensor(a, requires_grad=True))
    opt_mine = optim.LBFGS(mine, line_search_fn=line_search_fn, **kw)
    opt_theirs = torch.optim.LBFGS(theirs, line_search_fn=line_search_fn, **kw)
    seen_mine, seen_theirs = [], []

    def closure_for(opt, loss_fn, seen):
        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            seen.append(loss.item())
            return loss

        return closure

    for _ in range(6):
        first_mine = opt_mine.step(closure_for(opt_mine, loss_mine, seen_mine))
        first_theirs = opt_theirs.step(closure_for(opt_theirs, loss_theirs, seen_theirs))
        assert first_mine.item() == pytest.approx(first_theirs.item(), rel=1e-10)
        # every closure evaluation, line-search trials included, in the same order
        assert len(seen_mine) == len(seen_theirs)
        np.testing.assert_allclose(seen_mine, seen_theirs, rtol=1e-10, atol=1e-14)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-11)
    s_mine = opt_mine.state[mine[0]]
    s_theirs = opt_theirs.state[theirs[0]]
    assert (s_mine["func_evals"], s_mine["n_iter"]) == (s_theirs["func_evals"], s_theirs["n_iter"])
    assert len(s_mine["old_dirs"]) == len(s_theirs["old_dirs"])
    assert seen_mine[-1] < seen_mine[0] / 2  # it does optimise


def test_lbfgs_errors():
    p = ts.nn.Parameter(ts.ones(2))
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="LBFGS: doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [ts.nn.Parameter(ts.ones(1))]}])
    with pytest.raises(RuntimeError, match="LBFGS.step: needs a closure"):
        optim.LBFGS([p]).step()


def test_lbfgs_stops_at_once_when_the_gradient_is_zero():
    p = ts.nn.Parameter(ts.zeros(3, dtype=ts.float64))
    calls = []

    def closure():
        calls.append(1)
        p.grad = None
        loss = (p * p).sum()
        loss.backward()
        return loss

    optim.LBFGS([p]).step(closure)
    assert len(calls) == 1


def test_lbfgs_state_dict_resumes_the_same_trajectory(torch):
    def problem():
        p = ts.nn.Parameter(ts.tensor(np.linspace(-1, 2, 5)))

        def closure():
            p.grad = None
            loss = ((p - 1) ** 2).sum() + (p**4).sum() * 0.1
            loss.backward()
            return loss

        return p, closure

    a, closure_a = problem()
    opt_a = optim.LBFGS([a], max_iter=3, history_size=4)
    for _ in range(3):
        opt_a.step(closure_a)
    b, closure_b = problem()
    opt_b = optim.LBFGS([b], max_iter=3, history_size=4)
    opt_b.step(closure_b)
    saved = opt_b.state_dict()
    opt_c = optim.LBFGS([b], max_iter=3, history_size=4)
    opt_c.load_state_dict(saved)
    opt_c.step(closure_b)
    opt_c.step(closure_b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    ref = torch.optim.LBFGS([torch.zeros(5, requires_grad=True)])
    ref_p = ref.param_groups[0]["params"][0]

    def ref_closure():
        ref.zero_grad()
        loss = (ref_p**2).sum() + ref_p.sum()
        loss.backward()
        return loss

    ref.step(ref_closure)
    assert sorted(saved["state"][0]) == sorted(ref.state_dict()["state"][0])
