"""ConvRNN / ConvLSTM / ConvGRU cells and layers: values and gradients against PyTorch references,
then argument checking, time-step scopes and a short training run.

The PyTorch references below are the same equations written with
torch.nn.functional.conv2d over the concatenation [x, h] (PyTorch has no
convolutional recurrent layers of its own)."""

import numpy as np
import pytest
from graph_walk import graph_nodes

import tinyseq as ts
from tinyseq import nn
from tinyseq.nn import functional as F
from tinyseq.nn.recurrent import conv as conv_recurrent
from tinyseq.ops.fused import cells as fused_cells
from tinyseq.ops.fused import kernels as fused_ops
from tinyseq.ops.fused.cells import ConvLSTMCellOp

torch = pytest.importorskip("torch")
tF = torch.nn.functional
# PyTorch notes that padding="same" with even kernels copies the input; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

KERNELS = [1, 2, 3, 5, (3, 5), (2, 4)]


# -- PyTorch references ------------------------------------------------------------------
def t_lstm_step(x, h, c, w, b, peep=None):
    i, f, g, o = tF.conv2d(torch.cat([x, h], 1), w, b, padding="same").chunk(4, 1)
    if peep is not None:
        i, f = i + peep[0] * c, f + peep[1] * c
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if peep is not None:
        o = o + peep[2] * c
    return torch.sigmoid(o) * torch.tanh(c), c


def t_gru_step(x, h, w, b, b_hn):
    k = x.shape[1]
    xr, xz, xn = tF.conv2d(x, w[:, :k], b, padding="same").chunk(3, 1)
    hr, hz, hn = tF.conv2d(h, w[:, k:], padding="same").chunk(3, 1)
    if b_hn is not None:
        hn = hn + b_hn[:, None, None]
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def t_rnn_step(x, h, w, b):
    return torch.tanh(tF.conv2d(torch.cat([x, h], 1), w, b, padding="same"))


