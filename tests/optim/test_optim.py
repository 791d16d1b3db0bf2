"""Optimizers: trajectories equal PyTorch's in float64, state dicts, groups, errors."""

import itertools

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import optim

STEPS = 20


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _grid(**options):
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


def _id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


SGD_GRID = [
    kw for kw in _grid(momentum=[0.0, 0.9], dampening=[0.0, 0.25], nesterov=[False, True],
                       weight_decay=[0.0, 0.05], maximize=[False, True])
    if not (kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0))
]  # fmt: skip
# beta1 = 0.3 makes lerp's weight 0.7, which takes its other rounding branch.
ADAM_GRID = _grid(betas=[(0.9, 0.999), (0.3, 0.7)], eps=[1e-8, 1e-2], weight_decay=[0.0, 0.1],
                  amsgrad=[False, True], maximize=[False, True])  # fmt: skip
ADAGRAD_GRID = _grid(lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1], initial_accumulator_value=[0.0, 0.3],
                     eps=[1e-10, 1e-3], maximize=[False, True])  # fmt: skip
RMSPROP_GRID = _grid(alpha=[0.99, 0.3], eps=[1e-8, 1e-2], weight_decay=[0.0, 0.1], momentum=[0.0, 0.8],
                     centered=[False, True], maximize=[False, True])  # fmt: skip

CASES = (
    [("SGD", dict(lr=0.05, **kw)) for kw in SGD_GRID]
    + [("Adam", dict(lr=0.05, **kw)) for kw in ADAM_GRID]
    + [("AdamW", dict(lr=0.05, **kw)) for kw in ADAM_GRID]
    + [("Adagrad", dict(lr=0.1, **kw)) for kw in ADAGRAD_GRID]
    + [("RMSprop", dict(lr=0.01, **kw)) for kw in RMSPROP_GRID]
)

# Options that make every optimizer create all of its state buffers.
FULL_STATE = {
    "SGD": dict(lr=0.05, momentum=0.9, weight_decay=0.01),
    "Adam": dict(lr=0.05, amsgrad=True, weight_decay=0.01),
    "AdamW": dict(lr=0.05, amsgrad=True),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True),
}


def _problem(seed=1):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal(())]
    noise = [[rng.standard_normal(a.shape) for a in inits] for _ in range(2 * STEPS)]
    return inits, noise


def _grad(x, noise):
    # Gradients depend on the current parameters, so any drift between the two
    # implementations feeds back into later steps instead of hiding.
    return 0.5 * x + np.sin(3.0 * x) + 0.1 * noise


def _skipped(t, i):
    return i == 1 and t % 4 == 3  # this parameter has no gradient on some steps


def _set_grads(params, t, noise, make):
    for i, p in enumerate(params):
        p.grad = None if _skipped(t, i) else make(_grad(_host(p), noise[t][i]))


def _host(p):
    return p.numpy() if isinstance(p, ts.Tensor) else p.detach().numpy()


def _ts_params(inits, device="cpu"):
    return [ts.nn.Parameter(ts.tensor(a, device=device)) for a in inits]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}[{_id(kw)}]" for n, kw in CASES])
def test_trajectory_matches_torch(torch, name, kw):
    inits, noise = _problem()
    mine = _ts_params(inits)
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    opt_mine = getattr(optim, name)(mine, **kw)
    opt_theirs = getattr(torch.optim, name)(theirs, **kw)
    for t in range(STEPS):
        _set_grads(mine, t, noise, ts.tensor)
        _set_grads(theirs, t, noise, torch.tensor)
        opt_mine.step()
        opt_theirs.step()
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)
    for a in mine:
        assert a.dtype == ts.float64


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_param_groups_with_own_options_match_torch(torch, name):
    inits, noise = _problem(2)
    kw = FULL_STATE[name]
    mine = _ts_params(inits)
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]

    def groups(ps):
        return [{"params": ps[:1], "lr": kw["lr"] * 3, "weight_decay": 0.2}, {"params": ps[1:]}]

    opt_mine = getattr(optim, name)(groups(mine), **kw)
    opt_theirs = getattr(torch.optim, name)(groups(theirs), **kw)
    for t in range(STEPS):
        if t == 10:  # changing a group's lr mid-run takes effect at the next step
            opt_mine.param_groups[1]["lr"] = kw["lr"] / 2
            opt_theirs.param_groups[1]["lr"] = kw["lr"] / 2
        _set_grads(mine, t, noise, ts.tensor)
        _set_grads(theirs, t, noise, torch.tensor)
        opt_mine.step()
        opt_theirs.step()
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_state_dict_layout_matches_torch(torch, name):
    inits, noise = _problem()
    kw = FULL_STATE[name]
    mine = _ts_params(inits)
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    opt_mine = getattr(optim, name)([{"params": mine[:2]}, {"params": mine[2:], "lr": 0.5}], **kw)
    opt_theirs = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.5}], **kw)
    for t in range(3):
        _set_grads(mine, t, noise, ts.tensor)
        _set_grads(theirs, t, noise, torch.tensor)
        opt_mine.step()
        opt_theirs.step()
    sd_mine, sd_theirs = opt_mine.state_dict(), opt_theirs.state_dict()
    assert sorted(sd_mine) == ["param_groups", "state"]
    assert sorted(sd_mine["state"]) == sorted(sd_theirs["state"])
    for i, s in sd_mine["state"].items():
        assert set(s) == set(sd_theirs["state"][i])
        for k, v in s.items():
            ref = sd_theirs["state"][i][k]
            if isinstance(v, ts.Tensor):
                np.testing.assert_allclose(v.numpy(), ref.numpy(), rtol=1e-12, atol=1e-13)
            else:
                assert v == float(ref)
    for g_mine, g_theirs in zip(sd_mine["param_groups"], sd_theirs["param_groups"]):
        assert g_mine["params"] == g_theirs["params"]
        assert set(g_mine) <= set(g_theirs)
        for k in g_mine:
            assert g_mine[k] == g_theirs[k], k


