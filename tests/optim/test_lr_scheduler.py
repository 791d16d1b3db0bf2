"""Learning-rate schedulers: lr sequences equal PyTorch's; state dicts resume."""

import math

import pytest

import tinyseq as ts
from tinyseq import optim
from tinyseq.optim import lr_scheduler

EPOCHS = 40


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _groups(make_param):
    return [{"params": [make_param()], "lr": 0.1}, {"params": [make_param()], "lr": 0.03}]


SCHEDULES = {
    "StepLR": dict(step_size=3, gamma=0.5),
    "StepLR-1": dict(step_size=1, gamma=0.9),
    "CosineAnnealingLR": dict(T_max=7, eta_min=0.001),
    "CosineAnnealingLR-0": dict(T_max=10),
    "LambdaLR": dict(lr_lambda=lambda e: 0.95**e / (1 + e % 3)),
    "ExponentialLR": dict(gamma=0.93),
    "MultiStepLR": dict(milestones=[5, 12, 12, 30], gamma=0.5),
}


def _sequence(make_sched, opt):
    sched = make_sched(opt)
    out = [sched.get_last_lr()]
    for _ in range(EPOCHS):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return out


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_lr_sequence_matches_torch(torch, case):
    cls = case.split("-")[0]
    kw = SCHEDULES[case]
    mine = _sequence(lambda o: getattr(lr_scheduler, cls)(o, **kw),
                     optim.SGD(_groups(lambda: ts.nn.Parameter(ts.ones(1))), lr=1.0))  # fmt: skip
    theirs = _sequence(lambda o: getattr(torch.optim.lr_scheduler, cls)(o, **kw),
                       torch.optim.SGD(_groups(lambda: torch.ones(1, requires_grad=True)), lr=1.0))  # fmt: skip
    assert mine == theirs  # plain float arithmetic in the same order: exactly equal


def test_closed_forms():
    opt = optim.SGD([ts.nn.Parameter(ts.ones(1))], lr=0.2)
    step = lr_scheduler.StepLR(opt, step_size=4, gamma=0.1)
    for epoch in range(1, 13):
        step.step()
        assert step.get_last_lr()[0] == pytest.approx(0.2 * 0.1 ** (epoch // 4), rel=1e-12)
    opt = optim.SGD([ts.nn.Parameter(ts.ones(1))], lr=0.2)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.02)
    assert cos.get_last_lr() == [0.2]
    for epoch in range(1, 16):
        cos.step()
        want = 0.02 + (0.2 - 0.02) * (1 + math.cos(math.pi * epoch / 5)) / 2
        assert cos.get_last_lr()[0] == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_state_dict_round_trip_through_a_checkpoint_resumes(tmp_path, case):
    cls = getattr(lr_scheduler, case.split("-")[0])
    kw = SCHEDULES[case]

    def fresh():
        opt = optim.Adam(_groups(lambda: ts.nn.Parameter(ts.ones(1))), lr=1.0)
        return opt, cls(opt, **kw)

    opt, sched = fresh()
    straight = _sequence(lambda o: cls(o, **kw), fresh()[0])
    for _ in range(EPOCHS // 2):
        opt.step()
        sched.step()
    ts.save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "c.npz")
    ckpt = ts.load(tmp_path / "c.npz")
    opt2, sched2 = fresh()
    opt2.load_state_dict(ckpt["optim"])
    sched2.load_state_dict(ckpt["sched"])
    assert sched2.last_epoch == EPOCHS // 2 and sched2.get_last_lr() == straight[EPOCHS // 2]
    for epoch in range(EPOCHS // 2 + 1, EPOCHS + 1):
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == straight[epoch]


def test_resuming_with_last_epoch_uses_initial_lr():
    opt = optim.SGD([ts.nn.Parameter(ts.ones(1))], lr=0.5)
    with pytest.raises(KeyError, match="StepLR: resuming at last_epoch=4 needs 'initial_lr' in param_groups\\[0\\]"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    opt.param_groups[0]["initial_lr"] = 0.5
    sched = lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (e + 1), last_epoch=4)
    assert sched.last_epoch == 5 and sched.get_last_lr() == [0.5 / 6]


def test_bad_arguments():
    opt = optim.SGD([{"params": [ts.nn.Parameter(ts.ones(1))]}, {"params": [ts.nn.Parameter(ts.ones(1))]}], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be positive, got -3"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=-3)
    with pytest.raises(ValueError, match="LambdaLR: got 1 lr_lambdas for 2 parameter groups"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        lr_scheduler.StepLR([], step_size=2)


PLATEAUS = {
    "min-rel": dict(patience=2, factor=0.5),
    "min-abs-cooldown": dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2, min_lr=[0.01, 0.02]),
    "max-rel": dict(mode="max", patience=0, factor=0.3, min_lr=0.005),
    "max-abs-eps": dict(mode="max", patience=1, threshold_mode="abs", threshold=0.1, eps=0.05),
}


def _plateau_sequence(lib, opt, kw):
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = [sched.get_last_lr()]
    for epoch in range(EPOCHS):  # a metric that improves, stalls, wobbles and improves again
        metric = 1.0 / (1 + epoch) if epoch < 8 else 0.1 + 0.01 * math.sin(epoch) + (0.05 if epoch > 25 else 0)
        opt.step()
        sched.step(metric)
        out.append(sched.get_last_lr())
    return out, sched.num_bad_epochs, sched.best


@pytest.mark.parametrize("case", sorted(PLATEAUS))
def test_reduce_lr_on_plateau_matches_torch(torch, case):
    kw = PLATEAUS[case]
    mine = _plateau_sequence(ts, optim.SGD(_groups(lambda: ts.nn.Parameter(ts.ones(1))), lr=1.0), kw)
    theirs = _plateau_sequence(torch, torch.optim.SGD(_groups(lambda: torch.ones(1, requires_grad=True)), lr=1.0), kw)
    assert mine == theirs


def test_reduce_lr_on_plateau_resumes_and_rejects_bad_arguments(tmp_path):
    opt = optim.SGD([ts.nn.Parameter(ts.ones(1))], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(ts.tensor(1.0))
    sched.step(2.0)
    assert sched.get_last_lr() == [0.1 * 0.1]
    again = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    ts.save({"sched": sched.state_dict()}, tmp_path / "s.npz")
    again.load_state_dict(ts.load(tmp_path / "s.npz")["sched"])
    assert again.best == 1.0 and again.last_epoch == 2 and again.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be < 1.0, got 1.5"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be 'min' or 'max', got 'up'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'pct'"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct")
    with pytest.raises(TypeError, match="ReduceLROnPlateau: expected an Optimizer, got list"):
        lr_scheduler.ReduceLROnPlateau([])
    with pytest.raises(ValueError, match="ReduceLROnPlateau: got 2 min_lrs for 1 parameter groups"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.0, 0.1])
    with pytest.raises(ValueError, match=r"MultiStepLR: milestones must be non-negative integers, got \[3, -1\]"):
        lr_scheduler.MultiStepLR(opt, [3, -1])
