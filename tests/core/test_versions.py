"""In-place changes of saved tensors between forward and backward: an error, as in PyTorch,
never a silently wrong gradient; and no error where PyTorch has none."""

import numpy as np
import pytest

import tinyseq as ts

MESSAGE = r"as it was in the forward pass, but that tensor was modified in place since"


def _scenario(lib, build, change):
    """build(lib) -> (loss, tensors); change(lib, tensors) runs between two backward
    passes over the same graph. Returns "error" or the second pass's gradient of tensors[0]."""
    lib.manual_seed(0)
    loss, tensors = build(lib)
    loss.backward(retain_graph=True)
    change(lib, tensors)
    for t in tensors:
        t.grad = None
    try:
        loss.backward()
    except RuntimeError as e:
        if "modified" not in str(e) and "inplace" not in str(e):
            raise
        return "error"
    return tensors[0].grad.numpy().round(10).tolist()


def _two_products(lib):
    w = lib.tensor(np.full((2, 2), 0.5), requires_grad=True)
    x = lib.tensor(np.ones((1, 2)))
    y = (x @ w) @ w
    return (y * y).sum(), [w, x]


def _one_product(lib):  # w only meets a constant: its value is not needed for its gradient
    w = lib.tensor(np.full((2, 2), 0.5), requires_grad=True)
    x = lib.tensor(np.ones((1, 2)))
    return (x @ w).tanh().sum(), [w, x]


def _sum_with_bias(lib):  # an addition keeps neither input
    b = lib.tensor(np.ones(3), requires_grad=True)
    x = lib.tensor(np.arange(3.0), requires_grad=True)
    return ((x + b) ** 2).sum(), [x, b]


def _step(lib, tensors):
    opt = lib.optim.SGD([tensors[0]], lr=0.1)
    opt.step()


def _add_to_constant(lib, tensors):
    with lib.no_grad():
        tensors[1].add_(1.0)


def _add_to_bias(lib, tensors):
    with lib.no_grad():
        tensors[1].mul_(2.0)


def _through_a_detached_view(lib, tensors):
    with lib.no_grad():
        tensors[0].detach()[0] = 7.0


@pytest.mark.parametrize(
    "build, change",
    [
        (_two_products, _step),
        (_two_products, _add_to_constant),
        (_two_products, _through_a_detached_view),
        (_one_product, _step),
        (_one_product, _add_to_constant),
        (_sum_with_bias, _add_to_bias),
        (_sum_with_bias, _through_a_detached_view),
    ],
)
def test_in_place_changes_between_backward_passes_like_torch(build, change):
    torch = pytest.importorskip("torch")
    ours, ref = _scenario(ts, build, change), _scenario(torch, build, change)
    assert ours == ref


def test_the_error_names_the_op_and_the_input():
    w = ts.tensor(np.full((2, 2), 0.5), requires_grad=True)
    y = (ts.ones(1, 2, dtype=ts.float64) @ w) @ w
    loss = y.sum()
    loss.backward(retain_graph=True)
    ts.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"backward: MatMul needs its input 1 \(shape \(2, 2\)\) " + MESSAGE
                                           + r"\. An optimizer step.*detach\(\) the state"):  # fmt: skip
        loss.backward()


@pytest.mark.parametrize("fused", [True, False])
def test_truncated_bptt_mistake_is_caught_in_recurrent_layers(fused):
    """The lecture's pitfall: backward again through an earlier chunk's retained graph after an
    optimizer step changed the weights it saved. Both the fused and composed paths raise."""
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(3, 4, fused=fused)
    opt = ts.optim.SGD(lstm.parameters(), lr=0.1)
    x = ts.randn(5, 2, 3)
    out, _ = lstm(x)
    loss = out.sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=MESSAGE):
        loss.backward()


def test_views_and_detach_share_the_count_and_unsaved_inputs_do_not_matter():
    w = ts.randn(3, 4, requires_grad=True)
    x = ts.randn(2, 3, requires_grad=True)
    view = w.T  # a view: counts its base's in-place changes
    loss = (x @ view.T).sum() + (ts.ones(2, 3) + w.sum()).sum()
    with ts.no_grad():
        w.detach().mul_(1.0)
    with pytest.raises(RuntimeError, match=r"MatMul needs its input 1 \(shape \(3, 4\)\)"):
        loss.backward()
    y = ts.randn(3, requires_grad=True)
    total = (y + 1).sum()
    with ts.no_grad():
        y.add_(1.0)  # addition saved nothing: the gradient does not depend on y
    total.backward()
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_load_state_dict_and_init_count_as_changes():
    lin = ts.nn.Linear(2, 2)
    loss = lin(ts.ones(1, 2)).tanh().sum() + (lin.weight * lin.weight).sum()
    lin.load_state_dict({k: v.numpy() * 2 for k, v in lin.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    loss = (lin.weight * lin.weight).sum()
    ts.nn.init.zeros_(lin.weight)
    with pytest.raises(RuntimeError, match="Mul needs its input 0"):
        loss.backward()


def test_a_slice_of_a_constant_shares_its_changes():
    x = ts.randn(4, 3)
    w = ts.randn(3, 2, requires_grad=True)
    loss = (x[1:3] @ w).tanh().sum()
    x[2, 0] = 5.0  # changes the slice that the product saved
    with pytest.raises(RuntimeError, match="MatMul needs its input 0"):
        loss.backward()
