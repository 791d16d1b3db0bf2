"""Inputs that used to crash with an array library's message: empty batches in the
recurrent layers, softmax over an empty dim, x[[]], float16 draws, a gradient on another
device, a bad TINYSEQ_DEVICE. Each now gives PyTorch's result or a clear error."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import backend


def _shapes(o):
    return [_shapes(i) for i in o] if isinstance(o, (tuple, list)) else tuple(o.shape)


LAYERS = [
    ("RNN", dict(num_layers=2)),
    ("LSTM", dict(bidirectional=True)),
    ("LSTM", dict(num_layers=2, proj_size=2, batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
]


@pytest.mark.parametrize("kind, kw", LAYERS)
def test_recurrent_layers_return_empty_outputs_for_an_empty_batch(kind, kw):
    layer = getattr(ts.nn, kind)(3, 4, **kw)
    x = ts.zeros((0, 5, 3) if kw.get("batch_first") else (5, 0, 3), requires_grad=True)
    out = layer(x)
    D = 2 if kw.get("bidirectional") else 1
    L, P = kw.get("num_layers", 1), kw.get("proj_size") or 4
    want_out = (0, 5, D * P) if kw.get("batch_first") else (5, 0, D * P)
    want_h = (L * D, 0, P)
    assert _shapes(out) == ([want_out, [want_h, (L * D, 0, 4)]] if kind == "LSTM" else [want_out, want_h])
    # a loss on them backpropagates (zero gradients), as any other batch's does
    h = out[1][0] if kind == "LSTM" else out[1]
    (out[0].sum() + h.sum()).backward()
    assert all(p.grad is not None and not p.grad.numpy().any() for p in layer.parameters())
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("kind, kw", LAYERS)
def test_empty_batch_shapes_match_torch(kind, kw):
    torch = pytest.importorskip("torch")
    shape = (0, 5, 3) if kw.get("batch_first") else (5, 0, 3)
    ours = getattr(ts.nn, kind)(3, 4, **kw)(ts.zeros(shape))
    theirs = getattr(torch.nn, kind)(3, 4, **kw)(torch.zeros(shape))
    assert _shapes(ours) == _shapes(theirs)


def test_empty_batch_still_checks_the_initial_state():
    with pytest.raises(ValueError, match=r"LSTM: h_0 should have shape \(1, 0, 4\)"):
        ts.nn.LSTM(3, 4)(ts.zeros(5, 0, 3), (ts.zeros(2, 0, 4), ts.zeros(1, 0, 4)))
    out, h = ts.nn.GRU(3, 4)(ts.zeros(5, 0, 3), ts.zeros(1, 0, 4))
    assert out.shape == (5, 0, 4) and h.shape == (1, 0, 4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_sequence_of_length_zero_is_refused_clearly(kind):
    with pytest.raises(ValueError, match=rf"{kind}: expected a sequence length larger than 0, got input of shape"):
        getattr(ts.nn, kind)(3, 4)(ts.zeros(0, 2, 3))
    with pytest.raises(ValueError, match="sequence length larger than 0"):
        getattr(ts.nn, kind)(3, 4)(ts.zeros(0, 3))  # unbatched


@pytest.mark.parametrize("kind", ["ConvRNN", "ConvLSTM", "ConvGRU"])
def test_conv_recurrent_layers_return_empty_outputs_for_an_empty_batch(kind):
    layer = getattr(ts.nn, kind)(2, [3, 4], 3, num_layers=2)
    out, state = layer(ts.zeros(4, 0, 2, 5, 5))
    assert out.shape == (4, 0, 4, 5, 5)
    maps = [(0, 3, 5, 5), (0, 4, 5, 5)]
    assert _shapes(state) == ([maps, maps] if kind == "ConvLSTM" else maps)
    out, h = ts.nn.ConvGRU(2, 3, 3, bidirectional=True, batch_first=True)(ts.zeros(0, 4, 2, 5, 5))
    assert out.shape == (0, 4, 6, 5, 5) and h.shape == (2, 0, 3, 5, 5)
    layer = ts.nn.ConvLSTM(2, 3, 3)
    out, (h, c) = layer(ts.zeros(4, 0, 2, 5, 5))
    (out.sum() + c.sum()).backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_softmax_over_an_empty_dim_is_empty():
    for shape, dim in [((2, 0), -1), ((0, 3), -1), ((2, 0, 3), 1)]:
        x = ts.zeros(*shape, requires_grad=True)
        assert x.softmax(dim).shape == shape and x.log_softmax(dim).shape == shape
        x.softmax(dim).sum().backward()
        assert x.grad.shape == shape


def test_an_empty_list_index_selects_nothing():
    x = ts.arange(12.0).reshape(3, 4)
    assert x[[]].shape == (0, 4)
    assert x[:, []].shape == (3, 0)
    assert x.index_select(0, []).shape == (0, 4)
    w = ts.zeros(3, 4, requires_grad=True)
    w[[]].sum().backward()
    assert w.grad.shape == (3, 4) and not w.grad.numpy().any()


def test_float16_draws():
    for t in [ts.randn(2, dtype=ts.float16), ts.rand(3, dtype=ts.float16),
              ts.randn_like(ts.zeros(2, dtype=ts.float16)), ts.rand_like(ts.zeros(2, dtype=ts.float16))]:
        assert t.dtype == ts.float16 and np.isfinite(t.numpy()).all()
    assert (ts.rand(100, dtype=ts.float16).numpy() < 1).all()
    with pytest.raises(TypeError, match="randn: dtype must be a floating-point type, got int64"):
        ts.randn(2, dtype=ts.int64)


def test_backward_gradient_on_another_device_is_refused_at_the_call():
    x = ts.ones(2, requires_grad=True, device="strict")
    y = x * 2
    with pytest.raises(RuntimeError, match=r"backward: gradient is on cpu but the tensor is on strict:0"):
        y.backward(ts.ones(2))
    y.backward(ts.ones(2, device="strict"))
    assert x.grad.device == "strict:0"


@pytest.fixture
def fresh_default(monkeypatch):
    monkeypatch.setattr(backend, "_default", [None])
    monkeypatch.setattr(backend, "_chosen", backend._PerThreadDevice())


@pytest.mark.parametrize("value", ["bogus", "cuda:x", "cpu:3"])
def test_a_bad_tinyseq_device_names_the_variable_and_the_valid_values(fresh_default, monkeypatch, value):
    monkeypatch.setenv("TINYSEQ_DEVICE", value)
    with pytest.raises(ValueError, match=rf"TINYSEQ_DEVICE='{value}' .*valid values: cpu, cuda, cuda:<index>"):
        ts.zeros(1)


def test_an_unavailable_tinyseq_device_names_the_variable(fresh_default, monkeypatch):
    monkeypatch.setattr(backend, "_lazy_modules", {**backend._lazy_modules, "nogpu": "tinyseq_no_such_package"})
    monkeypatch.setenv("TINYSEQ_DEVICE", "nogpu")
    with pytest.raises(RuntimeError, match=r"TINYSEQ_DEVICE='nogpu': device 'nogpu:0' needs the tinyseq_no_such"):
        ts.zeros(1)
