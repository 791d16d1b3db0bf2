"""erf (a primitive computed through xp) and GELU built on it, against math.erf and torch in float64."""

import math

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn


def test_erf_matches_math_erf_to_float64_rounding():
    xs = np.concatenate([np.linspace(-7, 7, 20001), -np.logspace(-300, 0.5, 200), np.logspace(-300, 0.5, 200),
                         [0.0, -0.0, 1.9999999999, 2.0, 2.0000000001, 30.0, -30.0]])  # fmt: skip
    got = ts.erf(ts.tensor(xs)).numpy()
    ref = np.array([math.erf(v) for v in xs])
    assert np.max(np.abs(got - ref)) < 2e-15
    small = np.abs(xs) < 1e-3  # relative accuracy where erf(x) ~ 2x/sqrt(pi)
    np.testing.assert_allclose(got[small], ref[small], rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype,tol", [("float32", 6e-8), ("float16", 5e-4)])
def test_erf_narrow_dtypes_round_correctly(dtype, tol):
    xs = np.linspace(-6, 6, 4001).astype(dtype)
    got = ts.erf(ts.tensor(xs)).numpy()
    assert got.dtype == np.dtype(dtype)
    ref = np.array([math.erf(v) for v in xs.astype(np.float64)])
    assert np.max(np.abs(got.astype(np.float64) - ref)) < tol


def test_erf_special_values_and_dtypes():
    x = ts.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0], dtype=ts.float32)
    y = ts.erf(x)
    assert y.dtype == ts.float32
    np.testing.assert_array_equal(y.numpy()[1:], [1.0, -1.0, 0.0, -0.0])
    assert np.isnan(y.numpy()[0]) and np.signbit(y.numpy()[4])
    assert ts.erf(ts.tensor([1, 2])).dtype == ts.float32  # integers compute in the default float dtype
    assert x.erf().shape == (5,)


def test_erf_gradcheck():
    x = ts.tensor(np.random.default_rng(0).standard_normal(12) * 2, requires_grad=True)
    assert ts.gradcheck(ts.erf, (x,))


def test_erf_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((4, 5)) * 3
    t = ts.tensor(x, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    ts.erf(t).sum().backward()
    torch.erf(p).sum().backward()
    np.testing.assert_allclose(ts.erf(ts.tensor(x)).numpy(), torch.erf(p).detach().numpy(), rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 7)) * 3
    t = ts.tensor(x, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    out, ref = nn.GELU(approximate)(t), torch.nn.GELU(approximate)(p)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-14, atol=1e-15)
    w = np.random.default_rng(3).standard_normal(x.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert repr(nn.GELU(approximate)) == repr(torch.nn.GELU(approximate))
    assert ts.gradcheck(lambda a: nn.functional.gelu(a, approximate=approximate), (t.detach().requires_grad_(),))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="gelu: approximate"):
        nn.functional.gelu(ts.ones(2), approximate="erf")