def t_layer(mode, x, P, num_layers, dirs, h0=None, c0=None):
    """Reference stacked/bidirectional layer on (T, B, C, H, W); P: name -> torch tensor."""
    T, B = x.shape[:2]
    hs, cs = [], []
    for k in range(num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            w, b = P[f"weight{sfx}"], P.get(f"bias{sfx}")
            hid = w.shape[0] // {"rnn": 1, "lstm": 4, "gru": 3}[mode]
            i = k * dirs + d
            h = h0[i] if h0 is not None else x.new_zeros(B, hid, *x.shape[3:])
            c = c0[i] if c0 is not None else x.new_zeros(B, hid, *x.shape[3:])
            seq = [None] * T
            for t in range(T) if d == 0 else reversed(range(T)):
                if mode == "lstm":
                    peep = [P[f"{p}{sfx}"] for p in ("weight_ci", "weight_cf", "weight_co")] if (
                        f"weight_ci{sfx}" in P) else None
                    h, c = t_lstm_step(x[t], h, c, w, b, peep)
                elif mode == "gru":
                    h = t_gru_step(x[t], h, w, b, P.get(f"bias_hn{sfx}"))
                else:
                    h = t_rnn_step(x[t], h, w, b)
                seq[t] = h
            outs.append(torch.stack(seq))
            hs.append(h)
            cs.append(c)
        x = torch.cat(outs, 2)
    return x, hs, cs


# -- utilities ---------------------------------------------------------------------------
@pytest.fixture(params=["hoisted", "per_step"])
def path(request, monkeypatch):
    """Run a layer test both ways: frames of all steps convolved at once, or per step over cat([x, h])."""
    monkeypatch.setattr(conv_recurrent, "HOIST_MIN_COLUMNS", 0 if request.param == "hoisted" else 10**9)
    return request.param


def randn(*shape, grad=True):
    return ts.tensor(np.random.standard_normal(shape), dtype=ts.float64, requires_grad=grad)


def to_torch(t):
    return torch.tensor(t.numpy(), requires_grad=True)


def torch_params(module):
    return {n: to_torch(p) for n, p in module.named_parameters()}


def randomise(module, scale=0.5):
    """Non-zero values everywhere (peephole weights start at zero)."""
    for p in module.parameters():
        p.data = ts.tensor(np.random.standard_normal(p.shape) * scale)
    return module


def close(a, b, tol=1e-10):
    a = a.numpy() if isinstance(a, ts.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# -- cells -------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_convlstm_cell_matches_torch(kernel):
    cell = nn.ConvLSTMCell(3, 4, kernel).double()
    x, h, c = randn(2, 3, 6, 7), randn(2, 4, 6, 7), randn(2, 4, 6, 7)
    h1, c1 = cell(x, (h, c))
    assert h1.shape == c1.shape == (2, 4, 6, 7)
    (h1.sum() + (c1 * c1).sum()).backward()

    P = torch_params(cell)
    tx, th, tc = to_torch(x), to_torch(h), to_torch(c)
    rh, rc = t_lstm_step(tx, th, tc, P["weight"], P["bias"])
    (rh.sum() + (rc * rc).sum()).backward()
    close(h1, rh)
    close(c1, rc)
    for ours, ref in [(x, tx), (h, th), (c, tc), (cell.weight, P["weight"]), (cell.bias, P["bias"])]:
        close(ours.grad, ref.grad)


def test_convlstm_cell_peephole_matches_torch():
    cell = randomise(nn.ConvLSTMCell(2, 3, 3, peephole=True).double())
    assert cell.weight_ci.shape == (3, 1, 1)
    x, h, c = randn(2, 2, 5, 5), randn(2, 3, 5, 5), randn(2, 3, 5, 5)
    h1, c1 = cell(x, (h, c))
    (h1 * c1).sum().backward()
    P = torch_params(cell)
    peep = [P["weight_ci"], P["weight_cf"], P["weight_co"]]
    rh, rc = t_lstm_step(to_torch(x), to_torch(h), to_torch(c), P["weight"], P["bias"], peep)
    (rh * rc).sum().backward()
    close(h1, rh)
    for name, p in cell.named_parameters():
        close(p.grad, P[name].grad)


@pytest.mark.parametrize("kernel", [2, (3, 2)])
def test_convgru_and_convrnn_cells_match_torch(kernel):
    gru = randomise(nn.ConvGRUCell(2, 3, kernel).double())
    rnn = nn.ConvRNNCell(2, 3, kernel).double()
    x, h = randn(2, 2, 5, 4), randn(2, 3, 5, 4)
    for cell, ref in [(gru, lambda P, x, h: t_gru_step(x, h, P["weight"], P["bias"], P["bias_hn"])),
                      (rnn, lambda P, x, h: t_rnn_step(x, h, P["weight"], P["bias"]))]:
        x.grad = h.grad = None
        out = cell(x, h)
        (out * out).sum().backward()
        P = torch_params(cell)
        tx, th = to_torch(x), to_torch(h)
        r = ref(P, tx, th)
        (r * r).sum().backward()
        close(out, r)
        close(x.grad, tx.grad)
        close(h.grad, th.grad)
        for name, p in cell.named_parameters():
            close(p.grad, P[name].grad)


@pytest.mark.parametrize("kernel", [1, 2, (2, 3)])
def test_cells_keep_spatial_size_and_zero_state_default(kernel):
    x = randn(2, 3, 7, 4)
    for cell in (nn.ConvRNNCell(3, 5, kernel), nn.ConvGRUCell(3, 5, kernel), nn.ConvLSTMCell(3, 5, kernel)):
        cell.double()
        zero = ts.zeros(2, 5, 7, 4, dtype=ts.float64)
        if isinstance(cell, nn.ConvLSTMCell):
            (h, c), (h0, c0) = cell(x), cell(x, (zero, zero))
            close(c, c0.numpy(), 1e-14)
        else:
            h, h0 = cell(x), cell(x, zero)
        assert h.shape == (2, 5, 7, 4)
        close(h, h0.numpy(), 1e-14)


def test_one_by_one_cells_are_pytorch_cells():
    """With 1x1 kernels on 1x1 frames the cells are exactly PyTorch's RNNCell/LSTMCell/GRUCell."""
    x, h, c = randn(3, 4, 1, 1), randn(3, 5, 1, 1), randn(3, 5, 1, 1)
    flat = [torch.tensor(t.numpy()[:, :, 0, 0]) for t in (x, h, c)]
    lstm, gru, rnn = (randomise(cls(4, 5, 1)).double() for cls in (nn.ConvLSTMCell, nn.ConvGRUCell, nn.ConvRNNCell))
    for ours, ref in [(lstm, torch.nn.LSTMCell(4, 5)), (gru, torch.nn.GRUCell(4, 5)), (rnn, torch.nn.RNNCell(4, 5))]:
        ref = ref.double()
        w = torch.tensor(ours.weight.numpy()[:, :, 0, 0])
        with torch.no_grad():
            ref.weight_ih.copy_(w[:, :4])
            ref.weight_hh.copy_(w[:, 4:])
            ref.bias_ih.copy_(torch.tensor(ours.bias.numpy()))
            ref.bias_hh.zero_()
            if ours is gru:
                ref.bias_hh[10:] = torch.tensor(gru.bias_hn.numpy())
        if ours is lstm:
            (oh, oc), (rh, rc) = ours(x, (h, c)), ref(flat[0], (flat[1], flat[2]))
            close(oc.numpy()[:, :, 0, 0], rc, 1e-12)
        else:
            oh, rh = ours(x, h), ref(flat[0], flat[1])
        close(oh.numpy()[:, :, 0, 0], rh, 1e-12)


def test_gradcheck_cells():
    x = randn(1, 2, 3, 4)
    gru = randomise(nn.ConvGRUCell(2, 2, (2, 3)).double())
    rnn = randomise(nn.ConvRNNCell(2, 2, 3).double())
    lstm = randomise(nn.ConvLSTMCell(2, 2, 2, peephole=True).double())
    h, c = randn(1, 2, 3, 4), randn(1, 2, 3, 4)
    assert ts.gradcheck(lambda x, h, *p: gru(x, h), [x, h, *gru.parameters()])
    assert ts.gradcheck(lambda x, h, *p: gru(x), [x, h, *gru.parameters()])
    assert ts.gradcheck(lambda x, h, *p: rnn(x, h), [x, h, *rnn.parameters()])
    assert ts.gradcheck(lambda x, h, c, *p: lstm(x, (h, c)), [x, h, c, *lstm.parameters()])


# -- layers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_convlstm_layer_matches_torch(kernel, path):
    m = nn.ConvLSTM(2, 3, kernel).double()
    x = randn(4, 2, 2, 5, 6)
    out, (h_n, c_n) = m(x)
    assert out.shape == (4, 2, 3, 5, 6) and h_n.shape == c_n.shape == (1, 2, 3, 5, 6)
    ((out * out).sum() + h_n.sum() + c_n.sum()).backward()
    P = torch_params(m)
    tx = to_torch(x)
    r_out, (r_h,), (r_c,) = t_layer("lstm", tx, P, 1, 1)
    ((r_out * r_out).sum() + r_h.sum() + r_c.sum()).backward()
    close(out, r_out)
    close(h_n[0], r_h)
    close(c_n[0], r_c)
    close(x.grad, tx.grad)
    for name, p in m.named_parameters():
        close(p.grad, P[name].grad)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_stacked_bidirectional_layers_match_torch(mode, path):
    cls = {"lstm": nn.ConvLSTM, "gru": nn.ConvGRU, "rnn": nn.ConvRNN}[mode]
    kw = {"peephole": True} if mode == "lstm" else {}
    m = randomise(cls(2, [3, 2], [3, (2, 4)], num_layers=2, bidirectional=True, **kw).double(), 0.3)
    names = [n for n, _ in m.named_parameters()]
    assert names[:2] == ["weight_l0", "bias_l0"] and "weight_l1_reverse" in names
    assert m.weight_l1.shape[1] == 2 * 3 + 2  # input of layer 1: both directions of layer 0
    x = randn(3, 2, 2, 4, 5)
    h0 = [randn(2, 3, 4, 5), randn(2, 3, 4, 5), randn(2, 2, 4, 5), randn(2, 2, 4, 5)]
    c0 = [randn(2, 3, 4, 5), randn(2, 3, 4, 5), randn(2, 2, 4, 5), randn(2, 2, 4, 5)]
    out, state = m(x, (h0, c0) if mode == "lstm" else h0)
    h_n = state[0] if mode == "lstm" else state
    assert out.shape == (3, 2, 4, 4, 5)
    assert isinstance(h_n, list) and [h.shape[1] for h in h_n] == [3, 3, 2, 2]
    loss = (out * out).sum() + sum((h * h).sum() for h in h_n)
    loss.backward()

    P = torch_params(m)
    tx, th0, tc0 = to_torch(x), [to_torch(h) for h in h0], [to_torch(c) for c in c0]
    r_out, r_h, _ = t_layer(mode, tx, P, 2, 2, th0, tc0)
    ((r_out * r_out).sum() + sum((h * h).sum() for h in r_h)).backward()
    close(out, r_out)
    for ours, ref in zip(h_n, r_h):
        close(ours, ref)
    close(x.grad, tx.grad)
    for ours, ref in zip(h0, th0):
        close(ours.grad, ref.grad)
    if mode == "lstm":
        for ours, ref in zip(c0, tc0):
            close(ours.grad, ref.grad)
    for name, p in m.named_parameters():
        close(p.grad, P[name].grad)


def test_layer_h0_tensor_batch_first_and_gradients(path):
    m = randomise(nn.ConvGRU(1, 2, 3, num_layers=2, batch_first=True).double(), 0.4)
    x = randn(2, 5, 1, 4, 4)  # (B, T, C, H, W)
    h0 = randn(2, 2, 2, 4, 4)
    out, h_n = m(x, h0)
    assert out.shape == (2, 5, 2, 4, 4) and h_n.shape == (2, 2, 2, 4, 4)
    close(out.numpy()[:, -1], h_n.numpy()[-1], 1e-14)
    (out.sum() + (h_n * h_n).sum()).backward()
    P = torch_params(m)
    tx, th0 = to_torch(x), to_torch(h0)
    r_out, r_h, _ = t_layer("gru", tx.transpose(0, 1), P, 2, 1, th0)
    r_h = torch.stack(r_h)
    (r_out.transpose(0, 1).sum() + (r_h * r_h).sum()).backward()
    close(out, r_out.transpose(0, 1))
    close(x.grad, tx.grad)
    close(h0.grad, th0.grad)


def test_layer_state_flows_between_calls():
    """Two half sequences with the state carried equal one whole sequence."""
    m = nn.ConvLSTM(2, 3, 3).double()
    x = randn(6, 1, 2, 4, 4, grad=False)
    whole, (h, c) = m(x)
    first, state = m(x[:3])
    second, (h2, c2) = m(x[3:], state)
    close(ts.cat([first, second]), whole.numpy(), 1e-13)
    close(h2, h.numpy(), 1e-13)
    close(c2, c.numpy(), 1e-13)


@pytest.mark.parametrize("cls", [nn.ConvLSTM, nn.ConvGRU, nn.ConvRNN])
def test_hoisted_input_conv_equals_per_step_cat(cls, path):
    """The layer (one conv for all frames + a state conv per step) equals looping the
    cell (one conv over cat([x, h]) per step) with the same parameters."""
    cell_cls = {nn.ConvLSTM: nn.ConvLSTMCell, nn.ConvGRU: nn.ConvGRUCell, nn.ConvRNN: nn.ConvRNNCell}[cls]
    kw = {"peephole": True} if cls is nn.ConvLSTM else {}
    layer = randomise(cls(2, 3, (2, 3), **kw).double())
    cell = cell_cls(2, 3, (2, 3), **kw).double()
    cell.load_state_dict({n.replace("_l0", ""): p for n, p in layer.state_dict().items()})
    x = randn(4, 2, 2, 5, 5)
    out, _ = layer(x)
    (out * out).sum().backward()
    layer_grads = {n.replace("_l0", ""): p.grad.numpy() for n, p in layer.named_parameters()}
    gx = x.grad.numpy()
    x.grad = None
    state, seq = None, []
    for t in range(4):
        state = cell(x[t], state)
        seq.append(state[0] if cls is nn.ConvLSTM else state)
    ref = ts.stack(seq)
    (ref * ref).sum().backward()
    close(out, ref.numpy(), 1e-12)
    close(gx, x.grad.numpy(), 1e-12)
    for n, p in cell.named_parameters():
        close(layer_grads[n], p.grad.numpy(), 1e-12)


def test_gradcheck_layers(path):
    x = randn(3, 1, 1, 3, 3)
    lstm = randomise(nn.ConvLSTM(1, 2, 2, bidirectional=True, peephole=True).double())
    h0, c0 = randn(2, 1, 2, 3, 3), randn(2, 1, 2, 3, 3)
    assert ts.gradcheck(lambda x, h, c, *p: lstm(x, (h, c))[0], [x, h0, c0, *lstm.parameters()])
    gru = randomise(nn.ConvGRU(1, 1, (1, 2), num_layers=2).double())
    assert ts.gradcheck(lambda x, *p: gru(x), [x, *gru.parameters()])
    rnn = randomise(nn.ConvRNN(1, 2, 3, bidirectional=True).double())
    assert ts.gradcheck(lambda x, *p: rnn(x)[0], [x, *rnn.parameters()])


def test_default_dtype_float32_and_init_bounds():
    m = nn.ConvLSTM(3, 4, 3, peephole=True)
    assert m.weight_l0.dtype == ts.float32 and m.weight_l0.shape == (16, 7, 3, 3)
    bound = 1 / np.sqrt(7 * 9)
    for p in (m.weight_l0, m.bias_l0):
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.8 * bound
    assert not m.weight_ci_l0.numpy().any()  # peepholes start at zero
    out, (h, c) = m(ts.randn(2, 1, 3, 4, 4))
    assert out.dtype == h.dtype == c.dtype == ts.float32
    g = nn.ConvGRU(1, 2, 2)
    assert [n for n, _ in g.named_parameters()] == ["weight_l0", "bias_l0", "bias_hn_l0"]
    assert g.bias_hn_l0.shape == (2,)
    assert [n for n, _ in nn.ConvRNN(1, 2, 2, bias=False).named_parameters()] == ["weight_l0"]
    assert [n for n, _ in nn.ConvGRUCell(1, 2, 2, bias=False).named_parameters()] == ["weight"]


def test_dropout_between_layers_in_training_only():
    m = nn.ConvRNN(1, 2, 3, num_layers=2, dropout=0.5)
    x = ts.randn(3, 2, 1, 4, 4)
    a, b = m(x)[0].numpy(), m(x)[0].numpy()
    assert not np.allclose(a, b)
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), m(x)[0].numpy())
    with pytest.warns(UserWarning, match="between layers"):
        nn.ConvLSTM(1, 2, 3, dropout=0.2)


