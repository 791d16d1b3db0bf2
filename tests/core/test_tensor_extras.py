"""Comparisons, predicates, small factories and sampling, as PyTorch's."""

import numpy as np
import pytest

import tinyseq as ts


def test_comparisons_and_predicates_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, np.nan, 3.0], [np.inf, -2.0, 0.0]])
    b = np.array([1.0, 2.0, -3.0])
    for lib in ("eq", "ne", "lt", "le", "gt", "ge"):
        ours = getattr(ts, lib)(ts.tensor(a), ts.tensor(b))
        ref = getattr(torch, lib)(torch.tensor(a), torch.tensor(b))
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        method = getattr(ts.tensor(a), lib)(2.0), getattr(torch.tensor(a), lib)(2.0)
        np.testing.assert_array_equal(method[0].numpy(), method[1].numpy())
    for name in ("isnan", "isfinite"):
        ours, ref = getattr(ts, name)(ts.tensor(a)), getattr(torch, name)(torch.tensor(a))
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    m = np.array([[True, False, True], [True, True, True]])
    for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
        for name in ("any", "all"):
            ours = getattr(ts.tensor(m), name)(**kw)
            ref = getattr(torch.tensor(m), name)(**kw)
            np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    assert ts.allclose(ts.tensor([1.0, 2.0]), ts.tensor([1.0, 2.0 + 1e-9]))
    assert not ts.tensor([1.0, np.nan]).allclose(ts.tensor([1.0, np.nan]))
    assert ts.tensor([1.0, np.nan]).allclose(ts.tensor([1.0, np.nan]), equal_nan=True)


def test_factories_and_conversions():
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(ts.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(ts.eye(2, 4, dtype=ts.float64).numpy(), torch.eye(2, 4, dtype=torch.float64).numpy())
    np.testing.assert_allclose(ts.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy(), rtol=1e-6)
    assert ts.linspace(0, 1, 0).shape == (0,)
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int, got -1"):
        ts.linspace(0, 1, -1)
    a = np.arange(6.0).reshape(2, 3)
    t = ts.from_numpy(a)
    a[0, 0] = 7.0  # shared memory, as torch.from_numpy
    assert t.dtype == ts.float64 and t[0, 0].item() == 7.0
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        ts.from_numpy([1, 2])
    x = ts.tensor(a, requires_grad=True)
    assert x.t().shape == (3, 2) and ts.tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(RuntimeError, match=r"t: expects a tensor of at most 2 dims, got shape \(1, 1, 1\)"):
        ts.zeros(1, 1, 1).t()
    y = x.t().contiguous()
    assert y._data.flags.c_contiguous and x.contiguous() is x
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a)
    assert x.int().dtype == ts.int32 and x.type_as(ts.zeros(1)).dtype == ts.float32
    ts.manual_seed(3)
    p = ts.randperm(10)
    assert p.dtype == ts.int64 and sorted(p.tolist()) == list(range(10))


def test_multinomial_draws_follow_the_weights():
    ts.manual_seed(0)
    w = ts.tensor([[1.0, 0.0, 3.0, 6.0], [5.0, 5.0, 0.0, 0.0]])
    draws = ts.multinomial(w, 20000, replacement=True)
    assert draws.shape == (2, 20000) and draws.dtype == ts.int64
    freq = np.stack([np.bincount(r, minlength=4) for r in draws.numpy()]) / 20000
    np.testing.assert_allclose(freq, (w / w.sum(1, keepdim=True)).numpy(), atol=0.015)
    no_repeat = ts.multinomial(w[0], 3)
    assert sorted(no_repeat.tolist()) == [0, 2, 3]  # every category of non-zero weight, once
    firsts = np.bincount([ts.multinomial(w[0], 1).item() for _ in range(4000)], minlength=4) / 4000
    np.testing.assert_allclose(firsts, [0.1, 0.0, 0.3, 0.6], atol=0.03)
    ts.manual_seed(5)
    again = ts.multinomial(w, 7, replacement=True).tolist()
    ts.manual_seed(5)
    assert ts.multinomial(w, 7, replacement=True).tolist() == again


def test_multinomial_errors():
    cases = [
        (lambda: ts.multinomial(ts.tensor([0.5, -0.1]), 1), "weights must be finite, non-negative"),
        (lambda: ts.multinomial(ts.tensor([0.0, 0.0]), 1), "sum to more than 0 in every row"),
        (lambda: ts.multinomial(ts.tensor([1.0, 0.0]), 2), "cannot draw 2 samples without replacement"),
        (lambda: ts.multinomial(ts.ones(2, 2, 2), 1), r"expects a \(C,\) or \(N, C\) tensor of weights, got shape"),
        (lambda: ts.multinomial(ts.ones(3), 0), "num_samples must be a positive int, got 0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
