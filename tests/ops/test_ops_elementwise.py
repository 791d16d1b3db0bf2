"""Elementwise ops: values and gradients against PyTorch, gradcheck in float64,
broadcasting (Hypothesis), dtype rules for scalars and mixed tensors, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyseq as ts


def _torch():
    return pytest.importorskip("torch")


def _leaves(arrays):
    return [ts.tensor(a, requires_grad=True) for a in arrays]


def check_against_torch(fn, arrays, torch_fn=None, rtol=1e-10, atol=1e-12):
    """fn(*tensors) in tinyseq and torch (torch_fn, default fn) on float64 copies of
    ``arrays``: same values, and the same gradients of a random weighting of the output."""
    torch = _torch()
    torch_fn = torch_fn or fn
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    ours = _leaves(arrays)
    theirs = [torch.from_numpy(np.array(a)).requires_grad_() for a in arrays]
    out, ref = fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    assert out.shape == tuple(ref.shape)
    w = np.random.default_rng(1).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=rtol, atol=atol)
        assert x.grad.shape == x.shape


def rand(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def positive(*shape, seed=0):
    return rand(*shape, low=0.5, high=2.0, seed=seed)


# -- binary ops, values and grads, with broadcasting ---------------------------------
BINARY = {
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, None),
    "maximum": (ts.maximum, lambda a, b: a.maximum(b)),
    "minimum": (ts.minimum, lambda a, b: a.minimum(b)),
    "pow": (lambda a, b: a**b, None),
}
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((1,), (5, 1))]


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary_matches_torch(name, shapes):
    fn, torch_fn = BINARY[name]
    a, b = positive(*shapes[0], seed=1), positive(*shapes[1], seed=2)
    if name != "pow":
        a = a - 1.2  # mixed signs, away from zero only where division needs it
    check_against_torch(fn, [a, b], torch_fn)


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPES[:3], ids=str)
def test_binary_gradcheck(name, shapes):
    fn, _ = BINARY[name]
    a = ts.tensor(positive(*shapes[0], seed=3), requires_grad=True)
    b = ts.tensor(positive(*shapes[1], seed=4) + 0.1, requires_grad=True)
    assert ts.gradcheck(fn, (a, b))


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       name=st.sampled_from(["add", "sub", "mul", "div", "maximum"]), seed=st.integers(0, 2**16))
def test_broadcasting_any_shapes_matches_torch(shapes, name, seed):
    (sa, sb), _ = shapes.input_shapes, shapes.result_shape
    fn, torch_fn = BINARY[name]
    check_against_torch(fn, [rand(*sa, seed=seed), positive(*sb, seed=seed + 1)], torch_fn)


def test_broadcast_failure_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"):
        ts.randn(2, 3) + ts.randn(4, 5)
    with pytest.raises(ValueError, match=r"mul: shapes \(3,\) and \(2,\) cannot be broadcast"):
        ts.randn(3, requires_grad=True) * ts.randn(2)


# -- Python scalars on either side --------------------------------------------------------
@pytest.mark.parametrize("expr", [
    lambda x: x + 2, lambda x: 2 + x, lambda x: x - 2, lambda x: 2 - x, lambda x: x * 3.5,
    lambda x: 3.5 * x, lambda x: x / 4, lambda x: 4 / x, lambda x: x**3, lambda x: 2.0**x,
    lambda x: -x, lambda x: x**0.5, lambda x: x**-1.5, lambda x: 1.5**x,
])  # fmt: skip
def test_scalar_operands_match_torch(expr):
    check_against_torch(expr, [positive(3, 2)])
    assert ts.gradcheck(expr, ts.tensor(positive(3, 2, seed=1), requires_grad=True))


def test_scalar_keeps_tensor_dtype():
    x32 = ts.ones(2)
    x64 = ts.ones(2, dtype=ts.float64)
    for expr in (lambda x: x + 1.5, lambda x: 2 * x, lambda x: x / 3, lambda x: 1 - x, lambda x: x**2):
        assert expr(x32).dtype == ts.float32
        assert expr(x64).dtype == ts.float64
    assert (x32 * np.float64(2.0)).dtype == ts.float32  # numpy scalars count as Python numbers


def test_integer_and_bool_promotion_like_torch():
    torch = _torch()
    i = [1, 2, 4]
    cases = [
        lambda a: a + 2, lambda a: a * 2.5, lambda a: a / 2, lambda a: a / a, lambda a: a**2,
        lambda a: a**0.5, lambda a: 2**a, lambda a: 2.0**a, lambda a: a + True, lambda a: a - a,
    ]  # fmt: skip
    for f in cases:
        ours, ref = f(ts.tensor(i)), f(torch.tensor(i))
        assert str(ours.dtype) == str(ref.dtype).replace("torch.", ""), ours
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)
    b = ts.tensor([True, False])
    assert (b + 1).dtype == ts.int64
    assert (ts.tensor([1, 2]) + ts.tensor([0.5, 0.5])).dtype == ts.float32


def test_mixed_float_dtypes_promote():
    a, b = ts.ones(2, 3), ts.ones(2, 3, dtype=ts.float64)
    assert (a + b).dtype == ts.float64 and (b * a).dtype == ts.float64
    assert ts.where(ts.tensor([True, False, True]), a, b).dtype == ts.float64


def test_no_operand_tensor_is_an_error():
    with pytest.raises(TypeError, match="add: expected at least one tensor"):
        ts.add(1, 2)
    with pytest.raises(TypeError, match="add: unsupported operand type str"):
        ts.ones(2) + "a"


# -- unary ops ----------------------------------------------------------------------------
UNARY = {
    "exp": (ts.exp, positive),
    "log": (ts.log, positive),
    "log1p": (ts.log1p, positive),
    "sqrt": (ts.sqrt, positive),
    "abs": (ts.abs, rand),
    "tanh": (ts.tanh, rand),
    "sigmoid": (ts.sigmoid, rand),
    "relu": (ts.relu, rand),
    "neg": (ts.neg, rand),
    "square": (ts.square, rand),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_matches_torch_and_gradcheck(name):
    torch = _torch()
    fn, data = UNARY[name]
    x = data(4, 3, seed=5)
    check_against_torch(fn, [x], getattr(torch, name))
    check_against_torch(lambda t: getattr(t, name)(), [x], lambda t: getattr(t, name)())
    assert ts.gradcheck(fn, ts.tensor(x, requires_grad=True))


def test_unary_on_integers_gives_float32_like_torch():
    for fn in (ts.exp, ts.sqrt, ts.tanh, ts.sigmoid, ts.log, ts.log1p):
        assert fn(ts.tensor([1, 2])).dtype == ts.float32
    assert ts.abs(ts.tensor([-1, 2])).dtype == ts.int64


def test_kinks_take_torchs_subgradient():
    torch = _torch()
    x = [0.0, -1.0, 1.0, 2.0]
    check_against_torch(ts.abs, [x], torch.abs)
    check_against_torch(ts.relu, [x], torch.relu)
    check_against_torch(lambda t: t.clamp(0.0, 1.0), [x])
    check_against_torch(lambda t: t**0, [x])  # 0, not nan, at 0
    check_against_torch(lambda t, e: t**e, [[0.0, 1.0, 4.0], [2.0, 0.0, 0.5]])
    check_against_torch(ts.maximum, [[1.0, 2.0, 2.0], [2.0, 2.0, 1.0]], torch.maximum)  # ties split
    check_against_torch(ts.minimum, [[1.0, 2.0, 2.0], [2.0, 2.0, 1.0]], torch.minimum)


@pytest.mark.parametrize("dtype", [ts.float32, ts.float64])
def test_sigmoid_extremes_no_overflow_or_warning(dtype):
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        x = ts.tensor([-800.0, -100.0, -30.0, 0.0, 30.0, 800.0], dtype=dtype, requires_grad=True)
        y = ts.sigmoid(x)
        y.sum().backward()
    v = y.numpy()
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(x.grad.numpy()))
    assert v[-1] == 1.0 and v[3] == 0.5 and v[0] < 1e-37
    exact = np.array([0.0, 3.7200759760208356e-44, 9.357622968840175e-14, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(v, exact, rtol=1e-6, atol=2 * np.finfo(dtype).tiny)


def test_tanh_and_exp_extremes():
    with np.errstate(over="raise", invalid="raise"):
        assert ts.tanh(ts.tensor([-800.0, 800.0])).tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.2, None)])
def test_clamp(bounds):
    torch = _torch()
    lo, hi = bounds
    x = rand(5, 4, seed=7)
    check_against_torch(lambda t: ts.clamp(t, lo, hi), [x], lambda t: torch.clamp(t, lo, hi))
    check_against_torch(lambda t: t.clip(min=lo, max=hi), [x], lambda t: t.clip(min=lo, max=hi))
    assert ts.gradcheck(lambda t: t.clamp(lo, hi), ts.tensor(x, requires_grad=True))


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp: give at least one of min and max"):
        ts.ones(2).clamp()


def test_where_and_masked_fill():
    torch = _torch()
    cond = np.array([[True, False, True], [False, False, True]])
    a, b = rand(2, 3, seed=1), rand(3, seed=2)
    check_against_torch(lambda x, y: ts.where(ts.tensor(cond), x, y), [a, b],
                        lambda x, y: torch.where(torch.from_numpy(cond), x, y))
    check_against_torch(lambda x: ts.where(ts.tensor(cond), x, 0.0), [a],
                        lambda x: torch.where(torch.from_numpy(cond), x, 0.0))
    check_against_torch(lambda x: x.masked_fill(ts.tensor(cond), -1.0), [a],
                        lambda x: x.masked_fill(torch.from_numpy(cond), -1.0))
    x = ts.tensor(a, requires_grad=True)
    y = ts.tensor(b, requires_grad=True)
    assert ts.gradcheck(lambda x, y: ts.where(ts.tensor(cond), x, y), (x, y))


def test_comparisons_give_bool_without_grad():
    x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r, expected in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]),
                        (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (ts.eq(x, x), [1, 1, 1])]:
        assert r.dtype == ts.bool and not r.requires_grad
        assert r.tolist() == [bool(e) for e in expected]
    m = (x > 1) & (x < 3)
    assert m.tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 2)).tolist() == [True, True, False]


def test_sign_has_no_grad():
    s = ts.sign(ts.tensor([-2.0, 0.0, 3.0], requires_grad=True))
    assert s.tolist() == [-1.0, 0.0, 1.0] and not s.requires_grad


def test_cast_is_differentiable():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == ts.float64
    (y * y).sum().backward()
    assert x.grad.dtype == ts.float32
    assert x.grad.tolist() == [2.0, 4.0]


def test_comparison_broadcast_failure_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"less: shapes \(2, 3\) and \(4,\) cannot be broadcast together"):
        ts.ones(2, 3).__lt__(ts.ones(4))
