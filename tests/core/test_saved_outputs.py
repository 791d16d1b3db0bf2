"""Ops whose backward reads their own output (exp, tanh, sigmoid, ...): an in-place change
of that output through detach() or a view, between forward and backward, raises (as in
PyTorch) instead of giving a silently wrong gradient."""

import numpy as np
import pytest

import tinyseq as ts

OPS = {
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "exp": lambda x: x.exp(),
    "sqrt": lambda x: x.sqrt(),
    "relu": lambda x: x.relu(),
    "softmax": lambda x: x.softmax(-1),
    "pow_tensor": lambda x: x ** (x * 0 + 2),
    "rpow": lambda x: 2.0**x,
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("how", ["detach", "view", "no_grad"])
def test_changing_a_saved_output_in_place_raises(name, how):
    x = ts.tensor([0.5, 1.0, 2.0], dtype=ts.float64, requires_grad=True)
    h = OPS[name](x)
    loss = (h * ts.tensor([1.0, 2.0, 3.0], dtype=ts.float64)).sum()
    if how == "detach":
        h.detach().mul_(0)
    elif how == "view":
        h.detach()[1:].zero_()
    else:
        with ts.no_grad():
            h[0] = 5.0
    with pytest.raises(RuntimeError, match=r"needs its output 0 .* modified in place"):
        loss.backward()


@pytest.mark.parametrize("name", ["amax", "norm"])
def test_reductions_that_keep_their_result_check_it(name):
    x = ts.tensor([[0.5, 1.0], [2.0, 3.0]], dtype=ts.float64, requires_grad=True)
    h = x.amax(dim=1) if name == "amax" else x.norm(dim=1)
    loss = (h * 3).sum()
    h.detach().add_(1)
    with pytest.raises(RuntimeError, match="needs its output 0"):
        loss.backward()


def test_outputs_that_backward_does_not_read_may_change():
    # x ** 2 keeps x, not x ** 2; a later change of the square is harmless, as in PyTorch
    x = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    h = x**2
    loss = (h * 3).sum()
    h.detach().zero_()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_a_change_before_the_consumer_is_fine_and_a_clone_is_free():
    x = ts.tensor([0.5, 1.0], dtype=ts.float64, requires_grad=True)
    h = x.tanh()
    h.clone().detach().mul_(0)  # a copy: h itself is untouched
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh([0.5, 1.0]) ** 2)


@pytest.mark.parametrize("name", sorted(OPS))
def test_torch_raises_in_the_same_cases(name):
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    fns = {"softmax": lambda t: t.softmax(-1), "pow_tensor": lambda t: t ** (t * 0 + 2), "rpow": lambda t: 2.0**t}
    h = fns[name](x) if name in fns else getattr(x, name)()
    loss = (h * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum()
    h.detach().mul_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
