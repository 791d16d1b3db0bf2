"""Engine state is per thread, as in PyTorch: grad mode, anomaly mode and scopes set in
one thread never leak into another. And no_grad/enable_grad as decorators of generators."""

import threading

import pytest

import tinyseq as ts
from tinyseq import autograd


def _interleave(inside, probe):
    """Thread A enters ``inside`` (a context manager) and waits there while thread B runs
    ``probe()``; returns what probe returned."""
    entered, probed = threading.Event(), threading.Event()
    seen = []
    errors = []

    def a():
        try:
            with inside:
                entered.set()
                probed.wait(10)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def b():
        entered.wait(10)
        try:
            seen.append(probe())
        finally:
            probed.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    return seen[0]


def test_no_grad_in_one_thread_leaves_another_recording():
    assert _interleave(ts.no_grad(), lambda: (ts.ones(2, requires_grad=True) * 2).requires_grad) is True


def test_enable_grad_in_one_thread_leaves_another_s_no_grad():
    def probe():
        with ts.no_grad():
            return (ts.ones(2, requires_grad=True) * 2).requires_grad

    assert _interleave(ts.enable_grad(), probe) is False


def test_grad_mode_seen_by_is_grad_enabled_is_per_thread():
    assert _interleave(ts.no_grad(), ts.is_grad_enabled) is True
    assert ts.is_grad_enabled()


def test_detect_anomaly_is_per_thread():
    def probe():
        x = ts.tensor([float("inf")], requires_grad=True)
        return x * 2  # not finite: raises only where anomaly mode is on

    assert _interleave(ts.detect_anomaly(), probe) is not None
    assert not autograd.is_anomaly_enabled()


def test_scopes_are_per_thread():
    assert _interleave(autograd.scope(t=3), autograd.current_scope) == ()
    assert _interleave(ts.viz.step(5), lambda: (ts.ones(1, requires_grad=True) * 2).grad_fn.scope) == ()


def test_one_no_grad_object_entered_by_two_threads_restores_each():
    ctx = ts.no_grad()
    result = {}
    barrier = threading.Barrier(2)

    def run(name):
        with ctx:
            barrier.wait(10)
        result[name] = ts.is_grad_enabled()

    threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert result == {"a": True, "b": True}


def test_training_thread_keeps_every_gradient_while_another_evaluates():
    model = ts.nn.Linear(3, 2)
    stop = threading.Event()

    def evaluate():
        while not stop.is_set():
            with ts.no_grad():
                model(ts.randn(4, 3))

    worker = threading.Thread(target=evaluate)
    worker.start()
    try:
        for _ in range(200):
            model.zero_grad()
            model(ts.randn(4, 3)).sum().backward()
            assert all(p.grad is not None for p in model.parameters())
    finally:
        stop.set()
        worker.join(20)


# -- decorators on generator functions ----------------------------------------------------
def test_no_grad_on_a_generator_covers_its_body_at_every_step():
    w = ts.ones(2, requires_grad=True)

    @ts.no_grad()
    def gen():
        for _ in range(3):
            yield w * 2

    outs = list(gen())
    assert not any(o.requires_grad for o in outs)
    assert ts.is_grad_enabled()


def test_no_grad_without_parentheses_on_a_generator():
    w = ts.ones(2, requires_grad=True)

    @ts.no_grad
    def gen():
        yield w * 2

    assert not next(gen()).requires_grad


def test_the_caller_keeps_its_mode_between_the_generator_s_steps():
    w = ts.ones(2, requires_grad=True)

    @ts.no_grad()
    def gen():
        yield 1
        yield 2

    g = gen()
    next(g)
    assert ts.is_grad_enabled() and (w * 2).requires_grad
    with ts.no_grad():
        assert next(g) == 2  # and the body's mode did not leak the other way either


def test_enable_grad_on_a_generator_inside_no_grad():
    w = ts.ones(2, requires_grad=True)

    @ts.enable_grad()
    def gen():
        yield w * 2

    with ts.no_grad():
        assert next(gen()).requires_grad


def test_decorated_generator_send_throw_close_and_return_value():
    @ts.no_grad()
    def gen():
        got = yield "first"
        try:
            yield got
        except KeyError:
            yield ts.is_grad_enabled()
        return "done"

    g = gen()
    assert next(g) == "first"
    assert g.send("sent") == "sent"
    assert g.throw(KeyError()) is False
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    g2 = gen()
    next(g2)
    g2.close()
    assert gen.__name__ == "gen"


def test_set_default_device_is_per_thread(monkeypatch):
    from tinyseq import backend

    monkeypatch.setattr(backend, "_chosen", backend._PerThreadDevice())
    seen = []

    def worker():
        ts.set_default_device("strict")
        seen.append(ts.zeros(1).device)

    t = threading.Thread(target=worker)
    t.start()
    t.join(20)
    assert seen == ["strict:0"]
    assert ts.default_device() == "cpu" and ts.zeros(1).device == "cpu"
    ts.set_default_device("strict")
    assert ts.zeros(1).device == "strict:0"
    ts.set_default_device(None)
    assert ts.zeros(1).device == "cpu"
