"""RNNCell / LSTMCell / GRUCell: PyTorch parity, unbatched input, both paths, errors."""

import itertools

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.autograd import OpError

CELLS = ["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"]


def make_pair(spec, input_size=3, hidden_size=4, bias=True, fused=True):
    torch = pytest.importorskip("torch")
    name, _, nonlinearity = spec.partition("-")
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    ref = getattr(torch.nn, name)(input_size, hidden_size, bias=bias, **kw).double()
    ours = getattr(ts.nn, name)(input_size, hidden_size, bias=bias, fused=fused, dtype=ts.float64, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


@pytest.mark.parametrize(
    "spec,bias,fused,batch", list(itertools.product(CELLS, [True, False], [True, False], [3, None]))
)
@pytest.mark.parametrize("given_state", [True, False])
def test_cells_match_pytorch(spec, bias, fused, batch, given_state):
    torch = pytest.importorskip("torch")

    ref, ours = make_pair(spec, bias=bias, fused=fused)
    rng = np.random.default_rng(0)
    lead = () if batch is None else (batch,)
    x = rng.standard_normal(lead + (3,))
    states = [rng.standard_normal(lead + (4,)) for _ in range(2 if spec == "LSTMCell" else 1)]
    tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    t_st = [torch.tensor(s, requires_grad=True) for s in states]
    s_st = [ts.tensor(s, requires_grad=True) for s in states]
    if spec == "LSTMCell":
        t_out = ref(tx, tuple(t_st) if given_state else None)
        s_out = ours(sx, tuple(s_st) if given_state else None)
    else:
        t_out = [ref(tx, t_st[0] if given_state else None)]
        s_out = [ours(sx, s_st[0] if given_state else None)]
    t_loss = s_loss = 0
    for i, (a, b) in enumerate(zip(t_out, s_out)):
        assert tuple(a.shape) == b.shape == lead + (4,)
        np.testing.assert_allclose(b.numpy(), a.detach().numpy(), rtol=1e-12, atol=1e-13)
        w = np.random.default_rng(i).standard_normal(b.shape)
        t_loss = t_loss + (a * torch.tensor(w)).sum()
        s_loss = s_loss + (b * ts.tensor(w)).sum()
    t_loss.backward()
    s_loss.backward()
    pairs = [(tx, sx)] + (list(zip(t_st, s_st)) if given_state else [])
    pairs += list(zip(ref.parameters(), ours.parameters()))
    for a, b in pairs:
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("spec", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_names_and_shapes_match_pytorch(spec, bias):
    ref, ours = make_pair(spec, 5, 7, bias=bias)
    expected = [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert [(n, p.shape) for n, p in ours.named_parameters()] == expected
    assert list(ours.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("spec", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_composed(spec, bias):
    name, _, nonlinearity = spec.partition("-")
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    a = getattr(ts.nn, name)(3, 4, bias=bias, dtype=ts.float64, **kw)
    b = getattr(ts.nn, name)(3, 4, bias=bias, dtype=ts.float64, fused=False, **kw)
    b.load_state_dict(a.state_dict())
    rng = np.random.default_rng(1)
    x, h, c = (rng.standard_normal((5, n)) for n in (3, 4, 4))
    results = []
    for m in (a, b):
        xs, hs, cs = (ts.tensor(v, requires_grad=True) for v in (x, h, c))
        outs = m(xs, (hs, cs)) if name == "LSTMCell" else (m(xs, hs),)
        loss = sum((o * ts.tensor(np.random.default_rng(i).standard_normal(o.shape))).sum() for i, o in enumerate(outs))
        loss.backward()
        grads = [xs.grad, hs.grad] + ([cs.grad] if name == "LSTMCell" else []) + [p.grad for p in m.parameters()]
        results.append([o.numpy() for o in outs] + [g.numpy() for g in grads])
    for u, v in zip(*results):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", CELLS)
def test_fused_cell_gradcheck(spec):
    name, _, nonlinearity = spec.partition("-")
    kw = {"nonlinearity": nonlinearity} if nonlinearity else {}
    cell = getattr(ts.nn, name)(2, 3, dtype=ts.float64, **kw)
    rng = np.random.default_rng(2)
    x, h, c = (ts.tensor(rng.standard_normal((2, n)), requires_grad=True) for n in (2, 3, 3))
    if nonlinearity == "relu":  # keep pre-activations away from the kink at 0
        with ts.no_grad():
            cell.bias_ih.add_(2.0)
    params = list(cell.parameters())

    def fn(x, h, c, *ps):
        return cell(x, (h, c)) if name == "LSTMCell" else cell(x, h)

    assert ts.gradcheck(fn, [x, h, c, *params])


def test_cell_runs_in_one_node_and_is_tagged():
    cell = ts.nn.LSTMCell(3, 4)
    h, c = cell(ts.randn(2, 3))
    assert h._ctx is c._ctx and type(h._ctx).__name__ == "LSTMCellOp"
    tags = dict(h._ctx.scope)
    assert tags["cell"][0] == "LSTMCell" and tags["module"] == "LSTMCell"
    h2, _ = cell(ts.randn(2, 3))
    assert dict(h2._ctx.scope)["cell"] != tags["cell"]  # each invocation its own box


def test_composed_cell_reads_like_the_equations():
    cell = ts.nn.LSTMCell(3, 4, fused=False)
    h, c = cell(ts.randn(2, 3))
    names, seen, stack = set(), set(), [h._ctx, c._ctx]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        names.add(type(fn).__name__)
        assert dict(fn.scope)["cell"][0] == "LSTMCell"
        stack.extend(p for p, i in fn.parents if p is not None and i >= 0)
    assert {"MatMul", "Add", "Split", "Sigmoid", "Tanh", "Mul"} <= names


def test_cells_step_through_a_sequence_like_the_layer():
    lstm = ts.nn.LSTM(3, 4, dtype=ts.float64)
    cell = ts.nn.LSTMCell(3, 4, dtype=ts.float64)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = ts.randn(6, 2, 3, dtype=ts.float64)
    out, (h_n, c_n) = lstm(x)
    h = c = ts.zeros(2, 4, dtype=ts.float64)
    for t in range(6):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.numpy(), out[t].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.numpy(), c_n[0].numpy(), rtol=1e-12, atol=1e-14)


def test_cell_errors_name_expected_and_actual():
    lstm, gru = ts.nn.LSTMCell(3, 4), ts.nn.GRUCell(3, 4)
    with pytest.raises(OpError, match=r"LSTMCell: input has 5 features \(shape \(2, 5\)\) but input_size is 3"):
        lstm(ts.randn(2, 5))
    with pytest.raises(OpError, match=r"GRUCell: expected input of shape \(batch, 3\) or \(3,\), got \(1, 2, 3\)"):
        gru(ts.randn(1, 2, 3))
    with pytest.raises(OpError, match=r"GRUCell: hx should have shape \(2, 4\) \(batch, hidden_size\), got \(3, 4\)"):
        gru(ts.randn(2, 3), ts.zeros(3, 4))
    with pytest.raises(OpError, match=r"GRUCell: hx should have shape \(4,\) \(hidden_size,\) for unbatched"):
        gru(ts.randn(3), ts.zeros(1, 4))
    with pytest.raises(OpError, match=r"LSTMCell: c should have shape \(2, 4\) \(batch, hidden_size\), got \(2, 5\)"):
        lstm(ts.randn(2, 3), (ts.zeros(2, 4), ts.zeros(2, 5)))
    with pytest.raises(OpError, match=r"LSTMCell: hx must be a pair \(h, c\), got Tensor"):
        lstm(ts.randn(2, 3), ts.zeros(2, 4))
    with pytest.raises(OpError, match="RNNCell: input of shape .* is float64 but the parameters are float32"):
        ts.nn.RNNCell(3, 4)(ts.randn(2, 3, dtype=ts.float64))
    with pytest.raises(ValueError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        ts.nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="LSTMCell: hidden_size must be a positive integer, got -1"):
        ts.nn.LSTMCell(3, -1)
    with pytest.raises(TypeError, match="GRUCell: input must be a tensor, got list"):
        gru([1.0, 2.0, 3.0])
