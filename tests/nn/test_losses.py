"""Loss modules and their functional forms vs PyTorch (float64): values and input gradients
for every reduction, class weights, ignore_index, label smoothing, probability targets,
pos_weight; gradcheck of the weighted paths; errors."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn

F = nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _check(ours, theirs, x, target, rtol=1e-11, atol=1e-12):
    """ours(ts input, ts target) vs theirs(torch input, torch target): value and input gradient."""
    torch = _torch()
    tx, px = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tt, pt = ts.tensor(target), torch.tensor(target)
    out, ref = ours(tx, tt), theirs(px, pt)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    w = rand(*out.shape, seed=5)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=rtol, atol=atol)


CLASS_CASES = {
    "2d": ((6, 5), (6,)),
    "4d": ((2, 5, 3, 4), (2, 3, 4)),
    "1d": ((5,), ()),
}


def _targets(shape, num_classes, ignore=None, seed=1):
    t = np.random.default_rng(seed).integers(0, num_classes, shape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return t


CE_OPTIONS = [
    {}, {"ignore_index": 2}, {"weight": True}, {"weight": True, "ignore_index": 0}, {"label_smoothing": 0.2},
    {"label_smoothing": 0.3, "weight": True, "ignore_index": 1},
]  # fmt: skip
# a single 0-d target cannot be partly ignored: no ignore_index for the 1-D case
CE_CASES = [(c, k) for c in CLASS_CASES for k in CE_OPTIONS if not (c == "1d" and "ignore_index" in k)]


@pytest.mark.parametrize("case,kwargs", CE_CASES, ids=[f"{c}-{sorted(k.items())}" for c, k in CE_CASES])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_loss_matches_torch(case, reduction, kwargs):
    torch = _torch()
    x_shape, t_shape = CLASS_CASES[case]
    ignore = kwargs.get("ignore_index")
    target = _targets(t_shape, 5, ignore)
    weight = rand(5, seed=3) ** 2 + 0.1 if kwargs.get("weight") else None
    extra = {k: v for k, v in kwargs.items() if k != "weight"}
    ours = nn.CrossEntropyLoss(None if weight is None else ts.tensor(weight), reduction=reduction, **extra)
    ref = torch.nn.CrossEntropyLoss(None if weight is None else torch.tensor(weight), reduction=reduction, **extra)
    _check(ours, ref, rand(*x_shape), target)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "kwargs", [{}, {"weight": True}, {"label_smoothing": 0.1}, {"weight": True, "label_smoothing": 0.25}]
)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (3,)])
def test_cross_entropy_probability_targets_match_torch(reduction, kwargs, shape):
    torch = _torch()
    dim = 0 if len(shape) == 1 else 1
    probs = np.exp(rand(*shape, seed=2))
    probs /= probs.sum(axis=dim, keepdims=True)
    weight = rand(3, seed=3) ** 2 + 0.1 if kwargs.get("weight") else None
    ls = kwargs.get("label_smoothing", 0.0)
    _check(
        lambda x, t: F.cross_entropy(x, t, None if weight is None else ts.tensor(weight), reduction=reduction,
                                     label_smoothing=ls),
        lambda x, t: torch.nn.functional.cross_entropy(x, t, None if weight is None else torch.tensor(weight),
                                                       reduction=reduction, label_smoothing=ls),
        rand(*shape), probs,
    )  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", ["2d", "4d"])
def test_nll_loss_matches_torch(reduction, weighted, case):
    torch = _torch()
    x_shape, t_shape = CLASS_CASES[case]
    weight = rand(5, seed=3) ** 2 + 0.1 if weighted else None
    ours = nn.NLLLoss(None if weight is None else ts.tensor(weight), ignore_index=4, reduction=reduction)
    ref = torch.nn.NLLLoss(None if weight is None else torch.tensor(weight), ignore_index=4, reduction=reduction)
    logp = rand(*x_shape)
    _check(lambda x, t: ours(ts.log_softmax(x, 1), t), lambda x, t: ref(torch.log_softmax(x, 1), t),
           logp, _targets(t_shape, 5, ignore=4))  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses_match_torch(reduction, name):
    torch = _torch()
    ours, ref = getattr(nn, name)(reduction=reduction), getattr(torch.nn, name)(reduction=reduction)
    _check(ours, ref, rand(3, 4, 2), rand(3, 4, 2, seed=7))
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kw", [("HuberLoss", {}), ("HuberLoss", {"delta": 0.3}), ("SmoothL1Loss", {}),
                                      ("SmoothL1Loss", {"beta": 0.25}), ("SmoothL1Loss", {"beta": 0.0})])
def test_robust_regression_losses_match_torch(reduction, name, kw):
    """Both branches, and differences exactly at the threshold (PyTorch's gradient there is the linear one)."""
    torch = _torch()
    ours, ref = getattr(nn, name)(reduction=reduction, **kw), getattr(torch.nn, name)(reduction=reduction, **kw)
    x = rand(3, 4, 2) * 2
    t = rand(3, 4, 2, seed=7)
    width = kw.get("delta", kw.get("beta", 1.0))
    x[0, 0] = t[0, 0] + width  # on the threshold, both sides
    x[0, 1] = t[0, 1] - width
    _check(ours, ref, x, t)


def test_robust_losses_gradcheck_and_errors():
    x = ts.tensor(rand(4, 3) * 3, requires_grad=True)
    t = ts.tensor(rand(4, 3, seed=2))
    assert ts.gradcheck(lambda x: ts.nn.functional.huber_loss(x, t, delta=0.7), x)
    assert ts.gradcheck(lambda x: ts.nn.functional.smooth_l1_loss(x, t, reduction="sum", beta=0.4), x)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0, got -1"):
        nn.SmoothL1Loss(beta=-1)(x, t)
    with pytest.raises(ValueError, match=r"huber_loss: input shape \(4, 3\) and target shape \(3, 4\) differ"):
        nn.HuberLoss()(x, ts.randn(3, 4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_loss_matches_torch(reduction, weighted, pos):
    torch = _torch()
    weight = rand(1, 4, seed=3) ** 2 if weighted else None
    pos_weight = rand(4, seed=4) ** 2 + 0.5 if pos else None
    ours = nn.BCEWithLogitsLoss(None if weight is None else ts.tensor(weight), reduction=reduction,
                                pos_weight=None if pos_weight is None else ts.tensor(pos_weight))
    ref = torch.nn.BCEWithLogitsLoss(None if weight is None else torch.tensor(weight), reduction=reduction,
                                     pos_weight=None if pos_weight is None else torch.tensor(pos_weight))
    target = np.random.default_rng(8).random((3, 4))
    _check(ours, ref, rand(3, 4) * 30, target)  # large logits: must stay finite
    assert list(ours.state_dict()) == list(ref.state_dict())


def test_weighted_and_smoothed_cross_entropy_gradcheck():
    x = ts.tensor(rand(4, 3, 2), requires_grad=True)
    target = ts.tensor(np.array([[0, 2], [1, 1], [2, -100], [0, 1]]))
    weight = ts.tensor([0.5, 2.0, 1.5], dtype=ts.float64)
    for reduction in REDUCTIONS:
        assert ts.gradcheck(
            lambda x, r=reduction: F.cross_entropy(x, target, weight, reduction=r, label_smoothing=0.2), (x,)
        )
    probs = ts.softmax(ts.tensor(rand(4, 3, 2, seed=1)), dim=1)
    assert ts.gradcheck(lambda x: F.cross_entropy(x, probs, weight, label_smoothing=0.1), (x,))


def test_cross_entropy_fused_unless_weighted_or_smoothed():
    x, t = ts.randn(4, 3, requires_grad=True), ts.tensor([0, 1, 2, 1])
    assert F.cross_entropy(x, t).grad_fn.name == "SoftmaxCrossEntropy"
    assert F.cross_entropy(x, t, label_smoothing=0.1).grad_fn.name != "SoftmaxCrossEntropy"


def test_loss_accepts_numpy_weights_and_float32():
    loss = nn.CrossEntropyLoss(weight=ts.tensor([1.0, 2.0, 3.0]))(ts.randn(5, 3), ts.tensor([0, 1, 2, 2, 1]))
    assert loss.dtype == ts.float32
    out = F.nll_loss(ts.randn(2, 3), ts.tensor([0, 2]), np.array([1.0, 1.0, 2.0]))
    assert out.dtype == ts.float32


def test_loss_errors():
    x = ts.randn(4, 3)
    t = ts.tensor([0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(2,\) needs one entry per class \(3\)"):
        F.cross_entropy(x, t, ts.ones(2))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: reduction must be one of .* got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(4, 3\) need a target of shape \(4,\)"):
        nn.CrossEntropyLoss()(x, ts.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: target must hold class indices .* got float32"):
        nn.CrossEntropyLoss()(x, ts.randn(4, 2))
    with pytest.raises(ValueError, match=r"nll_loss: target 3 is out of range for 3 classes"):
        nn.NLLLoss()(x, ts.tensor([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 3\) and target shape \(4,\) differ"):
        nn.MSELoss()(x, ts.randn(4))
    with pytest.raises(ValueError, match=r"l1_loss: input shape \(4, 3\) and target shape \(3, 4\) differ"):
        nn.L1Loss()(x, ts.randn(3, 4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: input shape \(4, 3\) and target"):
        nn.BCEWithLogitsLoss()(x, ts.randn(4, 1))
