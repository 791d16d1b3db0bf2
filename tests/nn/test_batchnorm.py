"""BatchNorm1d/2d and Dropout1d/2d against PyTorch (float64, copied weights): outputs, all
gradients, running statistics over several steps, train/eval, state-dict names; errors."""

import itertools

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn


def _torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5


def _pair(cls, *args, **kwargs):
    torch = _torch()
    ref = getattr(torch.nn, cls)(*args, **kwargs).double()
    ours = getattr(nn, cls)(*args, **kwargs).double()
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64))
    sd = ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    return ours, ref


def _step(ours, ref, x, seed):
    """One forward/backward with a random output weighting; compares outputs and gradients."""
    torch = _torch()
    tx, px = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(tx), ref(px)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-11, atol=1e-12)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-11, atol=1e-12, err_msg=name)
    for name, b in ref.named_buffers():
        np.testing.assert_allclose(getattr(ours, name).numpy(), b.numpy(), rtol=1e-13, atol=1e-14, err_msg=name)


OPTIONS = [dict(momentum=m, affine=a, track_running_stats=t, bias=b)
           for m, a, t, b in itertools.product([0.1, 0.3, None], [True, False], [True, False], [True, False])
           if a or b]  # bias only matters with affine  # fmt: skip
SHAPES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (2, 3, 4, 5))]
# Every option set once, with the layer shapes in turn.
CASES = [(*SHAPES[i % 3], kw) for i, kw in enumerate(OPTIONS)]


@pytest.mark.parametrize("cls,shape,kw", CASES)
def test_batchnorm_matches_torch_train_then_eval(cls, shape, kw):
    track = kw["track_running_stats"]
    ours, ref = _pair(cls, 3, eps=1e-3, **kw)
    assert repr(ours) == repr(ref)
    for i in range(3):
        _step(ours, ref, rand(*shape, seed=i), seed=10 + i)
        ours.zero_grad()
        ref.zero_grad()
    ours.eval()
    ref.eval()
    _step(ours, ref, rand(*shape, seed=5), seed=20)
    if track:
        assert ours.num_batches_tracked.item() == 3 and ours.num_batches_tracked.dtype == ts.int64


def test_batchnorm_state_dict_loads_into_torch_and_back():
    torch = _torch()
    ours = nn.BatchNorm2d(4).double()
    ours(ts.tensor(rand(3, 4, 2, 2)))
    ref = torch.nn.BatchNorm2d(4).double()
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert int(ref.num_batches_tracked) == 1
    np.testing.assert_allclose(ref.running_var.numpy(), ours.running_var.numpy())


def test_batchnorm_functional_and_gradcheck():
    x = ts.tensor(rand(4, 3, 2), requires_grad=True)
    w = ts.tensor(rand(3, seed=1), requires_grad=True)
    b = ts.tensor(rand(3, seed=2), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    rm, rv = ts.zeros(3, dtype=ts.float64), ts.ones(3, dtype=ts.float64)
    nn.functional.batch_norm(x, rm, rv, training=True, momentum=0.5)
    mean = x.detach().numpy().mean(axis=(0, 2))
    np.testing.assert_allclose(rm.numpy(), 0.5 * mean)
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * x.detach().numpy().var(axis=(0, 2), ddof=1))


def test_batchnorm_errors():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ts.ones(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input of shape \(2, 4\) has 4 channels, expected num_f"):
        bn(ts.ones(2, 4))
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4-D input, got shape"):
        nn.BatchNorm2d(3)(ts.ones(2, 3, 4))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)
    bn.eval()
    assert bn(ts.ones(1, 3)).shape == (1, 3)  # eval uses the running statistics: one sample is fine


@pytest.mark.parametrize("cls,shape", [("Dropout2d", (4, 5, 3, 3)), ("Dropout1d", (4, 5, 6))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    ts.manual_seed(0)
    layer = getattr(nn, cls)(p=0.4)
    x = ts.tensor(rand(*shape) + 10.0)
    y = layer(x).numpy()
    flat = y.reshape(shape[0], shape[1], -1)
    zero = (flat == 0).all(axis=2)
    kept = ~zero
    assert zero.any() and kept.any()
    np.testing.assert_allclose(flat[kept], x.numpy().reshape(flat.shape)[kept] / 0.6)
    assert (flat[kept] != 0).all()
    layer.eval()
    assert layer(x) is x
    g = ts.tensor(rand(*shape), requires_grad=True)
    ts.manual_seed(1)
    out = nn.functional.dropout2d(g, 0.5) if cls == "Dropout2d" else nn.functional.dropout1d(g, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy() != 0, out.numpy() != 0)


def test_dropout2d_reads_3d_as_batch_channel_length_with_a_warning():
    ts.manual_seed(0)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = nn.Dropout2d(0.5)(ts.ones(8, 6, 5)).numpy()
    assert ((y == 0).all(axis=2) | (y == 2).all(axis=2)).all()
    with pytest.raises(ValueError, match="Dropout2d: probability has to be between 0 and 1"):
        nn.Dropout2d(1.5)
