"""Reductions: sum mean max min var std logsumexp amax amin argmax argmin, with
dim/keepdim/negative dims, against PyTorch; gradcheck; ties; errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyseq as ts


def _torch():
    return pytest.importorskip("torch")


def check_against_torch(fn, x, torch_fn=None, rtol=1e-10, atol=1e-12):
    """Values and gradients (of a random weighting of the output) of fn on float64 ``x``."""
    torch = _torch()
    torch_fn = torch_fn or fn
    x = np.asarray(x, dtype=np.float64)
    ours, theirs = ts.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    out, ref = fn(ours), torch_fn(theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(1).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=rtol, atol=atol)


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@st.composite
def shape_and_dims(draw, min_dims=1):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    n = len(shape)
    dims = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=n, unique_by=lambda d: d % n))
    return shape, dims


REDUCTIONS = ["sum", "mean", "amax", "amin", "logsumexp", "var", "std"]


@settings(max_examples=60, deadline=None)
@given(sd=shape_and_dims(), name=st.sampled_from(REDUCTIONS), keepdim=st.booleans(), seed=st.integers(0, 999))
def test_reductions_over_dims_match_torch(sd, name, keepdim, seed):
    shape, dims = sd
    dim = dims if len(dims) > 1 else dims[0]
    if name in ("var", "std") and np.prod([shape[d] for d in dims]) < 2:
        dim, shape = dims[0], shape  # one element per group: torch warns and gives nan
        return
    check_against_torch(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim), data(*shape, seed=seed))


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "max", "min"])
def test_full_reductions_match_torch(name):
    check_against_torch(lambda t: getattr(t, name)(), data(3, 4))


def test_logsumexp_all_dims():
    check_against_torch(lambda t: t.logsumexp(), data(3, 4), lambda t: t.logsumexp(dim=(0, 1)))


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "var", "std"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)])
def test_reductions_gradcheck(name, dim):
    x = ts.tensor(data(2, 3, 2, seed=3), requires_grad=True)
    assert ts.gradcheck(lambda t: getattr(t, name)(dim=dim), x)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_return_values_and_indices(largest, dim, keepdim):
    torch = _torch()
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0], [5.0, 0.0, 5.0, 0.0]])  # ties everywhere
    name = "max" if largest else "min"
    ours, theirs = ts.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    out, ref = getattr(ours, name)(dim=dim, keepdim=keepdim), getattr(theirs, name)(dim=dim, keepdim=keepdim)
    values, indices = out
    assert out.values is values and out.indices is indices
    assert indices.dtype == ts.int64 and not indices.requires_grad
    np.testing.assert_array_equal(values.numpy(), ref.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    values.sum().backward()
    ref.values.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_full_max_min_split_gradient_between_ties_like_torch():
    x = [[3.0, 1.0, 3.0], [0.0, 3.0, -2.0]]
    check_against_torch(lambda t: t.max(), x)
    check_against_torch(lambda t: t.min(), [[-2.0, 1.0], [-2.0, 0.0]])
    check_against_torch(lambda t: t.amax(dim=1), x)


def test_max_of_two_tensors_is_elementwise():
    a, b = ts.tensor([1.0, 5.0]), ts.tensor([3.0, 2.0])
    assert ts.max(a, b).tolist() == [3.0, 5.0]
    assert ts.min(a, b).tolist() == [1.0, 2.0]


def test_max_gradcheck_with_dim():
    x = ts.tensor(data(3, 4, seed=2), requires_grad=True)
    assert ts.gradcheck(lambda t: t.max(dim=1).values, x)
    assert ts.gradcheck(lambda t: t.min(dim=0, keepdim=True)[0], x)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_like_torch(name):
    torch = _torch()
    x = np.array([[1.0, 3.0, 3.0], [4.0, 4.0, -1.0]])
    for kw in ({}, {"dim": 0}, {"dim": 1}, {"dim": -1, "keepdim": True}, {"keepdim": True}):
        if kw == {"keepdim": True} and torch.__version__ < "2":
            continue
        ours = getattr(ts.tensor(x), name)(**kw)
        ref = getattr(torch.from_numpy(x), name)(**kw)
        assert ours.dtype == ts.int64
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        assert ours.shape == tuple(ref.shape)


def test_sum_dtypes():
    assert ts.tensor([1, 2]).sum().dtype == ts.int64
    assert ts.tensor([True, True]).sum().item() == 2
    assert ts.tensor([1, 2], dtype=ts.int32).sum().dtype == ts.int64
    assert ts.tensor([1.0, 2.0], dtype=ts.float64).sum(dtype=ts.float32).dtype == ts.float32
    assert ts.tensor([1.0, 2.0]).sum().dtype == ts.float32


def test_var_std_corrections_like_torch():
    torch = _torch()
    x = data(4, 5, seed=4)
    for kw in ({}, {"unbiased": False}, {"correction": 0}, {"correction": 2}, {"dim": 1, "unbiased": True}):
        check_against_torch(lambda t, kw=kw: t.var(**kw), x)
        check_against_torch(lambda t, kw=kw: t.std(**kw), x)
    assert torch is not None


def test_reductions_of_0d_tensors():
    torch = _torch()
    for name in ("sum", "mean", "amax", "logsumexp"):
        check_against_torch(lambda t, n=name: getattr(t, n)(dim=0), 2.5)
        check_against_torch(lambda t, n=name: getattr(t, n)(dim=-1), 2.5)
    v, i = ts.tensor(2.0).max(dim=0)
    assert v.item() == 2.0 and i.item() == 0 and v.shape == () and i.shape == ()
    assert torch is not None


def test_reduction_results_are_arrays_not_numpy_scalars():
    s = ts.ones(3).sum()
    assert isinstance(s._data, np.ndarray) and s.shape == ()
    s.zero_()  # in-place on a 0-d result works (numpy scalars are immutable)
    assert s.item() == 0.0


def test_logsumexp_stable_for_huge_logits():
    x = ts.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    y = x.logsumexp(dim=1)
    np.testing.assert_allclose(y.numpy(), [1e4, -1e4 + np.log(3)], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0), as numpy says
        assert ts.tensor([-np.inf, -np.inf]).logsumexp(dim=0).item() == -np.inf


# -- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "logsumexp", "var", "argmax", "max"])
def test_dim_out_of_range_names_op_dim_and_shape(name):
    with pytest.raises(ValueError, match=rf"{name}: dim 2 out of range for a tensor of shape \(2, 3\)"):
        getattr(ts.ones(2, 3), name)(dim=2)
    with pytest.raises(ValueError, match=rf"{name}: dim -3 out of range"):
        getattr(ts.ones(2, 3), name)(dim=-3)


def test_repeated_dim_is_an_error():
    with pytest.raises(ValueError, match=r"sum: dim \(0, -2\) repeats a dimension"):
        ts.ones(2, 3).sum(dim=(0, -2))


def test_max_of_empty_is_an_error():
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor of shape \(0,\)"):
        ts.zeros(0).max()


def test_mean_of_integers_is_an_error():
    with pytest.raises(ValueError, match="mean: needs a floating-point tensor, got int64"):
        ts.tensor([1, 2]).mean()
