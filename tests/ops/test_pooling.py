"""Max and average pooling (1-D and 2-D): values, indices and gradients vs PyTorch in
float64 over a grid of options (ties included), modules, gradchecks, errors."""

import numpy as np
import pytest

import tinyseq as ts

F = ts.nn.functional

MAX_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 1, "dilation": 2},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
]
AVG_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
]


def _inputs(shape, ties):
    x = np.random.default_rng(0).standard_normal(shape)
    return np.maximum(x, 0.0).round(1) if ties else x  # many equal values: the first max must win


def _check(ours, ref, x, fused_out=lambda o: o):
    torch = pytest.importorskip("torch")
    tx, px = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = ours(tx), ref(px)
    if isinstance(a, tuple):
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
        a, b = a[0], b[0]
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(a.shape)
    (a * ts.tensor(w)).sum().backward()
    (b * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_matches_torch(kw, dims, ties):
    torch = pytest.importorskip("torch")
    name = f"max_pool{dims}d"
    x = _inputs((2, 3, 9) if dims == 1 else (2, 3, 7, 9), ties)
    _check(lambda t: getattr(F, name)(t, **kw, return_indices=True),
           lambda t: getattr(torch.nn.functional, name)(t, **kw, return_indices=True), x)  # fmt: skip
    _check(lambda t: getattr(F, name)(t[0], **kw), lambda t: getattr(torch.nn.functional, name)(t[0], **kw), x)


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
@pytest.mark.parametrize("dims", [1, 2])
def test_avg_pool_matches_torch(kw, dims):
    torch = pytest.importorskip("torch")
    name = f"avg_pool{dims}d"
    x = _inputs((2, 3, 9) if dims == 1 else (2, 3, 7, 9), False)
    _check(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(torch.nn.functional, name)(t, **kw), x)


def test_avg_pool2d_divisor_override_and_modules_like_torch():
    torch = pytest.importorskip("torch")
    x = _inputs((2, 3, 6, 6), False)
    _check(lambda t: F.avg_pool2d(t, 3, 2, 1, divisor_override=4),
           lambda t: torch.nn.functional.avg_pool2d(t, 3, 2, 1, divisor_override=4), x)  # fmt: skip
    for name, args in [("MaxPool1d", (3,)), ("MaxPool2d", (2,)), ("MaxPool2d", (3, 2, 1)), ("AvgPool1d", (3,)),
                       ("AvgPool2d", (2,)), ("AvgPool2d", (3, 1, 1))]:  # fmt: skip
        ours, ref = getattr(ts.nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(ref)
        shape = (2, 3, 8) if name.endswith("1d") else (2, 3, 6, 7)
        x = np.random.default_rng(2).standard_normal(shape)
        np.testing.assert_allclose(ours(ts.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=1e-12)


def test_pooling_gradcheck_and_errors():
    x = ts.tensor(np.random.default_rng(3).standard_normal((1, 2, 5, 6)), requires_grad=True)
    assert ts.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), x)
    assert ts.gradcheck(lambda x: F.max_pool2d(x, 2, 1), x)
    cases = [
        (lambda: F.max_pool2d(x, 3, padding=2), r"max_pool2d: padding 2 should be at most half of the effective"),
        (lambda: F.max_pool2d(x, 7), r"max_pool2d: input of spatial size \(5, 6\) is smaller than the window"),
        (lambda: F.max_pool1d(x, 2), r"max_pool1d: expected a 2-D or 3-D input, got shape \(1, 2, 5, 6\)"),
        (lambda: F.avg_pool2d(x, 0), r"avg_pool2d: kernel_size must be an int or a pair of ints >= 1, got 0"),
        (lambda: F.avg_pool2d(x, 2, divisor_override=0), "avg_pool2d: divisor_override must be a positive int"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
