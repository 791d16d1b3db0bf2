"""flip, narrow, unbind, index_select, gather, sort, argsort, topk, cumsum, repeat:
values, indices and gradients vs PyTorch (float64), gradchecks, errors."""

import numpy as np
import pytest

import tinyseq as ts


def _pair(shape, seed=0):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 7
    return torch, ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(ours, ref, x, px, seed=1):
    """Equal outputs; equal gradients for a random weighting of the outputs."""
    ours = ours if isinstance(ours, tuple) else (ours,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(ours) == len(ref)
    loss, ploss = 0, 0
    rng = np.random.default_rng(seed)
    for a, b in zip(ours, ref):
        assert a.shape == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
        w = rng.standard_normal(a.shape)
        loss = loss + (a * ts.tensor(w)).sum()
        ploss = ploss + (b * px.new_tensor(w)).sum()
    loss.backward()
    ploss.backward()
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.flip(x, [0, 2]),
        lambda m, x: m.flip(x, (-1,)),
        lambda m, x: m.narrow(x, 1, 1, 2),
        lambda m, x: m.narrow(x, -1, 0, 4),
        lambda m, x: m.unbind(x, 1),
        lambda m, x: m.index_select(x, 2, m.tensor([3, 0, 3, 1])),
        lambda m, x: m.index_select(x, 0, m.tensor([1])),
        lambda m, x: m.gather(x, 2, m.tensor([[[0, 3, 3], [1, 1, 0]], [[2, 0, 1], [3, 3, 3]]])),  # repeats, cropped
        lambda m, x: m.gather(x, 0, m.tensor([[[1, 0, 1, 1]]])),
        lambda m, x: tuple(m.sort(x, dim=1)),
        lambda m, x: tuple(m.sort(x, dim=-1, descending=True)),
        lambda m, x: m.argsort(x, dim=0, descending=True),
        lambda m, x: tuple(m.topk(x, 2)),
        lambda m, x: tuple(m.topk(x, 3, dim=1, largest=False)),
        lambda m, x: m.cumsum(x, 1),
        lambda m, x: m.cumsum(x, -1),
        lambda m, x: x.repeat(2, 1, 3),
        lambda m, x: x.repeat(2, 1, 1, 2),
    ],
)
def test_selection_matches_torch(call):
    torch, x, px = _pair((2, 3, 4))
    ours, ref = call(ts, x), call(torch, px)
    if isinstance(ours, ts.Tensor) and ours.dtype == ts.int64:
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        return
    ints = [i for i, o in enumerate(ours) if o.dtype == ts.int64] if isinstance(ours, tuple) else []
    for i in ints:  # the indices of sort and topk: equal, and without gradients
        np.testing.assert_array_equal(ours[i].numpy(), ref[i].numpy())
    keep = [i for i in range(len(ours)) if i not in ints] if isinstance(ours, tuple) else None
    if keep is not None:
        ours, ref = tuple(ours[i] for i in keep), tuple(ref[i] for i in keep)
    _same(ours, ref, x, px)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_places_nan_as_torch(descending):
    """NaN ranks above every number (+inf included): last ascending, first descending, ties stable."""
    torch = pytest.importorskip("torch")
    a = np.array([[3.0, np.nan, 1.0, np.inf, np.nan, -np.inf, 1.0], [np.nan, 2.0, 2.0, 0.0, -1.0, np.nan, 5.0]])
    for dim in (0, 1):
        ours, ref = ts.sort(ts.tensor(a), dim=dim, descending=descending), torch.sort(
            torch.tensor(a), dim=dim, descending=descending, stable=True
        )
        np.testing.assert_array_equal(ours.values.numpy(), ref.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), ref.indices.numpy())
    largest = descending
    ours, ref = ts.topk(ts.tensor(a), 3, largest=largest), torch.topk(torch.tensor(a), 3, largest=largest)
    np.testing.assert_array_equal(ours.values.numpy(), ref.values.numpy())
    assert np.isnan(ours.values.numpy()[0, :2]).all() == largest


