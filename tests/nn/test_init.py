"""ts.nn.init: distributions (bounds, moments), gains, fans, seeding, devices, errors."""

import math

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.nn import init


def test_uniform_and_normal_moments():
    t = ts.empty(200, 300)
    init.uniform_(t, -2.0, 3.0)
    v = t.numpy()
    assert v.min() >= -2.0 and v.max() < 3.0
    assert v.mean() == pytest.approx(0.5, abs=0.02) and v.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    init.normal_(t, 1.5, 0.5)
    v = t.numpy()
    assert v.mean() == pytest.approx(1.5, abs=0.01) and v.std() == pytest.approx(0.5, rel=0.01)


def test_constants():
    t = ts.empty(3, 2, dtype=ts.float64)
    assert init.zeros_(t) is t and not t.numpy().any()
    init.ones_(t)
    np.testing.assert_array_equal(t.numpy(), 1.0)
    init.constant_(t, 0.25)
    np.testing.assert_array_equal(t.numpy(), 0.25)
    assert t.dtype == ts.float64
    init.eye_(t)
    np.testing.assert_array_equal(t.numpy(), np.eye(3, 2))


@pytest.mark.parametrize("shape,fans", [((30, 20), (20, 30)), ((16, 8, 3, 5), (120, 240)), ((4, 6, 7), (42, 28))])
def test_fans(shape, fans):
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(ts.empty(*shape)) == fans
    assert torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape)) == fans


@pytest.mark.parametrize(
    "name,param",
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_xavier():
    t = ts.empty(400, 600)
    a = math.sqrt(6 / 1000)
    v = init.xavier_uniform_(t, gain=2.0).numpy()
    assert np.abs(v).max() <= 2 * a and np.abs(v).max() > 1.99 * a
    assert v.std() == pytest.approx(2 * a / math.sqrt(3), rel=0.01)
    v = init.xavier_normal_(t).numpy()
    assert v.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.01)


@pytest.mark.parametrize("mode,fan", [("fan_in", 600), ("fan_out", 400)])
def test_kaiming(mode, fan):
    t = ts.empty(400, 600)
    v = init.kaiming_uniform_(t, mode=mode, nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound
    v = init.kaiming_normal_(t, mode=mode, nonlinearity="relu").numpy()
    assert v.std() == pytest.approx(math.sqrt(2 / fan), rel=0.01)
    # PyTorch's Linear/Conv default: a=sqrt(5) gives bound 1/sqrt(fan_in)
    v = init.kaiming_uniform_(t, a=math.sqrt(5)).numpy()
    assert np.abs(v).max() <= 1 / math.sqrt(600) and np.abs(v).max() > 0.99 / math.sqrt(600)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (5, 2, 3)])
def test_orthogonal(shape):
    t = ts.empty(*shape, dtype=ts.float64)
    q = init.orthogonal_(t, gain=1.5).numpy().reshape(shape[0], -1)
    rows, cols = q.shape
    if rows <= cols:
        np.testing.assert_allclose(q @ q.T, 2.25 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(q.T @ q, 2.25 * np.eye(cols), atol=1e-12)


def test_seeded_and_independent_of_device():
    ts.manual_seed(7)
    a = init.normal_(ts.empty(3, 4)).numpy().copy()
    ts.manual_seed(7)
    b = init.normal_(ts.empty(3, 4, device="strict"))
    assert b.device == "strict:0"
    np.testing.assert_array_equal(a, b.numpy())
    gen = np.random.default_rng(1)
    c = init.uniform_(ts.empty(5), generator=gen).numpy()
    np.testing.assert_array_equal(c, np.random.default_rng(1).uniform(0, 1, 5).astype(np.float32))


def test_init_on_parameters_records_no_graph():
    p = ts.nn.Parameter(ts.zeros(3, 3))
    init.xavier_uniform_(p)
    assert p.requires_grad and p.is_leaf and p.grad is None and p.numpy().any()


def test_init_errors():
    with pytest.raises(ValueError, match=r"init: fan in and fan out need a tensor with at least 2 dim.*shape \(5,\)"):
        init.xavier_uniform_(ts.empty(5))
    with pytest.raises(ValueError, match=r"init: mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(ts.empty(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match=r"calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match=r"orthogonal_: needs a tensor with at least 2 dimensions, got shape \(3,\)"):
        init.orthogonal_(ts.empty(3))
