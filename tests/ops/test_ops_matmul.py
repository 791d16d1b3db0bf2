"""matmul / @ / mm: 1-D, 2-D, batched and broadcast batch dims, against PyTorch;
gradcheck; error messages."""

import numpy as np
import pytest

import tinyseq as ts


def _torch():
    return pytest.importorskip("torch")


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((4,), (2, 4, 3)), ((2, 2, 4), (4,)), ((1, 2, 3), (6, 3, 1)),
]  # fmt: skip


@pytest.mark.parametrize("sa,sb", SHAPES, ids=str)
def test_matmul_matches_torch(sa, sb):
    torch = _torch()
    a, b = data(*sa, seed=1), data(*sb, seed=2)
    ta, tb = ts.tensor(a, requires_grad=True), ts.tensor(b, requires_grad=True)
    ra, rb = torch.from_numpy(a).requires_grad_(), torch.from_numpy(b).requires_grad_()
    out, ref = ta @ tb, ra @ rb
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = data(*out.shape, seed=3)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), ra.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), rb.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sa,sb", SHAPES, ids=str)
def test_matmul_gradcheck(sa, sb):
    a = ts.tensor(data(*sa, seed=4), requires_grad=True)
    b = ts.tensor(data(*sb, seed=5), requires_grad=True)
    assert ts.gradcheck(ts.matmul, (a, b))


def test_matmul_one_side_constant():
    a = ts.tensor(data(4, 2, 3), requires_grad=True)
    b = ts.tensor(data(3, 5))
    assert ts.gradcheck(lambda x: x @ b, a)
    assert ts.gradcheck(lambda x: b.T @ x.transpose(1, 2), a)


def test_mm_and_method_forms():
    a, b = ts.tensor(data(2, 3)), ts.tensor(data(3, 4))
    np.testing.assert_allclose(ts.mm(a, b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(a.matmul(b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(a.mm(b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose((a.numpy() @ b).numpy(), a.numpy() @ b.numpy())  # ndarray @ tensor


def test_float32_matmul_stays_float32():
    out = ts.randn(2, 3) @ ts.randn(3, 4)
    assert out.dtype == ts.float32


def test_inner_dimension_error_message():
    with pytest.raises(ValueError, match=r"^matmul: \(2, 3\) @ \(4, 5\): inner dimensions differ \(3 vs 4\)$"):
        ts.ones(2, 3) @ ts.ones(4, 5)
    with pytest.raises(ValueError, match=r"^matmul: \(3,\) @ \(4,\): inner dimensions differ \(3 vs 4\)$"):
        ts.ones(3) @ ts.ones(4)
    with pytest.raises(ValueError, match=r"^matmul: \(32, 64\) @ \(128, 256\): inner dimensions differ \(64 vs 128\)$"):
        ts.ones(32, 64, requires_grad=True) @ ts.ones(128, 256)


def test_other_matmul_errors():
    with pytest.raises(ValueError, match=r"matmul: \(2, 2, 3\) @ \(3, 3, 4\): batch dimensions do not broadcast"):
        ts.ones(2, 2, 3) @ ts.ones(3, 3, 4)
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least 1 dimension, got \(\) @ \(3,\)"):
        ts.tensor(1.0) @ ts.ones(3)
    with pytest.raises(ValueError, match=r"matmul: dtypes differ \(float32 @ float64\) for \(2, 2\) @ \(2, 2\)"):
        ts.ones(2, 2) @ ts.ones(2, 2, dtype=ts.float64)
    with pytest.raises(ValueError, match=r"mm: expects 2-D tensors, got \(2, 2, 2\) and \(2, 2\)"):
        ts.mm(ts.ones(2, 2, 2), ts.ones(2, 2))