# -- fused and composed --------------------------------------------------------------------
def _grads(module, *xs):
    return [t.grad.numpy().copy() for t in xs] + [p.grad.numpy().copy() for p in module.parameters()]


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])  # one image per kernel call, or the whole batch
def test_fused_convlstm_equals_composed(with_state, chunk_bytes, path, monkeypatch):
    monkeypatch.setattr(fused_cells, "_CHUNK_BYTES", chunk_bytes)
    x = randn(3, 2, 2, 4, 5)
    h0, c0 = randn(2, 2, 3, 4, 5), randn(2, 2, 3, 4, 5)
    results = []
    for fused in (True, False):
        ts.manual_seed(3)
        m = nn.ConvLSTM(2, 3, (2, 3), bidirectional=True, fused=fused).double()
        for t in (x, h0, c0):
            t.grad = None
        out, (h, c) = m(x, (h0, c0) if with_state else None)
        ((out * out).sum() + (h * c).sum()).backward()
        grads = _grads(m, x, h0, c0) if with_state else _grads(m, x)
        results.append(([out.numpy(), h.numpy(), c.numpy()], grads))
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        close(a, b, 1e-12)


def _fused_cell_equals_composed(channels, hidden, size):
    x, h, c = randn(2, channels, size, size), randn(2, hidden, size, size), randn(2, hidden, size, size)
    outs = []
    for fused in (True, False):
        ts.manual_seed(5)
        cell = nn.ConvLSTMCell(channels, hidden, 3, fused=fused).double()
        x.grad = h.grad = c.grad = None
        h1, c1 = cell(x, (h, c))
        (h1 * c1 + h1).sum().backward()
        outs.append([h1.numpy(), c1.numpy()] + _grads(cell, x, h, c))
    for a, b in zip(*outs):
        close(a, b, 1e-12)


