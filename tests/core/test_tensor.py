"""Tensor: construction and dtype inference, factories, attributes and methods,
conversion, repr, in-place updates, seeding."""

import numpy as np
import pytest

import tinyseq as ts


def _torch():
    return pytest.importorskip("torch")


# -- construction and dtype inference ----------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    (1.5, ts.float32), ([1.0, 2.0], ts.float32), ([1, 2.5], ts.float32), (3, ts.int64), ([[1, 2]], ts.int64),
    (True, ts.bool), ([True, False], ts.bool), (np.zeros(2), ts.float64), (np.zeros(2, np.float32), ts.float32),
    (np.float64(2.0), ts.float64), (np.arange(3, dtype=np.int32), ts.int32), (np.array(2), ts.int64),
])  # fmt: skip
def test_dtype_inference_like_torch(data, dtype):
    t = ts.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_shapes_are_kept_including_0d():
    assert ts.tensor(3.5).shape == () and ts.tensor(3.5).ndim == 0
    assert ts.tensor(np.float64(2)).shape == ()
    assert ts.tensor(7).shape == ()
    assert ts.tensor([]).shape == (0,)
    assert ts.tensor([[1.0], [2.0]]).shape == (2, 1)


def test_explicit_dtype_and_names():
    assert ts.tensor([1, 2], dtype=ts.float64).dtype == ts.float64
    assert ts.tensor([1.7], dtype="int64").tolist() == [1]
    assert ts.tensor([1], dtype=float).dtype == ts.float32
    assert ts.tensor([1.0], dtype=int).dtype == ts.int64
    assert ts.tensor([1], dtype="double").dtype == ts.float64
    assert ts.float32 == np.dtype("float32") and ts.int64 == np.dtype("int64")
    with pytest.raises(TypeError, match="dtype: unknown dtype 'float128x'"):
        ts.tensor([1.0], dtype="float128x")


def test_tensor_copies_its_data():
    a = np.ones(3)
    t = ts.tensor(a)
    a[0] = 5
    assert t.tolist() == [1.0, 1.0, 1.0]
    u = ts.tensor(t)
    u.data[1] = 7
    assert t.tolist() == [1.0, 1.0, 1.0]
    assert t._data.flags["C_CONTIGUOUS"]


def test_tensor_from_list_of_tensors():
    t = ts.tensor([ts.tensor(1.0), ts.tensor(2.0)])
    assert t.shape == (2,) and t.dtype == ts.float32
    assert ts.tensor([ts.ones(2, dtype=ts.float64)] * 3).shape == (3, 2)
    assert ts.tensor([ts.ones(2, dtype=ts.float64)]).dtype == ts.float64


def test_bad_data_is_a_clear_error():
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from dict data"):
        ts.tensor({"a": 1})


def test_requires_grad_only_for_floats():
    assert ts.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors can require grad, not int64"):
        ts.tensor([1, 2], requires_grad=True)


# -- factories -----------------------------------------------------------------------------------
def test_factories_shapes_and_dtypes():
    for f in (ts.zeros, ts.ones, ts.empty, ts.randn, ts.rand):
        assert f(2, 3).shape == (2, 3) and f(2, 3).dtype == ts.float32
        assert f((2, 3)).shape == (2, 3)
        assert f([4]).shape == (4,)
        assert f(2, dtype=ts.float64).dtype == ts.float64
        assert f(2, requires_grad=True).requires_grad
        assert f().shape == ()
    assert ts.zeros(2, 2).numpy().sum() == 0 and ts.ones(3).numpy().sum() == 3
    assert ts.full((2, 2), 7.0).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert ts.full((2,), 3).dtype == ts.int64 and ts.full((2,), 3.0).dtype == ts.float32
    assert ts.full((2,), True).dtype == ts.bool and ts.full(3, 1.5, dtype=ts.float64).dtype == ts.float64
    r = ts.rand(1000).numpy()
    assert r.min() >= 0 and r.max() < 1
    n = ts.randn(4000, dtype=ts.float64).numpy()
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1


def test_randint_forms():
    a = ts.randint(3, 7, (100,))
    assert a.dtype == ts.int64 and a.shape == (100,) and a.numpy().min() >= 3 and a.numpy().max() < 7
    b = ts.randint(5, (2, 3))  # randint(high, size), as PyTorch
    assert b.shape == (2, 3) and b.numpy().min() >= 0 and b.numpy().max() < 5
    assert ts.randint(0, 4, size=(3,), dtype=ts.int32).dtype == ts.int32


