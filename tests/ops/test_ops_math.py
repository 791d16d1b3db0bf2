"""sin, cos, prod, isclose and ts.pi, against torch, with float64 gradchecks."""

import math

import numpy as np
import pytest

import tinyseq as ts


def _pair(shape, seed=0):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(seed).standard_normal(shape)
    return ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_matches_torch_and_gradchecks(name):
    x, tx = _pair((3, 4))
    out, ref = getattr(ts, name)(x), getattr(tx, name)()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-14)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)
    assert ts.gradcheck(getattr(ts, name), (x,))
    assert getattr(x, name)().shape == (3, 4)
    assert getattr(ts, name)(ts.tensor([0, 1])).dtype == ts.float32  # integers -> the default float dtype


def test_pi_and_friends():
    assert ts.pi == math.pi and ts.e == math.e and ts.inf == math.inf and math.isnan(ts.nan)
    np.testing.assert_allclose(ts.sin(ts.tensor([ts.pi / 2], dtype=ts.float64)).numpy(), [1.0])


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_prod_matches_torch_with_zeros(dim, keepdim):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).uniform(0.5, 1.5, (3, 4))
    a[0, 1] = 0.0  # one zero in a row
    a[2, 0] = a[2, 3] = 0.0  # two zeros in a row: every gradient of that row is 0
    x, tx = ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    if dim is None:
        out, ref = ts.prod(x), torch.prod(tx)
    else:
        out, ref = x.prod(dim, keepdim=keepdim), tx.prod(dim, keepdim=keepdim)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-14)
    w = np.random.default_rng(3).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_prod_gradcheck_with_and_without_zeros():
    x = ts.tensor([[0.5, 0.0, 2.0], [1.5, -0.7, 0.3]], dtype=ts.float64, requires_grad=True)
    assert ts.gradcheck(lambda a: ts.prod(a, 1), (x,))
    assert ts.gradcheck(lambda a: ts.prod(a, 0, keepdim=True), (x,))
    assert ts.gradcheck(ts.prod, (x,))


def test_prod_of_integers_and_empty():
    torch = pytest.importorskip("torch")
    i = [[1, 2, 3], [4, 5, 6]]
    for dtype in ("int32", "bool"):
        ours, ref = ts.tensor(i).to(getattr(ts, dtype)).prod(1), torch.tensor(i).to(getattr(torch, dtype)).prod(1)
        assert ours.dtype.name == str(ref.dtype).replace("torch.", "") and ours.tolist() == ref.tolist()
    e = ts.zeros(0, 3, requires_grad=True)
    p = e.prod(0)
    p.sum().backward()
    assert p.tolist() == [1.0, 1.0, 1.0] and e.grad.shape == (0, 3)
    with pytest.raises(ValueError, match=r"prod: dim must be an int, got \(0, 1\)"):
        ts.prod(ts.ones(2, 2), (0, 1))


def test_isclose_matches_torch():
    torch = pytest.importorskip("torch")
    a = [1.0, 1.0 + 1e-6, 1.1, float("nan"), float("inf")]
    b = [1.0, 1.0, 1.0, float("nan"), float("inf")]
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 1e-5, "rtol": 0}):
        ours = ts.isclose(ts.tensor(a, dtype=ts.float64), ts.tensor(b, dtype=ts.float64), **kw)
        ref = torch.isclose(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), **kw)
        assert ours.dtype == ts.bool and ours.tolist() == ref.tolist(), kw
    assert ts.tensor([1.0, 2.0]).isclose(ts.tensor([1.0, 2.1])).tolist() == [True, False]
    with pytest.raises(ValueError, match=r"isclose: shapes \(2,\) and \(3,\) cannot be broadcast together"):
        ts.isclose(ts.ones(2), ts.ones(3))


def test_floor_divide_and_remainder_match_torch():
    torch = pytest.importorskip("torch")
    a, b = [-7.5, 7.5, -6.0, 5.25, 0.0], [2.0, -2.0, 4.0, 0.5, 3.0]
    x, y = ts.tensor(a, dtype=ts.float64, requires_grad=True), ts.tensor(b, dtype=ts.float64, requires_grad=True)
    tx, ty = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64,
                                                                                      requires_grad=True)  # fmt: skip
    assert (x // y).tolist() == (tx // ty).tolist() and (x // 2).tolist() == (tx // 2).tolist()
    (x % y).sum().backward()
    (tx % ty).sum().backward()
    assert (x % y).tolist() == (tx % ty).tolist() and (7.0 % y.detach()).tolist() == (7.0 % ty.detach()).tolist()
    assert x.grad.tolist() == tx.grad.tolist() and y.grad.tolist() == ty.grad.tolist()
    i, j = [-7, 7, 5, 0], [2, -2, 3, 4]
    for ours, ref in [(ts.tensor(i) // ts.tensor(j), torch.tensor(i) // torch.tensor(j)),
                      (ts.tensor(i) % ts.tensor(j), torch.tensor(i) % torch.tensor(j)),
                      (ts.tensor(i).remainder(3), torch.tensor(i).remainder(3))]:  # fmt: skip
        assert ours.dtype == ts.int64 and ours.tolist() == ref.tolist()
    g = ts.tensor([[0.3, 1.7], [-2.2, 5.1]], dtype=ts.float64, requires_grad=True)
    assert ts.gradcheck(lambda t: ts.remainder(t, 0.8), (g,))


def test_format_of_a_scalar_tensor():
    loss = ts.tensor(1.23456)
    assert f"{loss:.2f}" == "1.23" and "{:5.1f}".format(loss) == "  1.2"
    with pytest.raises(TypeError):
        f"{ts.ones(2):.2f}"
