"""ts.gradcheck: passes correct gradients, and names the input and the index of
a wrong one; rejects inputs it cannot check."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.autograd import Function


class WrongSquare(Function):
    """x**2 with a backward that is wrong at one element."""

    def forward(self, a):
        self.saved = (a,)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        grad = 2 * a * g
        grad.reshape(-1)[-1] += 1.0
        return grad


class WrongSecondInput(Function):
    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return g * b, g * a * 1.01


def f64(*shape, seed=0):
    return ts.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_correct_gradients_pass():
    x, y = f64(2, 3), f64(3, seed=1)
    assert ts.gradcheck(lambda a, b: (a * b).tanh() @ b, (x, y)) is True
    assert ts.gradcheck(lambda a: a.exp(), f64(4)) is True
    assert ts.gradcheck(lambda a: (a.split(1), a.sum()), f64(2, 2))  # several outputs
    assert ts.gradcheck(lambda a: a * 2, f64())  # 0-d input


def test_wrong_backward_names_input_and_index():
    x = f64(2, 3)
    with pytest.raises(ts.GradcheckError, match=r"gradcheck: input 0 \(shape \(2, 3\)\) at index \(1, 2\): "
                                                r"analytic .* vs numerical .* \(1 of 6 elements differ"):
        ts.gradcheck(WrongSquare.apply, x)


def test_wrong_second_input_is_named():
    a, b = f64(3, seed=2), f64(3, seed=3)
    with pytest.raises(ts.GradcheckError, match=r"gradcheck: input 1 \(shape \(3,\)\) at index \(0,\)"):
        ts.gradcheck(WrongSecondInput.apply, (a, b))


def test_only_inputs_that_require_grad_are_checked():
    a, b = f64(3, seed=2), ts.tensor(np.ones(3))
    assert ts.gradcheck(WrongSecondInput.apply, (a, b))  # b's wrong gradient is never asked for
    assert ts.gradcheck(lambda t, k: t * k, (f64(2), 3.0))  # non-tensor inputs pass through


def test_inputs_are_restored_and_grads_are_fresh():
    x = f64(2, 2)
    before = x.numpy().copy()
    ts.gradcheck(lambda a: a * a, x)
    first = x.grad.numpy().copy()
    x.grad = ts.ones(2, 2, dtype=ts.float64) * 100
    ts.gradcheck(lambda a: a * a, x)
    np.testing.assert_array_equal(x.numpy(), before)
    np.testing.assert_array_equal(x.grad.numpy(), first)  # not added to the stale 100s


def test_tolerances_are_used():
    x = f64(3, seed=4)
    with pytest.raises(ts.GradcheckError):
        ts.gradcheck(WrongSquare.apply, x)
    assert ts.gradcheck(WrongSquare.apply, x, atol=2.0)


def test_rejects_what_it_cannot_check():
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True"):
        ts.gradcheck(lambda a: a * 2, ts.ones(2, dtype=ts.float64))
    with pytest.raises(ValueError, match="gradcheck: input 0 is float32; gradcheck needs float64 inputs"):
        ts.gradcheck(lambda a: a * 2, ts.ones(2, requires_grad=True))