def test_arange_like_torch():
    torch = _torch()
    for args, kw in [((5,), {}), ((1, 4, 0.5), {}), ((2, 9, 3), {}), ((5.0,), {}), ((3,), {"dtype": ts.float32})]:
        ours = ts.arange(*args, **kw)
        ref = torch.arange(*args, **({"dtype": torch.float32} if kw else {}))
        assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), ref.numpy())
    assert ts.arange(3.0, requires_grad=True).requires_grad


def test_like_factories():
    x = ts.ones(2, 3, dtype=ts.float64)
    for f in (ts.zeros_like, ts.ones_like, ts.randn_like, ts.rand_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == ts.float64 and not y.requires_grad
    assert ts.zeros_like(x, dtype=ts.float32).dtype == ts.float32
    assert ts.ones_like(ts.tensor([1, 2])).dtype == ts.int64
    assert ts.full_like(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert ts.zeros_like(x, requires_grad=True).requires_grad


def test_manual_seed_reproducible():
    ts.manual_seed(123)
    a = (ts.randn(3).numpy(), ts.rand(2).numpy(), ts.randint(0, 100, (4,)).numpy())
    ts.manual_seed(123)
    b = (ts.randn(3).numpy(), ts.rand(2).numpy(), ts.randint(0, 100, (4,)).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    ts.manual_seed(124)
    assert not np.array_equal(ts.randn(3).numpy(), a[0])


# -- attributes ---------------------------------------------------------------------------------------
def test_attributes():
    x = ts.ones(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and ts.tensor(2.0).numel() == 1
    assert x.device == "cpu" and x.dtype == ts.float32
    assert x.T.shape == (4, 3, 2)
    assert x.is_leaf and x.grad is None and not x.requires_grad and x.grad_fn is None
    y = ts.ones(2, requires_grad=True) * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None


def test_item_and_tolist():
    assert ts.tensor([[2.5]]).item() == 2.5 and isinstance(ts.tensor(2.5).item(), float)
    assert ts.tensor(3).item() == 3 and isinstance(ts.tensor(3).item(), int)
    assert ts.tensor([True]).item() is True
    assert ts.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ts.tensor(2.5).tolist() == 2.5
    with pytest.raises(ValueError, match=r"item: only one-element tensors convert to Python scalars, got shape \(2,\)"):
        ts.tensor([1.0, 2.0]).item()
    assert float(ts.tensor(1.5)) == 1.5 and int(ts.tensor(3)) == 3
    assert [10, 20, 30][ts.tensor(1)] == 20
    with pytest.raises(TypeError, match="only integer tensors can be used as an index"):
        [1, 2][ts.tensor(1.0)]


def test_bool_of_tensor():
    assert bool(ts.tensor([1.0])) and not bool(ts.tensor(0))
    with pytest.raises(RuntimeError, match=r"bool: a tensor of shape \(2,\) has no single truth value"):
        bool(ts.tensor([1.0, 2.0]))


def test_numpy_shares_memory_on_cpu():
    x = ts.ones(3)
    x.numpy()[0] = 4
    assert x.tolist() == [4.0, 1.0, 1.0]


# -- conversion ------------------------------------------------------------------------------------------
def test_to_dtype_and_float_double():
    x = ts.tensor([1.5, 2.5], requires_grad=True)
    assert x.to(ts.float64).dtype == ts.float64
    assert x.to("float64").dtype == ts.float64 and x.to(dtype=np.float64).dtype == ts.float64
    assert x.double().dtype == ts.float64 and x.double().float().dtype == ts.float32
    assert x.to(ts.int64).tolist() == [1, 2] and x.long().dtype == ts.int64
    assert ts.tensor([0, 2]).bool().tolist() == [False, True]
    assert x.to(ts.float32) is x and x.to("cpu") is x and x.to("cpu", ts.float32) is x
    assert x.to("cpu", copy=True) is not x
    y = x.to("cpu", ts.float64)
    (y * y).sum().backward()
    assert x.grad.dtype == ts.float32 and x.grad.tolist() == [3.0, 5.0]


def test_clone_is_a_differentiable_copy():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c._data is not x._data and not c.is_leaf and c.requires_grad
    c.data[0] = 9
    assert x.tolist() == [1.0, 2.0]
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert ts.clone(ts.ones(2)).requires_grad is False


def test_detach_shares_data_and_cuts_graph():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d._data is y._data and not d.requires_grad and d.is_leaf
    z = (d * x).sum()
    z.backward()
    assert x.grad.tolist() == [2.0, 4.0]  # no gradient through d
    y.detach_()
    assert y.is_leaf and not y.requires_grad


def test_requires_grad_():
    x = ts.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = ts.ones(2, requires_grad=True) * 2
    assert y.requires_grad_(True) is y  # a no-op on a non-leaf that already requires grad
    with pytest.raises(RuntimeError, match="requires_grad_: only leaf tensors can change requires_grad; use detach"):
        y.requires_grad_(False)
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors"):
        ts.ones(2, dtype=ts.int64).requires_grad_()


# -- repr --------------------------------------------------------------------------------------------------
def test_repr_like_torch():
    torch = _torch()
    cases = [
        ([1.0, 2.0], {}), ([0.1, 2.5], {}), (3.5, {}), ([[1.0, 2.0], [3.0, 4.0]], {}), ([1, 2], {}),
        ([1e-5, 1e5], {}), ([], {}), ([True, False], {}),
    ]  # fmt: skip
    for data, kw in cases:
        assert repr(ts.tensor(data, **kw)) == repr(torch.tensor(data, **kw)), data
    assert repr(ts.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(ts.tensor([1.0], dtype=ts.float64)) == "tensor([1.], dtype=float64)"
    y = ts.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<Mul>)"


# -- in-place updates ----------------------------------------------------------------------------------------
def test_inplace_updates():
    x = ts.zeros(3)
    x.add_(1).mul_(4).sub_(1).div_(3)
    assert x.tolist() == [1.0, 1.0, 1.0]
    x.add_(ts.tensor([1.0, 2.0, 3.0]), alpha=2)
    assert x.tolist() == [3.0, 5.0, 7.0]
    x.clamp_(4, 6)
    assert x.tolist() == [4.0, 5.0, 6.0]
    x.fill_(2.0)
    assert x.tolist() == [2.0, 2.0, 2.0]
    x.copy_(ts.tensor([1.0, 2.0, 3.0]))
    x.copy_(np.array([3.0, 2.0, 1.0]))
    assert x.tolist() == [3.0, 2.0, 1.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_inplace_on_leaf_that_requires_grad():
    p = ts.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad is used in an in-place operation"):
        p.add_(1)
    with ts.no_grad():
        p.add_(1)
    assert p.tolist() == [2.0, 2.0]
    y = p * 2
    with pytest.raises(RuntimeError, match="mul_: in-place operations on tensors in a graph are not supported"):
        y.mul_(2)


def test_tensor_is_hashable_by_identity():
    a, b = ts.ones(2), ts.ones(2)
    assert len({a, b, a}) == 2


def test_data_is_always_an_array_even_for_0d_results():
    x = ts.tensor(2.0, requires_grad=True)
    results = [ts.tensor([1, 2]).sum(), ts.tensor(1.0) > 0, ts.sign(ts.tensor(1.0)), ts.tensor(2) ** 2,
               ~ts.tensor(True), ts.ones(3).sum(), x.exp(), x * x, ts.abs(ts.tensor(-3))]
    for r in results:
        assert isinstance(r._data, np.ndarray) and r.shape == ()
    grad = None
    for _ in range(2):
        (x * x).backward()
        grad = x.grad if grad is None else grad
        assert isinstance(x.grad._data, np.ndarray)
    assert x.grad is grad and x.grad.item() == 8.0  # accumulated into the same tensor


def test_augmented_assignment_updates_in_place_under_no_grad():
    p = ts.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    same = p
    with ts.no_grad():
        p -= 0.5 * p.grad
        p *= 2.0
    assert p is same
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])


def test_augmented_assignment_on_a_leaf_requiring_grad_raises_while_recording():
    p = ts.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation"):
        p += 1.0


def test_augmented_assignment_on_a_non_leaf_builds_a_new_node():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


# -- comparisons, predicates, small factories and sampling, as PyTorch's ---------------


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