def _run(opt_cls, kw, params, noise, steps, start=0):
    opt = opt_cls(params, **kw)
    for t in range(start, start + steps):
        _set_grads(params, t, noise, ts.tensor)
        opt.step()
    return opt


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_state_dict_round_trip_through_a_checkpoint_continues_identically(tmp_path, name):
    cls, kw = getattr(optim, name), FULL_STATE[name]
    inits, noise = _problem()
    straight = _ts_params(inits)
    _run(cls, kw, straight, noise, 2 * STEPS)

    first = _ts_params(inits)
    opt = _run(cls, kw, first, noise, STEPS)
    path = tmp_path / "ckpt.npz"
    ts.save({"params": [p.detach() for p in first], "optim": opt.state_dict(), "epoch": 3}, path)
    ckpt = ts.load(path)
    resumed = [ts.nn.Parameter(t) for t in ckpt["params"]]
    opt2 = cls(resumed, **{**kw, "lr": 123.0})  # the loaded groups restore the lr
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for t in range(STEPS, 2 * STEPS):
        _set_grads(resumed, t, noise, ts.tensor)
        opt2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_state_dict_copies_instead_of_sharing_buffers():
    inits, noise = _problem()
    a = _ts_params(inits)
    opt_a = _run(optim.Adam, dict(lr=0.1), a, noise, 3)
    before = {k: v.numpy().copy() for k, v in opt_a.state_dict()["state"][0].items() if k != "step"}
    b = _ts_params(inits)
    opt_b = optim.Adam(b, lr=0.1)
    opt_b.load_state_dict(opt_a.state_dict())
    for t in range(3, 6):
        _set_grads(b, t, noise, ts.tensor)
        opt_b.step()
    after = opt_a.state_dict()["state"][0]
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].numpy(), v)
    assert opt_a.state_dict()["state"][0]["step"] == 3 and opt_b.state_dict()["state"][0]["step"] == 6


def test_load_state_dict_accepts_numpy_arrays_and_casts_to_the_parameter_dtype():
    inits, noise = _problem()
    a = _ts_params(inits)
    sd = _run(optim.RMSprop, FULL_STATE["RMSprop"], a, noise, 3).state_dict()
    sd["state"] = {i: {k: v.numpy() if isinstance(v, ts.Tensor) else np.asarray(v) for k, v in s.items()}
                   for i, s in sd["state"].items()}  # fmt: skip
    b = [ts.nn.Parameter(ts.tensor(x, dtype=ts.float32)) for x in inits]
    opt = optim.RMSprop(b, **FULL_STATE["RMSprop"])
    opt.load_state_dict(sd)
    for s in opt.state.values():
        assert s["step"] == 3 and isinstance(s["step"], int)
        for k in ("square_avg", "grad_avg", "momentum_buffer"):
            assert s[k].dtype == np.float32
    _set_grads(b, 3, noise, lambda g: ts.tensor(g, dtype=ts.float32))
    opt.step()
    assert all(p.dtype == ts.float32 for p in b)


@pytest.fixture
def strict():
    pytest.importorskip("tinyseq.devices.strict")
    return "strict"


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_updates_on_another_device_equal_the_cpu_and_state_lives_there(strict, name):
    cls, kw = getattr(optim, name), FULL_STATE[name]
    inits, noise = _problem()
    on_cpu = _ts_params(inits)
    _run(cls, kw, on_cpu, noise, 5)
    on_dev = _ts_params(inits, device=strict)
    opt = cls(on_dev, **kw)
    for t in range(5):
        for i, p in enumerate(on_dev):
            p.grad = None if _skipped(t, i) else ts.tensor(_grad(p.numpy(), noise[t][i]), device=strict)
        opt.step()
    be = ts.get_backend(strict)
    for a, b in zip(on_cpu, on_dev):
        assert b.device == be.name
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for s in opt.state.values():
        assert all(be.owns(v) for k, v in s.items() if k != "step")


