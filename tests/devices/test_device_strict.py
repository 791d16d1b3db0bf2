"""The strict test device itself: it must refuse exactly what a GPU array refuses."""

import copy

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.devices.strict import StrictArray, StrictBackend
from tinyseq.devices.strict import strict_numpy as xp


def _s(*shape):
    return xp.asarray(np.arange(np.prod(shape), dtype=np.float64).reshape(shape))


@pytest.mark.parametrize(
    "convert",
    [np.asarray, np.array, lambda a: np.asarray([a, a]), lambda a: np.concatenate([a, np.ones((2, 3))])],
    ids=["asarray", "array", "list", "concatenate-with-host"],
)
def test_implicit_host_conversion_raises(convert):
    with pytest.raises(TypeError, match="strict device: .*(implicit conversion|host numpy array)"):
        convert(_s(2, 3))


@pytest.mark.parametrize(
    "mix",
    [
        lambda a, h: a + h,
        lambda a, h: h + a,
        lambda a, h: h * a,
        lambda a, h: a @ h.reshape(3, 2).T,
        lambda a, h: xp.maximum(a, h),
        lambda a, h: np.add(a, h),
        lambda a, h: xp.where(a > 1, a, h),
    ],
    ids=["add", "radd", "rmul", "matmul", "xp.maximum", "np.add", "xp.where"],
)
def test_mixing_with_host_arrays_raises(mix):
    with pytest.raises(TypeError, match="mixes a device array with a host numpy array of shape \\(2, 3\\)"):
        mix(_s(2, 3), np.ones((2, 3)))


def test_host_index_value_and_out_are_refused():
    a = _s(4, 3)
    with pytest.raises(TypeError, match="indexing mixes a device array with a host numpy array of shape \\(2,\\)"):
        a[np.array([0, 1])]
    with pytest.raises(TypeError, match="item assignment mixes .* host numpy array of shape \\(3,\\)"):
        a[0] = np.ones(3)
    with pytest.raises(TypeError, match="np.exp writes into a ndarray"):
        np.exp(a, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="mixes a device array with a Python list"):
        a + [1.0, 2.0, 3.0]


def test_scalar_conversions_only_for_one_element():
    msg = "only one-element arrays convert to Python scalars \\(float\\), got shape \\(2, 3\\)"
    with pytest.raises(TypeError, match=msg):
        float(_s(2, 3))
    with pytest.raises(ValueError, match="truth value of an array of shape \\(2, 3\\) is ambiguous"):
        bool(_s(2, 3))
    one = _s(1, 1) + 3.0
    assert float(one) == 3.0 and int(one) == 3 and bool(one)
    assert isinstance(_s(2, 2).sum(), StrictArray)  # reductions give 0-d device arrays, as CuPy's do
    assert f"{_s(2, 2).sum():.1f}" == "6.0"


def test_device_arrays_work_together_and_with_scalars():
    a, b = _s(2, 3), _s(3)
    out = xp.exp(a) * b + np.float64(1.5) + 2 - np.asarray(0.5)
    assert isinstance(out, StrictArray)
    want = np.exp(np.arange(6.0).reshape(2, 3)) * np.arange(3.0) + 3.0
    np.testing.assert_allclose(StrictBackend().to_host(out), want)
    assert isinstance(np.exp(a), StrictArray)  # numpy functions dispatch to device arrays, as with CuPy
    c = xp.zeros(4)
    xp.add.at(c, xp.asarray([0, 0, 3]), 1.0)
    assert StrictBackend().to_host(c).tolist() == [2.0, 0.0, 0.0, 1.0]
    c += 1
    c[xp.asarray([1, 2])] = xp.asarray([5.0, 6.0])
    assert StrictBackend().to_host(c).tolist() == [3.0, 5.0, 6.0, 2.0]
    assert [float(r.sum()) for r in _s(2, 2)] == [1.0, 5.0]
    assert isinstance(copy.deepcopy(c), StrictArray)


def test_host_and_device_never_share_memory():
    be = StrictBackend()
    host = np.zeros(3)
    dev = be.from_host(host)
    host[0] = 1.0
    assert be.to_host(dev)[0] == 0.0
    back = be.to_host(dev)
    back[1] = 5.0
    assert be.to_host(dev)[1] == 0.0
    with pytest.raises(TypeError, match="to_host was given a ndarray, not an array of strict:0"):
        be.to_host(host)
    with pytest.raises(TypeError, match="from_host was given an array that is already on the device"):
        be.from_host(dev)


def test_strict_device_registered_lazily_and_seeded():
    be = ts.get_backend("strict")
    assert be is ts.get_backend("strict:0") and be.name == "strict:0"
    ts.manual_seed(3)
    a = ts.randn(4, device="strict").numpy()
    ts.manual_seed(3)
    b = ts.randn(4, device="strict").numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, ts.randn(4, device="strict").numpy())


def test_ufunc_features_cupy_lacks_are_refused():
    a = _s(2, 3)
    with pytest.raises(NotImplementedError, match="xp.maximum.reduce is not supported by CuPy"):
        xp.maximum.reduce(a)
    with pytest.raises(TypeError, match="xp.exp got \\['where'\\]; CuPy's ufuncs take only out=, dtype= and casting="):
        xp.exp(a, where=a > 1)
    assert float(xp.add.reduce(a, axis=None)) == 15.0
    assert isinstance(xp.tanh(a, None), StrictArray)  # a positional out=None is fine, as in CuPy
