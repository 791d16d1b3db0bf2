"""The autograd engine: deep graphs without recursion, flat memory without the
cyclic GC, retain_graph, accumulation, grad modes, anomaly detection, hooks,
scopes, device and dtype mixing."""

import gc
import sys
import tracemalloc

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import autograd
from tinyseq.autograd import Function


# -- deep graphs -------------------------------------------------------------------------------
def test_100k_op_chain_backpropagates_without_recursion():
    x = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.00001 if i % 2 else y + 0.5
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk would need ~100,000 frames
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(x.grad.numpy(), [1.00001**50_000] * 2, rtol=1e-9)
    del y  # freeing a 100,000-node chain must not overflow the C stack either


def test_diamond_graph_sums_both_paths():
    x = ts.tensor([3.0], dtype=ts.float64, requires_grad=True)
    a = x * x
    b = a + a * x  # x^2 + x^3
    c = b * a  # x^4 + x^5
    c.backward()
    assert x.grad.item() == pytest.approx(4 * 27 + 5 * 81)


def test_wide_fan_in_and_fan_out():
    x = ts.tensor(np.arange(4.0), requires_grad=True)
    parts = [x * float(i) for i in range(50)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    total.sum().backward()
    assert x.grad.tolist() == [float(sum(range(50)))] * 4


# -- memory -----------------------------------------------------------------------------------------
def _train_step(params, xs, target):
    w, u, b = params
    h = ts.zeros(4, 8)
    for x in xs:  # a small unrolled recurrence, like BPTT
        h = ts.tanh(x @ w + h @ u + b)
    loss = ((h - target) ** 2).mean()
    loss.backward()
    with ts.no_grad():
        for p in params:
            p.sub_(0.01 * p.grad)
            p.grad = None
    return loss.item()


def test_memory_stays_flat_with_cyclic_gc_disabled():
    params = [ts.randn(3, 8, requires_grad=True), ts.randn(8, 8, requires_grad=True), ts.zeros(8, requires_grad=True)]
    xs = [ts.randn(4, 3) for _ in range(6)]
    target = ts.randn(4, 8)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        sizes = []
        for _ in range(30):
            _train_step(params, xs, target)
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    growth = sizes[-1] - sizes[4]
    assert growth < 16_000, f"memory grew by {growth} bytes over 25 iterations: {sizes}"


def _live(cls):
    return sum(1 for o in gc.get_objects() if issubclass(type(o), cls))


def test_graphs_are_freed_by_reference_counting_alone():
    x = ts.randn(4, 4, requires_grad=True)
    gc.collect()
    gc.disable()
    before_fns, before_tensors = _live(Function), _live(ts.Tensor)
    try:
        for retain in (False, True):
            y = ts.tanh(x @ x).split(2)[0].sum() + ts.sigmoid(x[[0, 0]]).mean()
            h = x * 2
            h.retain_grad()  # a hook that points back at its tensor must not make a cycle
            (y + h.sum()).backward(retain_graph=retain)
            del y, h
        x.grad = None
        assert _live(Function) == before_fns
        assert _live(ts.Tensor) == before_tensors
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, (Function, ts.Tensor))]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_saved_arrays_are_released_after_backward():
    x = ts.randn(3, requires_grad=True)
    y = ts.exp(x)
    z = (y * x).sum()
    node = y.grad_fn
    assert node.saved
    z.backward()
    assert node.saved is None


# -- retain_graph and accumulation --------------------------------------------------------------------
def test_second_backward_through_freed_graph_raises():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward: trying to backward through \w+ a second time.*"
                                           r"retain_graph=True"):
        y.backward()


def test_retain_graph_allows_repeated_backward_and_grads_accumulate():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [2.0, 4.0]
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [4.0, 8.0]
    y.backward()
    assert x.grad.tolist() == [6.0, 8.0 + 4.0]
    (x * 10).sum().backward()  # a new graph accumulates too
    assert x.grad.tolist() == [16.0, 22.0]


def test_grad_is_a_copy_that_optimizers_may_update_in_place():
    x = ts.ones(3, requires_grad=True)
    g = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    y = x * 1.0
    y.backward(g)
    x.grad.data *= 2
    assert g.tolist() == [1.0, 2.0, 3.0]
    a, b = ts.ones(2, requires_grad=True), ts.ones(2, requires_grad=True)
    (a + b).sum().backward()  # Add hands the same array to both inputs
    a.grad.data += 1
    assert b.grad.tolist() == [1.0, 1.0]