def test_state_follows_parameters_moved_after_steps_and_onto_load(strict):
    inits, noise = _problem()
    model = ts.nn.Module()
    model.w = ts.nn.Parameter(ts.tensor(inits[0]))
    opt = optim.Adam(model.parameters(), lr=0.1, amsgrad=True)
    for t in range(2):
        model.w.grad = ts.tensor(_grad(model.w.numpy(), noise[t][0]))
        opt.step()
    model.to(strict)
    be = ts.get_backend(strict)
    model.w.grad = ts.tensor(_grad(model.w.numpy(), noise[2][0]), device=strict)
    opt.step()  # the state moves with the parameter instead of failing on mixed devices
    assert all(be.owns(v) for k, v in opt.state[model.w].items() if k != "step")
    sd = opt.state_dict()
    assert sd["state"][0]["exp_avg"].device == be.name

    host = ts.nn.Parameter(ts.tensor(inits[0]))
    opt_host = optim.Adam([host], lr=0.1, amsgrad=True)
    opt_host.load_state_dict(sd)  # device state dict onto host parameters
    assert all(isinstance(v, np.ndarray) for k, v in opt_host.state[host].items() if k != "step")
    back = ts.nn.Parameter(ts.tensor(inits[0], device=strict))
    opt_back = optim.Adam([back], lr=0.1, amsgrad=True)
    opt_back.load_state_dict(opt_host.state_dict())  # and host state onto device parameters
    assert all(be.owns(v) for k, v in opt_back.state[back].items() if k != "step")


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_float32_parameters_stay_float32(name):
    p = ts.nn.Parameter(ts.randn(4, 3))
    opt = getattr(optim, name)([p], **FULL_STATE[name])
    for _ in range(3):
        p.grad = ts.randn(4, 3)
        opt.step()
    assert p.dtype == ts.float32
    assert all(v.dtype == np.float32 for k, v in opt.state[p].items() if k != "step")


def test_zero_grad_and_closure():
    p = ts.nn.Parameter(ts.tensor([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1)
    p.grad = ts.tensor([3.0, 4.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ts.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.2, -2.0 + 0.4], rtol=1e-6)


def test_parameters_without_grad_are_left_alone():
    a, b = ts.nn.Parameter(ts.ones(2)), ts.nn.Parameter(ts.ones(2))
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.5)
    a.grad = ts.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    assert b not in opt.state and opt.state_dict()["state"].keys() == {0}


def test_add_param_group_and_repr():
    a, b = ts.nn.Parameter(ts.ones(2)), ts.nn.Parameter(ts.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    assert "Parameter Group 1" in repr(opt) and "momentum: 0.9" in repr(opt)


def test_end_to_end_linear_regression_trains():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.5], [-2.0], [0.5]], dtype=np.float32) + 0.3
    w = ts.nn.Parameter(ts.zeros(3, 1))
    bias = ts.nn.Parameter(ts.zeros(1))
    opt = optim.Adam([w, bias], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.3)
    xs, ys = ts.tensor(x), ts.tensor(y)
    for _ in range(300):
        opt.zero_grad()
        loss = ((xs @ w + bias - ys) ** 2).mean()
        loss.backward()
        ts.nn.utils.clip_grad_norm_([w, bias], 10.0)
        opt.step()
        sched.step()
    assert loss.item() < 1e-4
    np.testing.assert_allclose(w.numpy().ravel(), [1.5, -2.0, 0.5], atol=1e-2)


# -- bad input -------------------------------------------------------------------------------
def test_constructor_errors():
    p = ts.nn.Parameter(ts.ones(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: params must be an iterable.*got one tensor"):
        optim.Adam(p)
    with pytest.raises(TypeError, match=r"SGD: can only optimize tensors, got ndarray at index 0"):
        optim.SGD([np.ones(2)])
    with pytest.raises(ValueError, match=r"Adam: cannot optimize a non-leaf tensor \(shape \(2,\)\)"):
        optim.Adam([p * 2])
    with pytest.raises(ValueError, match="SGD: a parameter group lists the same parameter twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="RMSprop: some parameters appear in more than one parameter group"):
        optim.RMSprop([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError, match="ordered collection, not a set"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(ValueError, match="Adagrad: invalid lr -0.1"):
        optim.Adagrad([p], lr=-0.1)
    with pytest.raises(ValueError, match="Adam: invalid betas \\(0.9, 1.0\\)"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="RMSprop: invalid alpha -1"):
        optim.RMSprop([p], alpha=-1)
    with pytest.raises(ValueError, match="SGD: nesterov momentum needs momentum > 0 and dampening = 0"):
        optim.SGD([p], momentum=0.0, nesterov=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="SGD: invalid weight_decay -1"):
        opt.add_param_group({"params": [ts.nn.Parameter(ts.ones(1))], "weight_decay": -1})


def test_load_state_dict_errors():
    a, b = ts.nn.Parameter(ts.ones(2)), ts.nn.Parameter(ts.ones(2))
    sd = optim.Adam([a, b]).state_dict()
    msg = "Adam.load_state_dict: the state dict has 1 parameter groups, the optimizer 2$"
    with pytest.raises(ValueError, match=msg):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the state dict but 1"):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        optim.Adam([a]).load_state_dict({"model": 1})