def test_fused_convlstm_cell_equals_composed_and_gradchecks():
    _fused_cell_equals_composed(2, 3, 4)
    op = ConvLSTMCellOp
    xg, hg = randn(2, 8, 3, 3), randn(2, 8, 3, 3)
    cp = randn(2, 2, 3, 3)
    assert ts.gradcheck(lambda a, b, c: op.apply(a, b, c, has_h=True, has_c=True), [xg, hg, cp])
    assert ts.gradcheck(lambda a: op.apply(a, has_h=False, has_c=False), [xg])
    assert ts.gradcheck(lambda a, c: op.apply(a, c, has_h=False, has_c=True), [xg, cp])


def test_fused_backward_twice_with_retain_graph():
    m = nn.ConvLSTM(1, 2, 3).double()
    x = randn(3, 1, 1, 4, 4)
    out, _ = m(x)
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    close(x.grad, first, 1e-14)


def test_fused_convlstm_with_wide_rows_equals_composed():
    """Big frames make the cell kernels' rows wide (channels x pixels, past 64 KB), where
    they switch from row constants to scalar ops on the gate blocks: same numbers."""
    assert fused_ops._consts(np, 4 * 24 * 24, 4, np.float64).wide
    _fused_cell_equals_composed(1, 4, 24)


# -- errors ------------------------------------------------------------------------------
def test_cell_rejects_bad_frames_and_states():
    cell = nn.ConvLSTMCell(3, 4, 3)
    with pytest.raises(ValueError, match=r"ConvLSTMCell: expected a frame of shape \(batch, 3, height, width\), "
                                         r"got \(3, 8, 8\)"):
        cell(ts.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"ConvLSTMCell: input has 2 channels but in_channels=3 "
                                         r"\(input shape \(2, 2, 8, 8\)\)"):
        cell(ts.randn(2, 2, 8, 8))
    x, h = ts.randn(2, 3, 8, 8), ts.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match=r"ConvLSTMCell: state of shape \(2, 4, 8, 7\) does not fit input "
                                         r"\(2, 3, 8, 8\); expected \(2, 4, 8, 8\)"):
        cell(x, (h, ts.randn(2, 4, 8, 7)))
    with pytest.raises(ValueError, match=r"ConvLSTMCell: state must be a pair \(h, c\), got Tensor"):
        cell(x, h)
    with pytest.raises(ValueError, match=r"ConvGRUCell: state of shape \(1, 4, 8, 8\) does not fit"):
        nn.ConvGRUCell(3, 4, 3)(x, ts.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"ConvRNNCell: expected a frame of shape \(batch, 3, height, width\), "
                                         r"got \(1, 2, 3, 8, 8\)"):
        nn.ConvRNNCell(3, 4, 3)(ts.randn(1, 2, 3, 8, 8))


