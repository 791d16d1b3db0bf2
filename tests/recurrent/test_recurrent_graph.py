"""The recorded graph of a fused recurrent layer says what depends on what.

Per layer direction: InputProjection(x, W_ih, biases) -> gx; a SharedWeight node per
weight that the steps read; one node per step whose inputs are gx (its slice t),
h_{t-1} (and c_{t-1}) and those shared weights; RecurrentOutput stacking the h_t.
Each step's gradient for a shared weight is its own term, and the terms sum to the
weight's gradient; the batched GEMM that sums them is the SharedWeight node."""

import numpy as np
import pytest
from graph_walk import graph_nodes

import tinyseq as ts
from tinyseq import autograd

RNG = np.random.default_rng(3)
STEPS = {"LSTM": "LSTMStep", "GRU": "GRUStep", "RNN": "RNNStep"}
WHAT = {"weight_hh": "w_hh", "bias_hh": "b_hh", "weight_hr": "w_hr"}  # parameter -> SharedWeight.what
CONFIGS = [
    ("LSTM", {}, ["weight_hh"]),
    ("LSTM", {"proj_size": 2}, ["weight_hh", "weight_hr"]),
    ("GRU", {}, ["weight_hh", "bias_hh"]),
    ("RNN", {}, ["weight_hh"]),
    ("RNN", {"bias": False}, ["weight_hh"]),
]


def _model(kind, kw, **more):
    ts.manual_seed(0)
    return getattr(ts.nn, kind)(3, 4, **kw, **more).double()


