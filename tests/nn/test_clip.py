"""Gradient clipping: equal to PyTorch's for norm types 2, 1, inf and others."""

import math

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.nn.utils import clip_grad_norm_, clip_grad_value_


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _grads(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((4, 5)) * 3, rng.standard_normal(7), None, rng.standard_normal((2, 2, 2)) * 0.1]


def _params(grads, make, make_param):
    out = []
    for g in grads:
        p = make_param((1,) if g is None else g.shape)
        p.grad = None if g is None else make(g)
        out.append(p)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    grads = _grads()
    mine = _params(grads, ts.tensor, lambda s: ts.nn.Parameter(ts.zeros(s, dtype=ts.float64)))
    theirs = _params(grads, torch.tensor, lambda s: torch.zeros(s, dtype=torch.float64, requires_grad=True))
    total = clip_grad_norm_(mine, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, float(norm_type))
    assert isinstance(total, ts.Tensor) and total.shape == () and total.dtype == ts.float64
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-13)
    for a, b in zip(mine, theirs):
        if b.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_norm_of_unclipped_grads_is_exact_and_grads_untouched():
    p = ts.nn.Parameter(ts.zeros(2))
    p.grad = ts.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 10.0).item() == pytest.approx(5.0)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 4.0])
    assert clip_grad_norm_(p, 1.0, norm_type=1).item() == pytest.approx(7.0)
    np.testing.assert_allclose(p.grad.numpy(), [3.0 / 7, 4.0 / 7], rtol=1e-5)
    assert p.grad.dtype == ts.float32


def test_no_gradients_gives_zero():
    p = ts.nn.Parameter(ts.zeros(2))
    total = clip_grad_norm_([p], 1.0)
    assert total.item() == 0.0 and p.grad is None


def test_clipping_one_leaf_leaves_other_gradients_alone():
    # The engine hands both inputs of an add the same gradient array; clipping
    # one parameter's .grad in place must not reach the other's.
    a = ts.nn.Parameter(ts.zeros(3))
    b = ts.nn.Parameter(ts.zeros(3))
    ((a + b) * 3.0).sum().backward()
    clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0, 3.0])
    clip_grad_norm_([b], 1e-3)
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])


def test_nonfinite_norm(torch):
    p = ts.nn.Parameter(ts.zeros(3, dtype=ts.float64))
    p.grad = ts.tensor([1.0, float("nan"), 2.0], dtype=ts.float64)
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* is non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    q = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    q.grad = torch.tensor([1.0, float("nan"), 2.0], dtype=torch.float64)
    ref = torch.nn.utils.clip_grad_norm_([q], 1.0)
    total = clip_grad_norm_([p], 1.0)
    assert math.isnan(total.item()) and math.isnan(ref.item())
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())  # both all-NaN, as PyTorch leaves them


def test_clip_grad_value_matches_torch(torch):
    grads = _grads(1)
    mine = _params(grads, ts.tensor, lambda s: ts.nn.Parameter(ts.zeros(s, dtype=ts.float64)))
    theirs = _params(grads, torch.tensor, lambda s: torch.zeros(s, dtype=torch.float64, requires_grad=True))
    assert clip_grad_value_(mine, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for a, b in zip(mine, theirs):
        if b.grad is not None:
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_on_another_device():
    pytest.importorskip("tinyseq.devices.strict")
    grads = _grads(2)
    host = _params(grads, ts.tensor, lambda s: ts.nn.Parameter(ts.zeros(s, dtype=ts.float64)))
    dev = _params(grads, lambda g: ts.tensor(g, device="strict"),
                  lambda s: ts.nn.Parameter(ts.zeros(s, dtype=ts.float64, device="strict")))  # fmt: skip
    for norm_type in (2.0, math.inf):
        t_host = clip_grad_norm_(host, 0.3, norm_type)
        t_dev = clip_grad_norm_(dev, 0.3, norm_type)
        assert t_dev.device == "strict:0"
        np.testing.assert_allclose(t_dev.item(), t_host.item(), rtol=1e-14)
    clip_grad_value_(dev, 0.01)
    clip_grad_value_(host, 0.01)
    for a, b in zip(host, dev):
        if a.grad is not None:
            assert b.grad.device == "strict:0"
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-14)


def test_bad_arguments():
    p = ts.nn.Parameter(ts.zeros(2))
    p.grad = ts.ones(2)
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be > 0 or inf, got -1.0"):
        clip_grad_norm_([p], 1.0, norm_type=-1)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -0.5"):
        clip_grad_value_([p], -0.5)
