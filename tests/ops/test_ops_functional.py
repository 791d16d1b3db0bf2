"""ts.nn.functional: softmax, log_softmax, cross_entropy (fused and composed),
nll_loss, mse_loss, l1_loss, binary_cross_entropy_with_logits, dropout,
one_hot, embedding; against PyTorch, gradcheck, error messages."""

import numpy as np
import pytest

import tinyseq as ts

F = ts.nn.functional


def _torch():
    return pytest.importorskip("torch")


def data(*shape, seed=0, scale=1.0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)


def check_against_torch(fn, torch_fn, arrays, rtol=1e-10, atol=1e-12):
    """Values and gradients of fn on float64 copies of ``arrays`` (all differentiable)."""
    torch = _torch()
    ours = [ts.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.from_numpy(np.array(a)).requires_grad_() for a in arrays]
    out, ref = fn(*ours), torch_fn(*theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    w = data(*out.shape, seed=9)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=rtol, atol=atol)


# -- softmax / log_softmax ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_matches_torch(name, dim):
    torch = _torch()
    check_against_torch(lambda t: getattr(F, name)(t, dim=dim),
                        lambda t: getattr(torch.nn.functional, name)(t, dim=dim), [data(3, 4, 2)])
    check_against_torch(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), [data(3, 4, 2)])
    assert ts.gradcheck(lambda t: getattr(ts, name)(t, dim), ts.tensor(data(2, 3, 2), requires_grad=True))


@pytest.mark.parametrize("dtype", [ts.float32, ts.float64])
def test_softmax_stable_for_huge_logits(dtype):
    torch = _torch()
    x = np.array([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4]])
    t = ts.tensor(x, dtype=dtype, requires_grad=True)
    r = torch.tensor(x, dtype=getattr(torch, str(dtype)), requires_grad=True)
    out, ref = F.log_softmax(t, dim=1), torch.nn.functional.log_softmax(r, dim=1)
    assert np.all(np.isfinite(out.numpy()))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6)
    w = data(2, 4)
    (out * ts.tensor(w, dtype=dtype)).sum().backward()
    (ref * torch.tensor(w, dtype=r.dtype)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-5, atol=1e-6)
    p = F.softmax(ts.tensor(x, dtype=dtype), dim=1).numpy()
    np.testing.assert_allclose(p, [[0.5, 0, 0, 0.5], [0.25] * 4], atol=1e-7)


# -- cross_entropy ----------------------------------------------------------------------------
CE_CASES = [
    ((4, 5), (4,)), ((5,), ()), ((3, 5, 2), (3, 2)), ((2, 4, 3, 2), (2, 3, 2)),
]


def _targets(shape, classes, seed, ignore=None):
    t = np.random.default_rng(seed).integers(0, classes, shape)
    if ignore is not None and t.size > 1:
        t.reshape(-1)[::3] = ignore
    return t


