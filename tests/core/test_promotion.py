"""Type promotion as PyTorch's: tensor-tensor, zero-dim tensors, Python scalars, and
gradients that come back in each input's own dtype."""

import itertools

import numpy as np
import pytest

import tinyseq as ts

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = [True, 3, -2, 2.5, 1 + 2j]


def _ours(name, shape):
    return ts.ones(shape, dtype=getattr(ts, name))


def _theirs(torch, name, shape):
    return torch.ones(shape, dtype=getattr(torch, name))


def _name(dtype):
    return str(dtype).replace("torch.", "")


@pytest.mark.parametrize("shape_a, shape_b", [((2,), (2,)), ((2,), ()), ((), (2,)), ((), ())])
def test_result_type_of_two_tensors_matches_torch(shape_a, shape_b):
    torch = pytest.importorskip("torch")
    for a, b in itertools.product(DTYPES, DTYPES):
        want = torch.result_type(_theirs(torch, a, shape_a), _theirs(torch, b, shape_b))
        got = ts.result_type(_ours(a, shape_a), _ours(b, shape_b))
        assert got.name == _name(want), (a, shape_a, b, shape_b)


@pytest.mark.parametrize("shape", [(2,), ()])
def test_result_type_of_a_tensor_and_a_scalar_matches_torch(shape):
    torch = pytest.importorskip("torch")
    for a, s in itertools.product(DTYPES, SCALARS):
        if a == "float16" and isinstance(s, complex):
            continue  # PyTorch's complex32 has no NumPy counterpart (tinyseq gives complex64)
        want = torch.result_type(_theirs(torch, a, shape), s)
        assert ts.result_type(_ours(a, shape), s).name == _name(want), (a, shape, s)


def test_promote_types_matches_torch():
    torch = pytest.importorskip("torch")
    for a, b in itertools.product(DTYPES, DTYPES):
        want = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert ts.promote_types(getattr(ts, a), getattr(ts, b)).name == _name(want), (a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_ops_compute_in_the_promoted_dtype(op):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for a, b in itertools.product(["int32", "int64", "float32", "float64"], repeat=2):
        x, y = rng.uniform(1, 3, (2, 3)), rng.uniform(1, 3, (3,))
        ours = getattr(ts, op)(ts.tensor(x).to(getattr(ts, a)), ts.tensor(y).to(getattr(ts, b)))
        ref = getattr(torch, op)(torch.tensor(x).to(getattr(torch, a)), torch.tensor(y).to(getattr(torch, b)))
        assert ours.dtype.name == _name(ref.dtype), (op, a, b)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


def test_python_scalars_do_not_upcast_float_tensors():
    x = ts.ones(2)
    assert (x * 2.5).dtype == ts.float32 and (2 ** x).dtype == ts.float32 and (x + 1).dtype == ts.float32
    i = ts.tensor([1, 2])
    assert (i * 2.5).dtype == ts.float32 and (i + 1).dtype == ts.int64 and (i / 2).dtype == ts.float32
    wrapped = ts.ones(2, dtype=ts.uint8) + 300  # as in PyTorch: the scalar wraps
    assert wrapped.dtype == ts.uint8 and wrapped.tolist() == [45, 45]
    assert (ts.ones(2, dtype=ts.float16) * 3.0).dtype == ts.float16


def test_gradients_come_back_in_each_inputs_dtype():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x0, y0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, y = ts.tensor(x0.astype(np.float32), requires_grad=True), ts.tensor(y0, requires_grad=True)
    tx, ty = torch.tensor(x0.astype(np.float32), requires_grad=True), torch.tensor(y0, requires_grad=True)
    for lib, a, b in ((ts, x, y), (torch, tx, ty)):
        out = lib.where(a > 0, a * b, a / (b * b + 1.0)) - lib.maximum(a, b)
        (out * out).sum().backward()
    assert x.grad.dtype == ts.float32 and y.grad.dtype == ts.float64
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-6)


def test_mixed_dtypes_gradcheck():
    x = ts.tensor([[0.3, -1.2], [0.7, 2.0]], dtype=ts.float64, requires_grad=True)
    n = ts.tensor([1, 2], dtype=ts.int32)
    assert ts.gradcheck(lambda a: (a * n + a / n).sum(dim=1), (x,))


def test_cat_and_stack_promote():
    torch = pytest.importorskip("torch")
    parts = ([1, 2], ts.int32, torch.int32), ([0.5, 1.5], ts.float64, torch.float64), ([3, 4], ts.int64, torch.int64)
    ours = ts.cat([ts.tensor(v, dtype=d) for v, d, _ in parts])
    ref = torch.cat([torch.tensor(v, dtype=d) for v, _, d in parts])
    assert ours.dtype.name == _name(ref.dtype) and ours.tolist() == ref.tolist()
    a = ts.ones(2, requires_grad=True)
    s = ts.stack([a, ts.zeros(2, dtype=ts.float64)])
    s.sum().backward()
    assert s.dtype == ts.float64 and a.grad.dtype == ts.float32


def test_default_dtype_sets_what_floats_become():
    assert ts.get_default_dtype() == ts.float32
    try:
        ts.set_default_dtype(ts.float64)
        assert ts.tensor([1.5]).dtype == ts.float64 and ts.zeros(2).dtype == ts.float64
        assert (ts.tensor([1, 2]) / 2).dtype == ts.float64 and (ts.tensor([1]) * 0.5).dtype == ts.float64
        assert ts.ones(2, dtype=ts.float32).dtype == ts.float32 and ts.arange(3).dtype == ts.int64
        assert ts.nn.Linear(2, 3).weight.dtype == ts.float64
    finally:
        ts.set_default_dtype(ts.float32)
    assert ts.zeros(1).dtype == ts.float32
    with pytest.raises(TypeError, match="set_default_dtype: only floating dtypes"):
        ts.set_default_dtype(ts.int64)


def test_in_place_ops_refuse_results_that_do_not_fit_like_torch():
    torch = pytest.importorskip("torch")
    cases = [
        ("add_", "int64", 1.5), ("add_", "int64", 2), ("mul_", "int32", ts.ones(2, dtype=ts.float64)),
        ("div_", "int64", 2), ("add_", "bool", 1), ("mul_", "bool", True), ("add_", "float32", 2.5),
        ("add_", "float32", ts.ones(2, dtype=ts.float64)),
    ]  # fmt: skip
    for name, dtype, other in cases:
        theirs = torch.tensor(other.numpy()) if isinstance(other, ts.Tensor) else other
        try:
            getattr(torch.ones(2, dtype=getattr(torch, dtype)), name)(theirs)
            ok = True
        except RuntimeError:
            ok = False
        x = ts.ones(2, dtype=getattr(ts, dtype))
        if ok:
            getattr(x, name)(other)
            assert x.dtype == getattr(ts, dtype)
        else:
            with pytest.raises(RuntimeError, match=f"{name}: result type .* can't be cast to the desired output type"):
                getattr(x, name)(other)
