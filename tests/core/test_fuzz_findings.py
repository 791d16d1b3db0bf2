"""Bugs the differential fuzz suite (test_fuzz_torch.py) found, each pinned by a plain test."""

import numpy as np

import tinyseq as ts


def test_std_gradient_is_zero_where_all_values_are_equal():
    # was nan (sqrt's derivative at 0); PyTorch gives 0
    x = ts.tensor([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]], dtype=ts.float64, requires_grad=True)
    y = x.std(dim=1)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [np.std([1, 2, 4], ddof=1), 0.0])
    c = np.array([1, 2, 4]) - 7 / 3
    np.testing.assert_allclose(x.grad.numpy()[0], c / (np.std([1, 2, 4], ddof=1) * 2))
    np.testing.assert_array_equal(x.grad.numpy()[1], 0.0)
    z = ts.zeros(2, dtype=ts.float64, requires_grad=True)
    z.std().backward()
    np.testing.assert_array_equal(z.grad.numpy(), 0.0)


def test_std_still_passes_gradcheck():
    x = ts.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert ts.gradcheck(lambda t: t.std(dim=1, keepdim=True), (x,))
    assert ts.gradcheck(lambda t: t.std(correction=0), (x,))


def test_binary_cross_entropy_with_logits_gradient_at_zero_logits():
    # was 1 - y + 0 at x = 0 (|x| and relu have gradient 0 there): twice PyTorch's sigmoid(0) - y
    x = ts.zeros(4, dtype=ts.float64, requires_grad=True)
    y = ts.tensor([0.0, 1.0, 0.25, 0.5], dtype=ts.float64)
    ts.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 - y.numpy())
    x = ts.zeros(2, dtype=ts.float64, requires_grad=True)
    ts.nn.functional.binary_cross_entropy_with_logits(x, ts.ones(2, dtype=ts.float64), reduction="sum",
                                                      pos_weight=ts.tensor([3.0], dtype=ts.float64)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 * (0.5 - 1)] * 2)  # y = 1: p * (sigmoid(x) - 1)
    x = ts.tensor(np.linspace(-3, 3, 7), requires_grad=True)
    assert ts.gradcheck(lambda t: ts.nn.functional.binary_cross_entropy_with_logits(t, ts.full((7,), 0.3,
                                                                                             dtype=ts.float64)), (x,))
