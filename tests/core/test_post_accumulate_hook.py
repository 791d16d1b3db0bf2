"""Tensor.register_post_accumulate_grad_hook: the engine's "this leaf's gradient is complete" signal,
which data-parallel training uses to start reducing gradients while backward is still running."""

import copy

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import autograd
from tinyseq.autograd import Function


def _mlp(lib, seed=0):
    """Three linear layers in float64 with the same weights in either library; w1 is used twice."""
    rng = np.random.default_rng(seed)
    arrays = {n: rng.standard_normal(s) for n, s in [("w1", (4, 3)), ("w2", (3, 3)), ("w3", (3, 2)), ("x", (5, 4))]}
    t = {n: lib.tensor(a, dtype=lib.float64, requires_grad=n != "x") for n, a in arrays.items()}
    return t


def _run(lib, t, events):
    h1 = lib.tanh(t["x"] @ t["w1"])
    h1.register_hook(lambda g: events.append("h1"))
    h2 = lib.tanh(h1 @ t["w2"])
    h2.register_hook(lambda g: events.append("h2"))
    # w1 again, at the top: its gradient has a late and an early part
    out = (h2 @ t["w3"]).sum() + (t["w1"] ** 2).sum()
    out.backward()


def test_hooks_fire_once_with_the_whole_gradient_in_torchs_order():
    torch = pytest.importorskip("torch")
    results = {}
    for name, lib in (("ts", ts), ("torch", torch)):
        t = _mlp(lib)
        events, grads = [], {}

        def hook(p, name=None, events=events, grads=grads):
            events.append(name)
            grads[name] = p.grad.detach().numpy().copy()

        for n in ("w1", "w2", "w3"):
            t[n].register_post_accumulate_grad_hook(lambda p, n=n, hook=hook: hook(p, n))
        _run(lib, t, events)
        final = {n: t[n].grad.detach().numpy() for n in ("w1", "w2", "w3")}
        results[name] = events, grads, final
    events, grads, final = results["ts"]
    assert sorted(events) == ["h1", "h2", "w1", "w2", "w3"]  # once each
    assert events == results["torch"][0]
    for n in final:
        np.testing.assert_array_equal(grads[n], final[n])  # the hook saw the finished gradient
        np.testing.assert_allclose(final[n], results["torch"][2][n], rtol=1e-12)
    # w3's hook ran before backward reached the first layer: the point of the hook
    assert events.index("w3") < events.index("h1")


def _linears(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()


def _linear_events(lib, model):
    events = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: events.append(name))
    h = model[1](model[0](lib.ones(5, 3, dtype=lib.float64)))
    h.register_hook(lambda g: events.append("h"))
    model[2](h).sum().backward()
    return events


def test_a_linear_weights_gradient_is_ready_right_after_its_product():
    """Backward runs the newest node first: the transpose of a Linear's weight, made just before
    the product, runs right after it, not once everything deeper in the graph has run (which
    would hand DistributedDataParallel every weight gradient at the very end)."""
    events = _linear_events(ts, _linears(ts))
    assert events == ["2.bias", "2.weight", "h", "0.bias", "0.weight"]
    torch = pytest.importorskip("torch")
    assert events == _linear_events(torch, _linears(torch))


def test_each_backward_fires_again_and_grad_accumulates():
    w = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    y = (w * w).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert seen == [[2.0, 4.0], [4.0, 8.0]]


def test_runs_after_register_hook_changed_the_gradient():
    w = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    w.register_hook(lambda g: g * 10)
    (w * 3).sum().backward()
    assert seen == [[30.0, 30.0]]


def test_a_leaf_that_is_a_root_fires():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    w.backward(ts.tensor([1.0, 1.0]))
    assert seen == [[1.0, 1.0]]


class _Blocks(Function):
    """Identity forward; backward sends no gradient (a branch that gradients never reach)."""

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return None


def test_a_leaf_behind_a_branch_without_gradient_still_fires_at_the_end():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    v = ts.tensor([3.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(("w", p.grad)))
    v.register_post_accumulate_grad_hook(lambda p: seen.append(("v", p.grad.tolist())))
    out = _Blocks.apply(w * 2).sum() + v.sum()
    out.backward()
    assert seen == [("v", [1.0]), ("w", None)]  # w last (when backward ends), its .grad untouched


def test_remove_and_the_engine_skips_counting_without_hooks(monkeypatch):
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(seen.append)
    handle.remove()
    handle.remove()  # twice is fine, as for register_hook

    def no_walk(roots):
        raise AssertionError("backward walked the graph although no leaf has post-accumulate hooks")

    monkeypatch.setattr(autograd, "count_hooked_edges", no_walk)
    (w * 2).sum().backward()
    assert seen == [] and w.grad.tolist() == [2.0, 2.0]


def test_a_dead_leaf_leaves_no_registration_behind():
    w = ts.tensor([1.0], requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: None)
    key = id(w)
    assert key in autograd._post_hooked
    del w
    assert key not in autograd._post_hooked


def test_a_pass_that_accumulates_nothing_runs_no_hooks():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(seen.append)
    y = (w * 2).sum()
    autograd.backward([y], [y.xp.ones(())], accumulate=False)
    assert seen == [] and w.grad is None


def test_bad_tensors_are_refused_with_a_clear_message():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-leaf tensors .*shape \(2,\).*Mul"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match=r"doesn't require gradient \(shape \(2,\)\)"):
        ts.tensor([1.0, 2.0]).register_post_accumulate_grad_hook(lambda p: None)


def test_a_copy_of_the_leaf_does_not_inherit_its_hooks():
    # as in PyTorch: a deep copy (a reference model, say) runs none of the original's hooks
    w = ts.nn.Parameter(ts.ones(2))
    seen = []
    w.register_post_accumulate_grad_hook(seen.append)
    (copy.deepcopy(w) * 2).sum().backward()
    assert seen == []
    (w * 2).sum().backward()
    assert seen == [w]