def test_methods_and_gradchecks():
    x = ts.tensor(np.random.default_rng(3).standard_normal((3, 5)), requires_grad=True)
    assert ts.gradcheck(lambda x: x.cumsum(0) * x.flip(1), x)
    assert ts.gradcheck(lambda x: x.repeat(2, 2).sum(0), x)
    assert ts.gradcheck(lambda x: x.gather(1, ts.tensor([[0, 0, 4]] * 3)), x)
    assert ts.gradcheck(lambda x: x.topk(2, dim=0).values, x)
    assert ts.gradcheck(lambda x: x.index_select(1, [4, 4, 1]), x)
    assert ts.gradcheck(lambda x: (x.sort(1, descending=True).values, x.narrow(1, 1, 3), *x.unbind(0)), x)
    assert ts.gradcheck(lambda x: (ts.tril(x, 1), x.triu(-1), ts.bmm(x[None], x.T[None])), x)
    a, b = ts.tensor([3, 1, 2]).sort()
    assert a.tolist() == [1, 2, 3] and b.tolist() == [1, 2, 0]
    assert ts.tensor([True, False, True]).argsort(descending=True).tolist() == [0, 2, 1]


def test_selection_errors():
    x = ts.randn(2, 3)
    cases = [
        (lambda: x.flip(2), r"flip: dim 2 out of range for a tensor of shape \(2, 3\)"),
        (lambda: x.narrow(1, 2, 2), r"narrow: start 2 and length 2 do not fit dim 1 of shape \(2, 3\)"),
        (lambda: x.index_select(1, [0, 3]), r"index_select: index 3 out of range for dim 1 of size 3"),
        (lambda: x.index_select(1, [[0]]), r"index_select: index must be 1-D, got shape \(1, 1\)"),
        (lambda: x.gather(1, ts.tensor([0, 1])), r"gather: index of shape \(2,\) does not fit input \(2, 3\)"),
        (lambda: x.gather(0, ts.tensor([[2]])), r"gather: index 2 out of range for dim 0 of size 2"),
        (lambda: x.gather(0, ts.tensor([[0.5]])), r"gather: index must hold integers, got float32"),
        (lambda: x.topk(4), r"topk: k=4 must be in \[0, 3\] for dim 1 of shape \(2, 3\)"),
        (lambda: x.repeat(2), r"repeat: needs one non-negative int per dim of \(2, 3\) \(or more\), got \(2,\)"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.tril(x),
        lambda m, x: m.triu(x, 1),
        lambda m, x: m.tril(x, -1),
        lambda m, x: x.norm(),
        lambda m, x: x.norm(dim=1),
        lambda m, x: x.norm(p=1, dim=(0, 2), keepdim=True),
        lambda m, x: x.norm(p=float("inf"), dim=2),
        lambda m, x: m.bmm(x, x.transpose(1, 2)),
    ],
)
def test_triangles_norms_bmm_match_torch(call):
    torch, x, px = _pair((2, 3, 4))
    ours, ref = call(ts, x), call(torch, px)
    np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-12)
    w = np.random.default_rng(1).standard_normal(ours.shape)
    (ours * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_norm_at_zero_and_errors():
    torch = pytest.importorskip("torch")
    z = ts.zeros(2, 3, dtype=ts.float64, requires_grad=True)
    pz = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    (z.norm(dim=1).sum() + z.norm()).backward()
    (pz.norm(dim=1).sum() + pz.norm()).backward()
    assert z.grad.tolist() == pz.grad.tolist() == [[0.0] * 3] * 2
    x = ts.tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    assert ts.gradcheck(lambda x: x.norm(dim=0) + x.norm(), x)
    with pytest.raises(ValueError, match="norm: p must be 1, 2, 'fro' or inf, got 3"):
        x.norm(p=3)
    with pytest.raises(ValueError, match=r"bmm: expects two 3-D tensors with the same batch size, got \(3, 4\)"):
        ts.bmm(x, x)
    with pytest.raises(ValueError, match=r"tril: expects a tensor of at least 2 dims, got shape \(3,\)"):
        ts.tril(ts.ones(3))