def test_layer_rejects_bad_input_and_h0():
    m = nn.ConvLSTM(3, 4, 3, num_layers=2)
    with pytest.raises(ValueError, match=r"ConvLSTM: expected input of shape \(seq_len, batch, 3, height, width\), "
                                         r"got \(2, 3, 8, 8\)"):
        m(ts.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"ConvGRU: expected input of shape \(batch, seq_len, 3, height, width\)"):
        nn.ConvGRU(3, 4, 3, batch_first=True)(ts.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"ConvLSTM: input has 1 channels but in_channels=3 "
                                         r"\(input shape \(5, 2, 1, 8, 8\)\)"):
        m(ts.randn(5, 2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"ConvLSTM: input of shape \(0, 2, 3, 8, 8\) has no time steps"):
        m(ts.randn(0, 2, 3, 8, 8))
    x = ts.randn(5, 2, 3, 8, 8)
    h = ts.zeros(2, 2, 4, 8, 8)
    with pytest.raises(ValueError, match=r"ConvLSTM: h0 must be a pair \(h_0, c_0\), got Tensor"):
        m(x, h)
    with pytest.raises(ValueError, match=r"ConvLSTM: c_0 has shape \(2, 2, 4, 8, 9\), expected \(2, 2, 4, 8, 8\)"):
        m(x, (h, ts.zeros(2, 2, 4, 8, 9)))
    with pytest.raises(ValueError, match=r"ConvLSTM: h_0 has shape \(1, 2, 4, 8, 8\), expected \(2, 2, 4, 8, 8\)"):
        m(x, (ts.zeros(1, 2, 4, 8, 8), h))
    g = nn.ConvGRU(3, [4, 5], 3, num_layers=2)
    with pytest.raises(ValueError, match=r"ConvGRU: h0 has shape \(2, 2, 4, 8, 8\), expected a list of 2 maps"):
        g(x, h)
    with pytest.raises(ValueError, match=r"ConvGRU: h0 must be a tensor or a list of 2 maps, got 1 maps"):
        g(x, [ts.zeros(2, 4, 8, 8)])
    with pytest.raises(ValueError, match=r"ConvGRU: h0\[1\] has shape \(2, 4, 8, 8\), expected \(2, 5, 8, 8\)"):
        g(x, [ts.zeros(2, 4, 8, 8), ts.zeros(2, 4, 8, 8)])


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match=r"ConvLSTMCell: kernel_size must be a positive int or a \(kh, kw\) pair, "
                                         r"got \(3, 3, 3\)"):
        nn.ConvLSTMCell(1, 2, (3, 3, 3))
    with pytest.raises(ValueError, match=r"ConvLSTM: kernel_size must be a positive int .* got 0"):
        nn.ConvLSTM(1, 2, 0)
    with pytest.raises(ValueError, match=r"ConvGRUCell: padding 0 would change the spatial size with kernel \(3, 3\)"):
        nn.ConvGRUCell(1, 2, 3, padding=0)
    with pytest.raises(ValueError, match=r"ConvRNN: hidden_channels lists 3 values for num_layers=2"):
        nn.ConvRNN(1, [2, 3, 4], 3, num_layers=2)
    with pytest.raises(ValueError, match=r"ConvRNN: kernel_size lists 1 values for num_layers=2"):
        nn.ConvRNN(1, 2, [3], num_layers=2)
    with pytest.raises(ValueError, match=r"ConvLSTM: hidden_channels must be a positive int, got 0"):
        nn.ConvLSTM(1, 0, 3)
    with pytest.raises(ValueError, match=r"ConvLSTM: dropout must be a probability in \[0, 1\], got 1.5"):
        nn.ConvLSTM(1, 2, 3, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match=r"ConvRNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.ConvRNNCell(1, 2, 3, nonlinearity="sigmoid")
    # size-keeping explicit paddings are accepted
    assert nn.ConvLSTMCell(1, 2, (3, 5), padding=(1, 2))(ts.randn(1, 1, 4, 4))[0].shape == (1, 2, 4, 4)


def test_dtype_mismatch_and_factory_arguments():
    with pytest.raises(ValueError, match=r"ConvLSTM: input of shape \(2, 1, 1, 4, 4\) is float64 but the "
                                         r"parameters are float32"):
        nn.ConvLSTM(1, 2, 3)(ts.randn(2, 1, 1, 4, 4, dtype=ts.float64))
    with pytest.raises(ValueError, match=r"ConvGRUCell: input of shape \(1, 1, 4, 4\) is float64"):
        nn.ConvGRUCell(1, 2, 3)(ts.randn(1, 1, 4, 4, dtype=ts.float64))
    m = nn.ConvLSTM(1, [2, 3], [3, (2, 4)], num_layers=2, bidirectional=True, peephole=True, dtype=ts.float64)
    assert all(p.dtype == ts.float64 for p in m.parameters())
    assert repr(m) == ("ConvLSTM(1, [2, 3], kernel_size=[(3, 3), (2, 4)], num_layers=2, bidirectional=True, "
                       "peephole=True)")
    assert repr(nn.ConvGRUCell(1, 2, (2, 3), bias=False)) == "ConvGRUCell(1, 2, kernel_size=(2, 3), bias=False)"


def test_relu_convrnn():
    m = nn.ConvRNN(1, 2, 3, nonlinearity="relu")
    out, h = m(ts.randn(3, 1, 1, 4, 4))
    assert (out.numpy() >= 0).all() and (out.numpy() > 0).any()


# -- scopes --------------------------------------------------------------------------------
def test_layer_tags_steps_and_cells():
    m = nn.ConvLSTM(1, 2, 3, num_layers=2, bidirectional=True)
    out, (h, c) = m(ts.randn(3, 1, 1, 4, 4))
    nodes = graph_nodes(out, h, c)
    tags = [dict(fn.scope) for fn in nodes]
    steps = {(t["layer"], t["direction"], t["t"]) for t in tags if "t" in t}
    assert steps == {(k, d, t) for k in range(2) for d in range(2) for t in range(3)}
    cells = {t["cell"] for t in tags if "cell" in t}
    assert len(cells) == 12 and {name for name, _ in cells} == {"ConvLSTMCell"}
    # every node inside a cell box is inside its step, and one box never spans two steps
    box_steps = {}
    for t in tags:
        if "cell" in t:
            box_steps.setdefault(t["cell"], set()).add((t["layer"], t["direction"], t["t"]))
    assert all(len(s) == 1 for s in box_steps.values())
    # the batched frame convolutions run outside the steps
    assert any("t" not in t and t.get("module") == "ConvLSTM" for t in tags)
    assert all(t.get("module") == "ConvLSTM" for t in tags if "t" in t)


def test_cell_call_is_one_tagged_box():
    cell = nn.ConvGRUCell(1, 2, 3)
    h = cell(ts.randn(1, 1, 4, 4), ts.randn(1, 2, 4, 4))
    boxes = {dict(fn.scope).get("cell") for fn in graph_nodes(h)}
    assert len(boxes) == 1 and next(iter(boxes))[0] == "ConvGRUCell"


# -- training --------------------------------------------------------------------------------
def _moving_dots(n, T, size, rng):
    """(T, n, 1, size, size) frames of one dot moving one pixel per step, wrapping around."""
    frames = np.zeros((T + 1, n, 1, size, size), dtype=np.float32)
    for b in range(n):
        r, col = rng.integers(size, size=2)
        dr, dc = [(0, 1), (1, 0), (0, -1), (-1, 0)][rng.integers(4)]
        for t in range(T + 1):
            frames[t, b, 0, (r + dr * t) % size, (col + dc * t) % size] = 1
    return frames[:-1], frames[1:]


def test_convlstm_learns_next_frame_of_moving_dot():
    from tinyseq import optim

    rng = np.random.default_rng(0)

    class Predictor(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.ConvLSTM(1, 8, 3)
            self.head = nn.Parameter(ts.randn(1, 8, 1, 1) * 0.3)
            self.head_bias = nn.Parameter(ts.zeros(1))

        def forward(self, x):
            out, _ = self.lstm(x)
            T, B = out.shape[:2]
            y = F.conv2d(out.reshape(T * B, 8, *out.shape[3:]), self.head, self.head_bias)
            return y.reshape(T, B, 1, *out.shape[3:])

    model = Predictor()
    opt = optim.Adam(model.parameters(), lr=0.03)
    test_x, test_y = _moving_dots(16, 6, 6, rng)
    test_x, test_y = ts.tensor(test_x), ts.tensor(test_y)

    def loss_on(x, y):
        # from the second frame on, the direction of motion is visible
        return F.mse_loss(model(x)[1:], y[1:]) * 36

    with ts.no_grad():
        before = loss_on(test_x, test_y).item()
    for _ in range(60):
        x, y = _moving_dots(16, 6, 6, rng)
        loss = loss_on(ts.tensor(x), ts.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with ts.no_grad():
        after = loss_on(test_x, test_y).item()
    assert after < 0.35 * before, (before, after)


def test_frames_convolved_at_once_when_they_have_enough_channels():
    for cin, hoisted in ((1, False), (16, True)):  # 3x3 kernel: 9 or 144 frame columns
        m = nn.ConvLSTM(cin, 2, 3)
        out, _ = m(ts.randn(4, 1, cin, 5, 5))
        convs = [dict(fn.scope) for fn in graph_nodes(out) if type(fn).__name__ == "Conv2d"]
        assert len(convs) == 4
        outside_steps = [s for s in convs if "t" not in s]
        assert len(outside_steps) == (1 if hoisted else 0)
        assert all(s["layer"] == 0 and s["direction"] == 0 for s in outside_steps)