def test_backward_errors():
    with pytest.raises(RuntimeError, match=r"backward: grad can be implicitly created only for scalar outputs; "
                                           r"this tensor has shape \(2,\)"):
        (ts.ones(2, requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match=r"backward: gradient has shape \(3,\) but the tensor has \(2,\)"):
        (ts.ones(2, requires_grad=True) * 2).backward(ts.ones(3))
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        ts.ones(2).sum().backward()


def test_backward_with_explicit_gradient():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(ts.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [3.0, 30.0]
    (x * 1).backward([1.0, 1.0])
    assert x.grad.tolist() == [4.0, 31.0]
    x.backward(ts.tensor([1.0, 1.0]))  # a leaf as the root receives the gradient itself
    assert x.grad.tolist() == [5.0, 32.0]


def test_only_leaves_that_require_grad_get_grad():
    a = ts.ones(2, requires_grad=True)
    b = ts.ones(2)
    c = a * b
    (c * c).sum().backward()
    assert a.grad is not None and b.grad is None and c.grad is None


def test_integer_inputs_get_no_gradient():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (x * ts.tensor([3, 4])).sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


# -- grad modes ----------------------------------------------------------------------------------------
def test_no_grad_and_enable_grad_contexts():
    x = ts.ones(2, requires_grad=True)
    assert ts.is_grad_enabled()
    with ts.no_grad():
        assert not ts.is_grad_enabled()
        y = x * 2
        with ts.enable_grad():
            assert ts.is_grad_enabled()
            z = x * 2
        assert not ts.is_grad_enabled()
    assert ts.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad


def test_grad_modes_as_decorators_and_after_exceptions():
    x = ts.ones(2, requires_grad=True)

    @ts.no_grad()
    def frozen(t):
        """Doubles t."""
        return t * 2

    @ts.enable_grad()
    def tracked(t):
        return t * 2

    class Model:
        @ts.no_grad  # without parentheses, on a method
        def predict(self, t):
            return t * 2

    assert not frozen(x).requires_grad
    assert frozen.__name__ == "frozen" and frozen.__doc__ == "Doubles t."
    assert not Model().predict(x).requires_grad and (x * 2).requires_grad
    with ts.no_grad():
        assert tracked(x).requires_grad
    with pytest.raises(ZeroDivisionError):
        with ts.no_grad():
            raise ZeroDivisionError
    assert ts.is_grad_enabled()


# -- anomaly detection -----------------------------------------------------------------------------------
def test_detect_anomaly_names_op_in_forward_with_time_step():
    x = ts.tensor([1.0, -1.0], requires_grad=True)
    with ts.detect_anomaly(), np.errstate(invalid="ignore"):
        y = ts.exp(x)  # fine
        with autograd.scope(layer=0, t=3):
            with pytest.raises(FloatingPointError, match=r"detect_anomaly: Log produced NaN or inf in its forward "
                                                         r"pass at layer=0, t=3 \(output of shape \(2,\), "
                                                         r"first at index \(1,\)\)"):
                ts.log(x * y)


def test_detect_anomaly_names_op_in_backward_with_time_step():
    x = ts.tensor([0.0, 4.0], requires_grad=True)
    with autograd.scope(t=7):
        y = ts.sqrt(x)  # finite forward, infinite derivative at 0
    with ts.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match=r"detect_anomaly: Sqrt produced NaN or inf in its backward "
                                                     r"pass at t=7"):
            y.sum().backward()


def test_detect_anomaly_is_off_by_default_and_restored():
    with np.errstate(all="ignore"):
        ts.log(ts.tensor([-1.0]))  # no error outside detect_anomaly
        with pytest.raises(FloatingPointError):
            with ts.detect_anomaly():
                ts.log(ts.tensor([-1.0]))
        ts.log(ts.tensor([-1.0]))


# -- hooks ---------------------------------------------------------------------------------------------------
def test_retain_grad_and_hooks_like_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (ts, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        h.retain_grad()
        seen = []
        h.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        h.register_hook(lambda g: g * 10)
        (h * h).sum().backward()
        results.append((h.grad.tolist(), x.grad.tolist(), seen))
    assert results[0] == results[1]


def test_hook_handle_removes_hook_and_retain_grad_accumulates():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    handle = h.register_hook(lambda g: g * 0)
    handle.remove()
    h.retain_grad()
    h.retain_grad()  # idempotent
    y = (h * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert h.grad.tolist() == [4.0, 4.0] and x.grad.tolist() == [4.0, 4.0]
    x.retain_grad()  # a leaf keeps its grad anyway
    assert x.grad.tolist() == [4.0, 4.0]


def test_hooks_on_one_output_of_several():
    x = ts.tensor(np.arange(4.0), requires_grad=True)
    a, b = x.split(2)
    b.register_hook(lambda g: g * 100)
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [1.0, 1.0, 100.0, 100.0]


# -- scopes and graph structure ---------------------------------------------------------------------------------
def test_scope_tags_nest_and_are_recorded():
    x = ts.ones(2, requires_grad=True)
    with autograd.scope(layer=1, direction=0):
        with autograd.scope(t=2):
            y = x * 2
            assert autograd.current_scope() == (("layer", 1), ("direction", 0), ("t", 2))
        z = y + 1
    w = z * 3
    assert y.grad_fn.scope == (("layer", 1), ("direction", 0), ("t", 2))
    assert z.grad_fn.scope == (("layer", 1), ("direction", 0))
    assert w.grad_fn.scope == ()
    assert autograd.describe_scope((("cell", ("LSTMCell", 1)), ("t", 2))) == "t=2"


def test_nodes_record_parents_generation_and_meta():
    a = ts.ones(2, 3, requires_grad=True)
    b = ts.ones(3)
    c = a + b
    d = c * 2.0
    fn = d.grad_fn
    assert fn.parents[0] == (c.grad_fn, 0)
    assert fn.parents[1][0] is None and fn.parents[1][1] == ()  # the constant 2.0
    assert c.grad_fn.parents[0] == (a, -1)
    assert fn.generation == c.grad_fn.generation + 1
    assert fn.out_meta == (((2, 3), ts.float32),)


def test_observer_sees_each_nodes_output_gradients():
    x = ts.ones(2, requires_grad=True)
    y = (x * 3).sum()
    seen = []
    autograd.backward([y], [np.ones((), np.float32)], observer=lambda fn, g: seen.append((fn.name, g[0].shape)))
    assert seen == [("Sum", ()), ("Mul", (2,))]


def test_custom_function_and_needs():
    class Cube(Function):
        def forward(self, a, b):
            self.saved = (a, b)
            return a**3 + b

        def backward(self, g):
            a, b = self.saved
            calls.append((self.needs(0), self.needs(1)))
            return (g * 3 * a**2 if self.needs(0) else None), (g if self.needs(1) else None)

    calls = []
    a = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    b = ts.tensor([0.5, 0.5], dtype=ts.float64)
    Cube.apply(a, b).sum().backward()
    assert a.grad.tolist() == [3.0, 12.0] and calls == [(True, False)]
    assert ts.gradcheck(lambda x: Cube.apply(x, b), a)


# -- devices and dtypes -------------------------------------------------------------------------------------------
def test_mixing_devices_names_both(monkeypatch):
    from tinyseq import backend

    monkeypatch.setitem(backend._factories, "other", lambda i: backend.Backend(f"other:{i}", np))
    monkeypatch.setattr(backend, "_backends", dict(backend._backends))
    a, b = ts.ones(2), ts.ones(2, device="other")
    assert b.device == "other:0"
    with pytest.raises(RuntimeError, match=r"add: tensors on different devices \(cpu and other:0\)"):
        a + b
    with pytest.raises(RuntimeError, match=r"matmul: tensors on different devices \(other:0 and cpu\)"):
        ts.ones(2, 2, device="other") @ ts.ones(2, 2)
    c = a.to("other")
    assert c.device == "other:0" and (c + b).device == "other:0"


def test_mixing_dtypes_promotes_then_names_the_shapes():
    with pytest.raises(ValueError, match=r"sub: shapes \(3,\) and \(3, 2\) cannot be broadcast together"):
        ts.ones(3, dtype=ts.float64) - ts.ones(3, 2)


@pytest.mark.parametrize("scales, expected", [((1e8, -1e8, 1.0), 0.0), ((1.0, 1e8, -1e8), 1.0)])
def test_gradients_sum_in_creation_order(scales, expected):
    # Nodes of one generation run newest first, whatever their memory addresses, so a
    # float32 sum whose result depends on the order comes out the same in every run.
    x = ts.tensor(1.0, requires_grad=True)
    ys = [x * s for s in scales]
    sum(ys[1:], ys[0]).backward()
    assert x.grad.item() == expected


def test_leaf_hooks_like_torch():
    """A leaf's hook sees its whole gradient once per backward (here from two uses and a
    broadcast), before .grad, and what it returns is what .grad accumulates."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (ts, torch):
        x = lib.tensor([[1.0, 2.0]], requires_grad=True)
        w = lib.tensor([3.0, -1.0], requires_grad=True)
        seen = []
        w.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        handle = w.register_hook(lambda g: g * 10)
        w.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        y = (x * w + w * w).sum() + (x.expand(3, 2) * w).sum()
        y.backward(retain_graph=True)
        handle.remove()
        y.backward()
        results.append((w.grad.tolist(), x.grad.tolist(), seen))
    assert results[0] == results[1]


def test_leaf_hook_on_a_root_and_hook_errors():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 3)
    x.backward(ts.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match=r"register_hook: this tensor does not require grad.*shape \(2,\)"):
        ts.tensor([1.0, 2.0]).register_hook(lambda g: g)