@pytest.mark.parametrize("shapes", CE_CASES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("fused", [True, False])
def test_cross_entropy_matches_torch(shapes, reduction, fused):
    torch = _torch()
    xs, tshape = shapes
    classes = xs[0] if len(xs) == 1 else xs[1]
    for ignore in (-100, 1):
        target = _targets(tshape, classes, seed=2, ignore=ignore)
        check_against_torch(
            lambda x, t=target, i=ignore: F.cross_entropy(x, ts.tensor(t), ignore_index=i, reduction=reduction,
                                                          fused=fused),
            lambda x, t=target, i=ignore: torch.nn.functional.cross_entropy(x, torch.from_numpy(t), ignore_index=i,
                                                                            reduction=reduction),
            [data(*xs, seed=1, scale=3.0)],
        )


@pytest.mark.parametrize("shapes", CE_CASES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_fused_equals_composed(shapes, reduction):
    xs, tshape = shapes
    classes = xs[0] if len(xs) == 1 else xs[1]
    target = ts.tensor(_targets(tshape, classes, seed=3, ignore=-100))
    grads = []
    outs = []
    for fused in (True, False):
        x = ts.tensor(data(*xs, seed=4, scale=5.0), requires_grad=True)
        out = F.cross_entropy(x, target, reduction=reduction, fused=fused)
        (out * ts.tensor(data(*out.shape, seed=5))).sum().backward()
        outs.append(out.numpy())
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_cross_entropy_gradcheck(fused):
    x = ts.tensor(data(3, 4, 2, seed=6), requires_grad=True)
    target = ts.tensor([[0, 3], [-100, 1], [2, 2]])
    for reduction in ("mean", "sum", "none"):
        assert ts.gradcheck(lambda t, r=reduction: F.cross_entropy(t, target, reduction=r, fused=fused), x)


def test_cross_entropy_dtype_and_huge_logits():
    x = ts.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, ts.tensor([1, 2]))
    assert loss.dtype == ts.float32 and isinstance(loss._data, np.ndarray)
    np.testing.assert_allclose(loss.item(), (2e4 + np.log(3)) / 2, rtol=1e-6)
    loss.backward()
    assert x.grad.dtype == ts.float32 and np.all(np.isfinite(x.grad.numpy()))
    composed = F.cross_entropy(x, ts.tensor([1, 2]), fused=False)
    assert composed.dtype == ts.float32


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"cross_entropy: target 5 is out of range for 4 classes"):
        F.cross_entropy(ts.randn(2, 4), ts.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(2, 4\) need a target of shape \(2,\), "
                                         r"got \(3,\)"):
        F.cross_entropy(ts.randn(2, 4), ts.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy: target must hold class indices .* got float32"):
        F.cross_entropy(ts.randn(2, 4), ts.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: reduction must be one of .* got 'avg'"):
        F.cross_entropy(ts.randn(2, 4), ts.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(4,\) need a 0-d target, got \(1,\)"):
        F.cross_entropy(ts.randn(4), ts.tensor([1]))


def test_nll_loss_matches_torch():
    torch = _torch()
    target = np.array([0, 2, 1, -100])
    check_against_torch(lambda x: F.nll_loss(F.log_softmax(x, 1), ts.tensor(target)),
                        lambda x: torch.nn.functional.nll_loss(torch.log_softmax(x, 1), torch.from_numpy(target)),
                        [data(4, 3)])


# -- regression losses ------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_torch(reduction):
    torch = _torch()
    tf = torch.nn.functional
    a, b = data(3, 4, seed=1), data(3, 4, seed=2)
    check_against_torch(lambda x, y: F.mse_loss(x, y, reduction=reduction),
                        lambda x, y: tf.mse_loss(x, y, reduction=reduction), [a, b])
    check_against_torch(lambda x, y: F.l1_loss(x, y, reduction=reduction),
                        lambda x, y: tf.l1_loss(x, y, reduction=reduction), [a, b])
    y = (data(3, 4, seed=3) > 0).astype(np.float64)
    check_against_torch(lambda x: F.binary_cross_entropy_with_logits(x, ts.tensor(y), reduction=reduction),
                        lambda x: tf.binary_cross_entropy_with_logits(x, torch.from_numpy(y), reduction=reduction),
                        [a * 30])
    pw = np.array([0.5, 1.0, 2.0, 3.0])
    check_against_torch(
        lambda x: F.binary_cross_entropy_with_logits(x, ts.tensor(y), reduction=reduction, pos_weight=ts.tensor(pw)),
        lambda x: tf.binary_cross_entropy_with_logits(x, torch.from_numpy(y), reduction=reduction,
                                                      pos_weight=torch.from_numpy(pw)),
        [a])


def test_mse_loss_gradcheck_and_errors():
    a = ts.tensor(data(2, 3), requires_grad=True)
    b = ts.tensor(data(2, 3, seed=1), requires_grad=True)
    assert ts.gradcheck(F.mse_loss, (a, b))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(1,\) differ"):
        F.mse_loss(ts.ones(3), ts.ones(1))
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of"):
        F.mse_loss(ts.ones(3), ts.ones(3), reduction="max")


# -- dropout ------------------------------------------------------------------------------------
def test_dropout_masks_and_scales():
    x = ts.ones(200, 50, requires_grad=True)
    y = F.dropout(x, p=0.3)
    v = y.numpy()
    kept = v != 0
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)


def test_dropout_edge_cases_and_seeding():
    x = ts.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    ts.manual_seed(7)
    a = F.dropout(ts.ones(10, 10), 0.5).numpy()
    ts.manual_seed(7)
    b = F.dropout(ts.ones(10, 10), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert F.dropout(ts.ones(3, dtype=ts.float64), 0.5).dtype == ts.float64
    with pytest.raises(ValueError, match="dropout: probability must be in \\[0, 1\\], got 1.5"):
        F.dropout(x, 1.5)


# -- one_hot / embedding -------------------------------------------------------------------------
def test_one_hot_like_torch():
    torch = _torch()
    idx = np.array([[0, 2], [1, 3]])
    for n in (-1, 5):
        ours = F.one_hot(ts.tensor(idx), n)
        ref = torch.nn.functional.one_hot(torch.from_numpy(idx), n)
        assert ours.dtype == ts.int64
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 4\), got 0..5"):
        F.one_hot(ts.tensor([0, 5]), 4)
    with pytest.raises(ValueError, match="one_hot: needs an integer tensor, got float32"):
        F.one_hot(ts.tensor([0.0]), 4)


@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_matches_torch(padding_idx):
    torch = _torch()
    ids = np.array([[0, 1, 1], [3, 1, 0]])
    check_against_torch(lambda w: F.embedding(ts.tensor(ids), w, padding_idx=padding_idx),
                        lambda w: torch.nn.functional.embedding(torch.from_numpy(ids), w, padding_idx=padding_idx),
                        [data(4, 3)])
    w = ts.tensor(data(4, 3), requires_grad=True)
    if padding_idx is None:
        assert ts.gradcheck(lambda t: F.embedding(ts.tensor(ids), t), w)


def test_embedding_errors():
    w = ts.randn(4, 3)
    with pytest.raises(ValueError, match=r"embedding: index 4 is out of range for 4 embeddings \(weight \(4, 3\)\)"):
        F.embedding(ts.tensor([0, 4]), w)
    with pytest.raises(ValueError, match="embedding: indices must be an integer tensor, got float32"):
        F.embedding(ts.tensor([0.0]), w)


def test_softmax_dim_out_of_range():
    with pytest.raises(ValueError, match=r"log_softmax: dim 2 out of range for a tensor of shape \(2, 3\)"):
        F.softmax(ts.ones(2, 3), dim=2)


def test_dropout_on_float16_keeps_the_dtype():
    x = ts.ones(2000, dtype=ts.float16)
    y = F.dropout(x, 0.5)
    assert y.dtype == ts.float16
    kept = y.numpy() != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_array_equal(y.numpy()[kept], 2.0)
