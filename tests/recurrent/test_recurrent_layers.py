"""RNN / LSTM / GRU layers: PyTorch parity (values and every gradient), lengths,
projections, state dicts, dropout, scopes, long sequences, memory, training."""

import gc
import itertools
import tracemalloc

import numpy as np
import pytest
from graph_walk import graph_nodes

import tinyseq as ts
from tinyseq.autograd import OpError

KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_pair(kind, input_size, hidden_size, fused=True, dtype="float64", **kw):
    """A PyTorch layer and a tinyseq layer holding the same weights (loaded from its state dict)."""
    torch = pytest.importorskip("torch")
    if kind.startswith("rnn"):
        kw["nonlinearity"] = kind[4:]
    cls = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind[:4].rstrip("_")]
    ref = getattr(torch.nn, cls)(input_size, hidden_size, **kw)
    ref = ref.double() if dtype == "float64" else ref
    ours = getattr(ts.nn, cls)(input_size, hidden_size, dtype=ts.as_dtype(dtype), fused=fused, **kw)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


def run_both(ref, ours, x, h0=None, c0=None, lengths=None, seed=0):
    """Forward both, backpropagate the same random projection of every output,
    return {name: (torch array, tinyseq array)} for outputs and all gradients."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(seed)
    lstm = isinstance(ref, torch.nn.LSTM)
    tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    th = sh = tc = sc = None
    if h0 is not None:
        th, sh = torch.tensor(h0, requires_grad=True), ts.tensor(h0, requires_grad=True)
    if c0 is not None:
        tc, sc = torch.tensor(c0, requires_grad=True), ts.tensor(c0, requires_grad=True)
    t_state = (th, tc) if lstm and th is not None else th
    s_state = (sh, sc) if lstm and sh is not None else sh
    t_in = tx
    if lengths is not None:
        t_in = pack_padded_sequence(tx, torch.tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False)
    t_out, t_hn = ref(t_in, t_state)
    s_out, s_hn = ours(sx, s_state, lengths=lengths)
    if lengths is not None:
        T = x.shape[1] if ref.batch_first else x.shape[0]
        t_out, _ = pad_packed_sequence(t_out, batch_first=ref.batch_first, total_length=T)
    t_outs = [t_out] + (list(t_hn) if lstm else [t_hn])
    s_outs = [s_out] + (list(s_hn) if lstm else [s_hn])
    t_loss = s_loss = 0
    for t_o, s_o in zip(t_outs, s_outs):
        assert tuple(t_o.shape) == s_o.shape
        w = rng.standard_normal(s_o.shape)
        t_loss = t_loss + (t_o * torch.tensor(w, dtype=t_o.dtype)).sum()
        s_loss = s_loss + (s_o * ts.tensor(w, dtype=s_o.dtype)).sum()
    t_loss.backward()
    s_loss.backward()
    res = {f"out{i}": (t.detach().numpy(), s.numpy()) for i, (t, s) in enumerate(zip(t_outs, s_outs))}
    res["grad x"] = (tx.grad.numpy(), sx.grad.numpy())
    if th is not None:
        res["grad h0"] = (th.grad.numpy(), sh.grad.numpy())
    if tc is not None:
        res["grad c0"] = (tc.grad.numpy(), sc.grad.numpy())
    for (name, p), (name2, q) in zip(ref.named_parameters(), ours.named_parameters()):
        assert name == name2
        res[f"grad {name}"] = (p.grad.numpy(), q.grad.numpy())
    return res


def assert_close(res, rtol=1e-10, atol=1e-12):
    for name, (a, b) in res.items():
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=name)


def inputs(rng, T, B, I, L, D, P, H, batch_first=False):
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    return x, rng.standard_normal((L * D, B, P)), rng.standard_normal((L * D, B, H))


GRID = list(itertools.product(KINDS, [1, 3], [False, True], [False, True], [True, False], [True, False]))


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,bias,fused", GRID)
def test_matches_pytorch(kind, layers, bidirectional, batch_first, bias, fused):
    ref, ours = make_pair(kind, 3, 4, fused=fused, num_layers=layers, bidirectional=bidirectional,
                          batch_first=batch_first, bias=bias)  # fmt: skip
    D = 2 if bidirectional else 1
    x, h0, c0 = inputs(np.random.default_rng(1), 4, 2, 3, layers, D, 4, 4, batch_first)
    assert_close(run_both(ref, ours, x, h0, c0 if kind == "lstm" else None))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("T,B", [(1, 1), (1, 3), (5, 1)])
def test_single_step_and_single_row(kind, fused, T, B):
    ref, ours = make_pair(kind, 3, 4, fused=fused, num_layers=2, bidirectional=True)
    x = np.random.default_rng(11).standard_normal((T, B, 3))
    assert_close(run_both(ref, ours, x))


@pytest.mark.parametrize("kind", KINDS)
def test_default_initial_state_is_zero(kind):
    ref, ours = make_pair(kind, 3, 5, num_layers=2)
    x = np.random.default_rng(2).standard_normal((6, 3, 3))
    assert_close(run_both(ref, ours, x))


@pytest.mark.parametrize("layers,bidirectional,fused", list(itertools.product([1, 2], [False, True], [True, False])))
def test_lstm_projection_matches_pytorch(layers, bidirectional, fused):
    ref, ours = make_pair("lstm", 3, 5, fused=fused, num_layers=layers, bidirectional=bidirectional, proj_size=2)
    D = 2 if bidirectional else 1
    x, h0, c0 = inputs(np.random.default_rng(3), 4, 3, 3, layers, D, 2, 5)
    assert ours.weight_hr_l0.shape == (2, 5)
    assert_close(run_both(ref, ours, x, h0, c0))


LENGTH_GRID = list(itertools.product(KINDS, [1, 2], [False, True], [True, False]))


@pytest.mark.parametrize("kind,layers,bidirectional,fused", LENGTH_GRID)
def test_lengths_match_packed_sequences(kind, layers, bidirectional, fused):
    ref, ours = make_pair(kind, 3, 4, fused=fused, num_layers=layers, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x, h0, c0 = inputs(np.random.default_rng(4), 5, 4, 3, layers, D, 4, 4)
    lengths = [3, 5, 1, 4]  # unsorted, one full row and one of length 1
    assert_close(run_both(ref, ours, x, h0, c0 if kind == "lstm" else None, lengths=lengths))


@pytest.mark.parametrize("fused", [True, False])
def test_lengths_with_batch_first_projection_and_tensor_lengths(fused):
    ref, ours = make_pair("lstm", 3, 4, fused=fused, num_layers=2, bidirectional=True, batch_first=True,
                          proj_size=3)  # fmt: skip
    x, h0, c0 = inputs(np.random.default_rng(5), 6, 3, 3, 2, 2, 3, 4, batch_first=True)
    res = run_both(ref, ours, x, h0, c0, lengths=[2, 6, 4])
    assert_close(res)
    s_out = res["out0"][1]
    assert np.all(s_out[0, 2:] == 0) and np.all(s_out[2, 4:] == 0)
    out_t, _ = ours(ts.tensor(x), (ts.tensor(h0), ts.tensor(c0)), lengths=ts.tensor([2, 6, 4]))
    np.testing.assert_array_equal(out_t.numpy(), s_out)


def test_lengths_all_full_equal_no_lengths():
    _, ours = make_pair("gru", 3, 4, num_layers=2, bidirectional=True)
    x = ts.randn(5, 3, 3, dtype=ts.float64)
    a, ha = ours(x)
    b, hb = ours(x, lengths=[5, 5, 5])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ha.numpy(), hb.numpy())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fused", [True, False])
def test_unbatched_input(kind, fused):
    torch = pytest.importorskip("torch")
    ref, ours = make_pair(kind, 3, 4, fused=fused, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(6)
    x, h0 = rng.standard_normal((5, 3)), rng.standard_normal((4, 4))
    state_t = (torch.tensor(h0), torch.tensor(h0)) if kind == "lstm" else torch.tensor(h0)
    state_s = (ts.tensor(h0), ts.tensor(h0)) if kind == "lstm" else ts.tensor(h0)
    out_t, hn_t = ref(torch.tensor(x), state_t)
    out_s, hn_s = ours(ts.tensor(x), state_s)
    assert out_s.shape == (5, 8)
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    hn_t, hn_s = (hn_t[1], hn_s[1]) if kind == "lstm" else (hn_t, hn_s)
    assert hn_s.shape == (4, 4)
    np.testing.assert_allclose(hn_s.numpy(), hn_t.detach().numpy(), rtol=1e-10, atol=1e-12)


# -- fused and composed: one result ----------------------------------------------------------
FUSED_GRID = list(itertools.product(KINDS, [False, True], [None, [4, 2, 5]]))


@pytest.mark.parametrize("kind,bidirectional,lengths", FUSED_GRID)
def test_fused_equals_composed(kind, bidirectional, lengths):
    kw = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    cls = getattr(ts.nn, {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind[:4].rstrip("_")])
    a = cls(3, 4, num_layers=2, bidirectional=bidirectional, dtype=ts.float64, **kw)
    b = cls(3, 4, num_layers=2, bidirectional=bidirectional, dtype=ts.float64, fused=False, **kw)
    b.load_state_dict(a.state_dict())
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(7)
    x, h0, c0 = (rng.standard_normal(s) for s in [(5, 3, 3), (2 * D, 3, 4), (2 * D, 3, 4)])
    results = []
    for m in (a, b):
        xs, hs, cs = (ts.tensor(v, requires_grad=True) for v in (x, h0, c0))
        out, hn = m(xs, (hs, cs) if kind == "lstm" else hs, lengths=lengths)
        outs = [out] + (list(hn) if kind == "lstm" else [hn])
        loss = sum((o * ts.tensor(np.random.default_rng(i).standard_normal(o.shape))).sum() for i, o in enumerate(outs))
        loss.backward()
        arrays = [o.numpy() for o in outs] + [xs.grad.numpy(), hs.grad.numpy()]
        arrays += [cs.grad.numpy()] if kind == "lstm" else []
        results.append(arrays + [p.grad.numpy() for p in m.parameters()])
    for u, v in zip(*results):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)


def test_fused_path_is_one_node_per_step():
    lstm = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = lstm(ts.randn(6, 2, 3))
    steps = [fn for fn in graph_nodes(out) if type(fn).__name__ == "LSTMStep"]
    assert len(steps) == 6 * 2 * 2


# -- parameters and state dicts -------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,kw",
    [("rnn_tanh", {"num_layers": 2, "bidirectional": True}), ("lstm", {"num_layers": 3, "proj_size": 2}),
     ("lstm", {"bidirectional": True, "bias": False, "proj_size": 3}), ("gru", {"num_layers": 2, "bias": False})],
)  # fmt: skip
def test_parameter_names_shapes_and_order_match_pytorch(kind, kw):
    ref, ours = make_pair(kind, 3, 5, **kw)
    assert [(n, tuple(p.shape)) for n, p in ref.named_parameters()] == [
        (n, p.shape) for n, p in ours.named_parameters()
    ]
    assert list(ref.state_dict()) == list(ours.state_dict())


@pytest.mark.parametrize("kind", KINDS)
def test_pytorch_state_dict_reproduces_float32_outputs(kind):
    torch = pytest.importorskip("torch")
    ref, ours = make_pair(kind, 4, 6, dtype="float32", num_layers=2, bidirectional=True)
    x = np.random.default_rng(8).standard_normal((7, 3, 4)).astype(np.float32)
    out_t, _ = ref(torch.tensor(x))
    out_s, _ = ours(ts.tensor(x))
    assert out_s.dtype == ts.float32
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_default_init_is_pytorch_uniform():
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(10, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.01 and values.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    ts.manual_seed(0)
    again = ts.nn.LSTM(10, 16, num_layers=2)
    np.testing.assert_array_equal(again.weight_hh_l1.numpy(), lstm.weight_hh_l1.numpy())


def test_all_weights_and_flatten_parameters_as_pytorch():
    ref, ours = make_pair("lstm", 3, 4, num_layers=2, bidirectional=True, proj_size=2)
    ref.flatten_parameters()
    ours.flatten_parameters()
    assert [[tuple(p.shape) for p in ps] for ps in ref.all_weights] == [
        [p.shape for p in ps] for ps in ours.all_weights
    ]
    assert ours.all_weights[3][1] is ours.weight_hh_l1_reverse


def test_repr_and_attributes():
    lstm = ts.nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True, proj_size=2)
    assert repr(lstm) == "LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True, proj_size=2)"
    assert repr(ts.nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.proj_size) == (3, 4, 2, 2)


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_only_between_layers_and_only_in_training():
    lstm = ts.nn.LSTM(3, 4, num_layers=2, dropout=1.0, dtype=ts.float64)
    x = ts.randn(5, 2, 3, dtype=ts.float64)
    train_out, (h_n, _) = lstm(x)
    # With p = 1 the second layer sees only zeros, and its output is not dropped:
    top = ts.nn.LSTM(4, 4, dtype=ts.float64)
    top.load_state_dict({k.replace("_l1", "_l0"): v for k, v in lstm.state_dict().items() if "_l1" in k})
    expected, _ = top(ts.zeros(5, 2, 4, dtype=ts.float64))
    np.testing.assert_allclose(train_out.numpy(), expected.numpy(), rtol=1e-12)
    assert np.abs(train_out.numpy()).min() > 0
    lstm.eval()
    eval_out, _ = lstm(x)
    plain = ts.nn.LSTM(3, 4, num_layers=2, dtype=ts.float64)
    plain.load_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(eval_out.numpy(), plain(x)[0].numpy())


def test_dropout_half_changes_training_outputs_only():
    gru = ts.nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = ts.randn(4, 2, 3)
    a, b = gru(x)[0].numpy(), gru(x)[0].numpy()
    assert not np.array_equal(a, b)
    gru.eval()
    np.testing.assert_array_equal(gru(x)[0].numpy(), gru(x)[0].numpy())


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout=0.5 acts between stacked layers"):
        ts.nn.LSTM(3, 4, dropout=0.5)


# -- time-step scopes ---------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False])
def test_steps_are_tagged_with_layer_direction_t_and_cell(fused):
    lstm = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True, fused=fused)
    out, (h_n, c_n) = lstm(ts.randn(5, 2, 3))
    tagged = {}
    for fn in graph_nodes(out, h_n):
        tags = dict(fn.scope)
        assert tags.get("module") == "LSTM"
        if "t" in tags:
            assert {"layer", "direction", "cell"} <= set(tags)
            assert tags["cell"][0] == "LSTMCell"
            tagged.setdefault((tags["layer"], tags["direction"], tags["t"]), set()).add(tags["cell"][1])
    assert set(tagged) == {(k, d, t) for k in range(2) for d in range(2) for t in range(5)}
    assert all(len(cells) == 1 for cells in tagged.values())  # one cell invocation per step
    assert len({c for cells in tagged.values() for c in cells}) == 20


def test_reverse_direction_runs_from_the_end():
    rnn = ts.nn.RNN(2, 3, bidirectional=True)
    out, _ = rnn(ts.randn(4, 1, 2))
    order = sorted(
        (fn.generation, dict(fn.scope)["t"]) for fn in graph_nodes(out)
        if type(fn).__name__ == "RNNStep" and dict(fn.scope)["direction"] == 1
    )  # fmt: skip
    assert [t for _, t in order] == [3, 2, 1, 0]


# -- long sequences, memory, truncated BPTT --------------------------------------------------
@pytest.mark.parametrize("fused", [True, False])
def test_5000_step_rnn_backpropagates(fused):
    ref, ours = make_pair("rnn_tanh", 2, 3, fused=fused)
    x = np.random.default_rng(9).standard_normal((5000, 2, 2)) * 0.5
    assert_close(run_both(ref, ours, x), rtol=1e-9, atol=1e-11)


def test_memory_stays_flat_across_training_iterations():
    lstm = ts.nn.LSTM(4, 16, num_layers=2, bidirectional=True)
    x, target = ts.randn(12, 8, 4), ts.randn(12, 8, 32)

    def step():
        lstm.zero_grad()
        out, _ = lstm(x)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        with ts.no_grad():
            for p in lstm.parameters():
                p.sub_(0.01 * p.grad)

    gc_was = gc.isenabled()
    gc.disable()  # nothing may rely on the cycle collector
    tracemalloc.start()
    try:
        for _ in range(5):
            step()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            step()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        if gc_was:
            gc.enable()
    # One leaked graph holds ~60 KiB here, so 20 iterations of a leak would add > 1 MiB;
    # the slack covers CPython's tuple free lists, which keep growing for ~2000 calls.
    assert after - before < 256 * 1024, f"grew by {after - before} bytes over 20 iterations"


def test_saved_buffers_are_freed_after_backward():
    lstm = ts.nn.LSTM(3, 4)
    out, _ = lstm(ts.randn(5, 2, 3))
    loss = out.sum()
    nodes = graph_nodes(loss)
    loss.backward()
    assert all(fn.saved is None for fn in nodes)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_truncated_bptt_with_detach():
    torch = pytest.importorskip("torch")
    ref, ours = make_pair("lstm", 2, 3)
    x = np.random.default_rng(10).standard_normal((8, 2, 2))
    t_state = s_state = None
    for chunk in (slice(0, 4), slice(4, 8)):
        t_out, t_state = ref(torch.tensor(x[chunk]), t_state)
        s_out, s_state = ours(ts.tensor(x[chunk]), s_state)
        t_out.sum().backward()
        s_out.sum().backward()
        t_state = tuple(s.detach() for s in t_state)
        s_state = tuple(s.detach() for s in s_state)
    for p, q in zip(ref.parameters(), ours.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_no_grad_inference_records_nothing():
    lstm = ts.nn.LSTM(3, 4, num_layers=2)
    with ts.no_grad():
        out, (h, c) = lstm(ts.randn(5, 2, 3))
    assert out._ctx is None and h._ctx is None and not out.requires_grad


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ts.nn.LSTM(3, 0), "LSTM: hidden_size must be a positive integer, got 0"),
        (lambda: ts.nn.GRU("3", 4), "GRU: input_size must be a positive integer, got '3'"),
        (lambda: ts.nn.RNN(3, 4, num_layers=0), "RNN: num_layers must be a positive integer, got 0"),
        (lambda: ts.nn.LSTM(3, 4, dropout=1.5), r"LSTM: dropout must be a probability in \[0, 1\], got 1.5"),
        (lambda: ts.nn.LSTM(3, 4, proj_size=4), r"LSTM: proj_size must be smaller than hidden_size \(4\), got 4"),
        (lambda: ts.nn.LSTM(3, 4, proj_size=-1), "LSTM: proj_size must be an integer >= 0, got -1"),
        (lambda: ts.nn.RNN(3, 4, nonlinearity="sigmoid"), "RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"),
    ],
)  # fmt: skip
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_name_expected_and_actual():
    lstm = ts.nn.LSTM(3, 4, num_layers=2)
    x = ts.randn(5, 2, 3)
    with pytest.raises(OpError, match=r"LSTM: input has 7 features \(shape \(5, 2, 7\)\) but input_size is 3"):
        lstm(ts.randn(5, 2, 7))
    with pytest.raises(OpError, match=r"LSTM: expected input \(seq, batch, input_size\) .* got shape \(3,\)"):
        lstm(ts.randn(3))
    with pytest.raises(OpError, match=r"LSTM: h_0 should have shape \(2, 2, 4\) .* got \(1, 2, 4\)"):
        lstm(x, (ts.zeros(1, 2, 4), ts.zeros(2, 2, 4)))
    with pytest.raises(OpError, match=r"LSTM: c_0 should have shape \(2, 2, 4\) .* got \(2, 3, 4\)"):
        lstm(x, (ts.zeros(2, 2, 4), ts.zeros(2, 3, 4)))
    with pytest.raises(OpError, match=r"LSTM: h0 must be a pair \(h_0, c_0\), got Tensor"):
        lstm(x, ts.zeros(2, 2, 4))
    with pytest.raises(OpError, match="LSTM: input of shape .* is float64 but the parameters are float32"):
        lstm(ts.randn(5, 2, 3, dtype=ts.float64))
    with pytest.raises(TypeError, match="LSTM: pass the initial state as h0 or hx, not both"):
        lstm(x, (ts.zeros(2, 2, 4),) * 2, hx=(ts.zeros(2, 2, 4),) * 2)
    gru = ts.nn.GRU(3, 4, proj_size=0) if False else ts.nn.GRU(3, 4)
    with pytest.raises(OpError, match=r"GRU: h0 must be a tensor, got a tuple \(only LSTM takes"):
        gru(x, (ts.zeros(1, 2, 4), ts.zeros(1, 2, 4)))
    with pytest.raises(OpError, match=r"GRU: h_0 should have shape \(1, 4\) .* got \(1, 2, 4\)"):
        gru(ts.randn(5, 3), ts.zeros(1, 2, 4))
    proj = ts.nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(OpError, match=r"h_0 should have shape \(1, 2, 2\) \(num_layers \* num_directions, batch, proj_size\)"):  # noqa: E501
        proj(x, (ts.zeros(1, 2, 4), ts.zeros(1, 2, 4)))


def test_bad_lengths():
    rnn = ts.nn.RNN(3, 4)
    x = ts.randn(5, 2, 3)
    with pytest.raises(OpError, match=r"RNN: lengths must have one entry per batch row \(2\), got shape \(3,\)"):
        rnn(x, lengths=[1, 2, 3])
    with pytest.raises(OpError, match=r"RNN: lengths must be in \[1, 5\] \(the sequence length\); row 1 has 6"):
        rnn(x, lengths=[5, 6])
    with pytest.raises(OpError, match=r"RNN: lengths must be in \[1, 5\] .* row 0 has 0"):
        rnn(x, lengths=[0, 5])
    with pytest.raises(OpError, match="RNN: lengths must be integers, got float64"):
        rnn(x, lengths=[2.0, 5.0])


# -- end-to-end training ---------------------------------------------------------------------------
def _train_delay_task(layer, steps=150, lr=0.02):
    """Learn y_t = x_{t-2} (a two-step memory) with Adam; returns (first loss, last loss)."""
    rng = np.random.default_rng(0)
    H = layer.hidden_size
    head_w = ts.nn.Parameter(ts.tensor(rng.standard_normal((H, 1)) * 0.3, dtype=ts.float32))
    params = list(layer.parameters()) + [head_w]
    m = [np.zeros(p.shape, np.float32) for p in params]
    v = [np.zeros(p.shape, np.float32) for p in params]
    losses = []
    for it in range(1, steps + 1):
        x = rng.choice([-1.0, 1.0], size=(10, 16, 1)).astype(np.float32)
        y = np.zeros_like(x)
        y[2:] = x[:-2]
        out, _ = layer(ts.tensor(x))
        loss = (((out @ head_w) - ts.tensor(y)) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        losses.append(loss.item())
        with ts.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad.numpy()
                mi[:] = 0.9 * mi + 0.1 * g
                vi[:] = 0.999 * vi + 0.001 * g * g
                step = lr * (mi / (1 - 0.9**it)) / (np.sqrt(vi / (1 - 0.999**it)) + 1e-8)
                p.sub_(ts.tensor(step.astype(np.float32)))
    return np.mean(losses[:5]), np.mean(losses[-5:])


@pytest.mark.parametrize("cls", [ts.nn.RNN, ts.nn.LSTM, ts.nn.GRU])
def test_learns_a_two_step_memory(cls):
    ts.manual_seed(0)
    first, last = _train_delay_task(cls(1, 12))
    assert last < 0.1 * first, (first, last)
