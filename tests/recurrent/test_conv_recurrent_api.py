"""ConvRNN / ConvLSTM / ConvGRU: argument checking, time-step scopes, a short training run."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn
from tinyseq.nn import functional as F


def _nodes(*roots):
    """Every graph node behind ``roots`` (iterative walk)."""
    seen, stack, out = set(), [r._ctx for r in roots if r._ctx is not None], []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn)
        stack.extend(p for p, idx in fn.parents if p is not None and idx >= 0)
    return out


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
    nodes = _nodes(out, h, c)
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
    boxes = {dict(fn.scope).get("cell") for fn in _nodes(h)}
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
        convs = [dict(fn.scope) for fn in _nodes(out) if type(fn).__name__ == "Conv2d"]
        assert len(convs) == 4
        outside_steps = [s for s in convs if "t" not in s]
        assert len(outside_steps) == (1 if hoisted else 0)
        assert all(s["layer"] == 0 and s["direction"] == 0 for s in outside_steps)