@pytest.mark.parametrize("kind, kw, shared", CONFIGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_step_lists_its_slice_of_the_projection_its_state_and_the_shared_weights(kind, kw, shared, bidirectional):
    m = _model(kind, kw, num_layers=2, bidirectional=bidirectional)
    T = 5
    out, _ = m(ts.randn(T, 2, 3, dtype=ts.float64))
    nodes = graph_nodes(out)
    params = {id(p): name for name, p in m.named_parameters()}
    D = 2 if bidirectional else 1
    for k in range(2):
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            steps = [fn for fn in nodes if fn.name == STEPS[kind] and dict(fn.scope)["layer"] == k
                     and dict(fn.scope)["direction"] == d]  # fmt: skip
            assert sorted(fn.t for fn in steps) == list(range(T))
            for fn in steps:
                assert dict(fn.scope)["t"] == fn.t
                proj = fn.parents[0][0]
                assert proj.name == "InputProjection"
                assert params[id(proj.parents[1][0])] == "weight_ih" + sfx
                n_states = 2 if kind == "LSTM" else 1
                prev = [p for p, _ in fn.parents[1 : 1 + n_states]]
                first = fn.t == (T - 1 if d else 0)
                # h_{t-1} comes from the step before in time (or h_0, a constant here)
                assert all((p is None) if first else (p.name == STEPS[kind] and p.t == fn.t + (1 if d else -1))
                           for p in prev)  # fmt: skip
                ws = [p for p, _ in fn.parents[1 + n_states :]]
                assert [w.name for w in ws] == ["SharedWeight"] * len(shared)
                assert [params[id(w.parents[0][0])] for w in ws] == [s + sfx for s in shared]
                assert all(w.steps == T for w in ws)
            # the layer output stacks h_t of every step, in time order
            (stacked,) = [fn for fn in nodes if fn.name == "RecurrentOutput" and dict(fn.scope)["layer"] == k
                          and dict(fn.scope)["direction"] == d]  # fmt: skip
            assert [(p.name, p.t, i) for p, i in stacked.parents] == [(STEPS[kind], t, 0) for t in range(T)]


def test_no_node_exists_only_to_order_others():
    # every node's outputs are used as values: no 0-d tokens, no buffers passed beside the graph
    m = _model("LSTM", {}, num_layers=2, bidirectional=True)
    out, (h, c) = m(ts.randn(4, 2, 3, dtype=ts.float64))
    for fn in graph_nodes(out, h, c):
        assert all(shape != () for shape, _ in fn.out_meta), fn.name
        assert all(not isinstance(p, autograd.Function) or i >= 0 for p, i in fn.parents)


@pytest.mark.parametrize("kind, kw, shared", CONFIGS)
@pytest.mark.parametrize("lengths", [None, [5, 2]])
def test_each_steps_weight_term_is_its_share_of_the_gradient(kind, kw, shared, lengths):
    """Sum the terms the steps hand to each SharedWeight: they add up to the weight's
    gradient, and each equals the same step's gradient in the composed path."""
    x = RNG.standard_normal((5, 2, 3))
    seeds = RNG.standard_normal((5, 2, kw.get("proj_size", 4)))
    terms = {}
    for fused in (True, False):
        m = _model(kind, kw, fused=fused)
        out, _ = m(ts.tensor(x), lengths=lengths)
        got = {}

        def handed(fn, grads, got=got, fused=fused, w_hh=m.weight_hh_l0):
            t = dict(fn.scope).get("t")
            for (parent, _), g in zip(fn.parents, grads):
                if g is None or not isinstance(parent, autograd.Function) or t is None:
                    continue
                if fused and fn.name.endswith("Step") and parent.name == "SharedWeight":
                    got[parent.what, t] = got.get((parent.what, t), 0) + g
                elif not fused and parent.name == "Permute" and parent.parents[0][0] is w_hh:
                    got["w_hh", t] = got.get(("w_hh", t), 0) + g.T

        autograd.backward([out], [seeds], retain_graph=True, accumulate=False, input_observer=handed)
        terms[fused] = got
        (out * ts.tensor(seeds)).sum().backward()
        total = {w: sum(g for (what, _), g in got.items() if what == w) for w in {k[0] for k in got}}
        if fused:
            assert sorted(total) == sorted(WHAT[s] for s in shared)
            for name in shared:
                grad = getattr(m, name + "_l0").grad.numpy()
                np.testing.assert_allclose(total[WHAT[name]], grad, rtol=1e-12, atol=1e-14)
            assert len([k for k in got if k[0] == "w_hh"]) == 5  # one term per step
    for t in range(5):
        np.testing.assert_allclose(terms[True]["w_hh", t], terms[False]["w_hh", t], rtol=1e-10, atol=1e-13)


def test_step_terms_add_by_joining_and_evaluate_on_demand():
    m = _model("LSTM", {})
    out, _ = m(ts.randn(6, 2, 3, dtype=ts.float64))
    step = next(fn for fn in graph_nodes(out) if fn.name == "LSTMStep")
    seq = step.saved[0]
    seq.start_backward(step)
    seq.dg[...] = RNG.standard_normal(seq.dg.shape)
    from tinyseq.nn.recurrent.sequence import TERMS, StepTerms

    a, b = TERMS["w_hh"].of(seq, [0, 1]), TERMS["w_hh"].of(seq, [2, 3, 4, 5])
    whole = seq.dg.reshape(-1, 16).T @ seq.h_prev_all().reshape(-1, 4)
    joined = a + b
    assert isinstance(joined, StepTerms) and sorted(joined) == list(range(6))
    np.testing.assert_allclose(joined.dense(), whole, rtol=1e-13)
    np.testing.assert_allclose(a.dense() + b.dense(), whole, rtol=1e-13)
    dense = np.ones((16, 4))
    np.testing.assert_allclose(dense + a, 1 + a.dense(), rtol=1e-13)  # an array and terms: evaluated
    np.testing.assert_allclose(a + dense, 1 + a.dense(), rtol=1e-13)
    gx = TERMS["gx"].of(seq, [1, 4]).dense()
    assert np.all(gx[[0, 2, 3, 5]] == 0) and np.array_equal(gx[[1, 4]], seq.dg[[1, 4]])
    assert TERMS["gx"].of(seq, range(6)).dense() is seq.dg  # all steps: the buffer itself


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_outputs_share_no_memory_with_each_other_or_with_saved_buffers(kind):
    x = RNG.standard_normal((4, 2, 3))
    m = _model(kind, {})
    out, state = m(ts.tensor(x, requires_grad=True))
    h = state[0] if kind == "LSTM" else state
    before = out.numpy().copy()
    h.detach().zero_()
    if kind == "LSTM":
        state[1].detach().zero_()
    assert np.array_equal(out.numpy(), before)  # h_n is not a view of out[-1]
    (out * out).sum().backward()
    g = m.weight_hh_l0.grad.numpy().copy()
    m.zero_grad()
    out2, _ = m(ts.tensor(x, requires_grad=True))
    out2.detach().zero_()  # the output is not the buffer that backward reads
    ((ts.tensor(before) * out2).sum() * 2).backward()
    np.testing.assert_allclose(m.weight_hh_l0.grad.numpy(), g, rtol=1e-12)


@pytest.mark.parametrize("kind, kw, shared", CONFIGS)
@pytest.mark.parametrize("wants", ["x", "h0", "weights"])
def test_gradients_when_only_some_inputs_want_them(kind, kw, shared, wants):
    # frozen weights (no SharedWeight nodes recorded), or only h_0: fused equals composed
    x = RNG.standard_normal((5, 2, 3))
    h0 = RNG.standard_normal((1, 2, kw.get("proj_size", 4)))
    seeds = RNG.standard_normal((5, 2, kw.get("proj_size", 4)))
    grads = []
    for fused in (True, False):
        m = _model(kind, kw, fused=fused)
        if wants != "weights":
            m.requires_grad_(False)
        xt = ts.tensor(x, requires_grad=wants == "x")
        ht = ts.tensor(h0, requires_grad=wants == "h0")
        for _ in range(2):  # the second pass reuses recycled buffers
            out, _ = m(xt, (ht, ts.zeros(1, 2, 4, dtype=ts.float64)) if kind == "LSTM" else ht)
            (out * ts.tensor(seeds)).sum().backward()
        leaves = {"x": [xt], "h0": [ht], "weights": list(m.parameters())}[wants]
        grads.append([t.grad.numpy() for t in leaves])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: ts.nn.RNNCell(3, 4), lambda: ts.nn.LSTMCell(3, 4)])
def test_fused_cells_guard_the_output_their_backward_reads(make):
    cell = make().double()
    out = cell(ts.randn(2, 3, dtype=ts.float64))
    h = out[0] if isinstance(out, tuple) else out
    loss = h.sum()  # Sum keeps nothing: only the cell can notice
    h.detach().mul_(0)
    with pytest.raises(RuntimeError, match=r"Cell.* needs its output 0 .* modified in place"):
        loss.backward()


def test_fused_convlstm_cell_guards_its_output():
    cell = ts.nn.ConvLSTMCell(1, 2, 3).double()
    x = ts.randn(1, 1, 4, 4, dtype=ts.float64)
    h, c = cell(x, cell(x))
    loss = h.sum()
    h.detach().zero_()
    with pytest.raises(RuntimeError, match=r"ConvLSTMCellOp needs its output 0 .* modified in place"):
        loss.backward()
