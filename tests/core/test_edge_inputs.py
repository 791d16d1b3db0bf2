"""Inputs that used to give a silently wrong result: negative class/row indices, a .grad of
the wrong shape, NaN into integer tensors, view() of a non-contiguous tensor, dotted or
empty module names. Each now raises a clear error, as PyTorch does."""

import numpy as np
import pytest

import tinyseq as ts
import tinyseq.nn.functional as F
from tinyseq.data import pad_sequences


# -- negative indices -------------------------------------------------------------------
def test_embedding_refuses_negative_indices():
    emb = ts.nn.Embedding(5, 2)
    with pytest.raises(ValueError, match=r"embedding: index -1 is out of range for 5 embeddings .* \[0, 5\)"):
        emb(ts.tensor([0, -1]))
    with pytest.raises(ValueError, match=r"embedding: index -5 is out of range"):
        F.embedding(ts.tensor([[-5]]), ts.randn(5, 2))


def test_index_select_refuses_negative_indices():
    x = ts.randn(3, 4)
    with pytest.raises(ValueError, match=r"index_select: index -1 out of range for dim 1 of size 4"):
        x.index_select(1, ts.tensor([0, -1]))
    with pytest.raises(ValueError, match=r"index_select: index -3 out of range for dim 0 of size 3"):
        ts.index_select(x, 0, [-3])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ts.randn(2, 3).gather(1, ts.tensor([[0], [-1]])), r"gather: index -1 out of range"),
        (lambda: F.one_hot(ts.tensor([1, -1]), 3), r"one_hot: class values must be in \[0, 3\)"),
        (lambda: F.cross_entropy(ts.randn(2, 3), ts.tensor([0, -1])), r"cross_entropy: target -1 is out of range"),
        (lambda: F.nll_loss(ts.randn(2, 3), ts.tensor([-2, 0])), r"nll_loss: target -2 is out of range"),
    ],
)
def test_other_index_paths_refuse_negatives(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_torch_refuses_the_same_negative_indices():
    torch = pytest.importorskip("torch")
    with pytest.raises(IndexError):
        torch.nn.Embedding(5, 2)(torch.tensor([-1]))
    with pytest.raises((IndexError, RuntimeError)):
        torch.randn(3, 4).index_select(1, torch.tensor([-1]))


def test_cross_entropy_ignore_index_may_be_negative():
    loss = F.cross_entropy(ts.randn(2, 3), ts.tensor([1, -100]))
    assert np.isfinite(loss.item())


# -- .grad assignment -------------------------------------------------------------------
def test_a_grad_of_another_shape_is_refused_on_assignment():
    p = ts.nn.Parameter(ts.zeros(3))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(1,\) cannot be assigned to a tensor of shape \(3,\)"):
        p.grad = ts.ones(1)
    assert p.grad is None
    opt = ts.optim.SGD([p], lr=1.0)
    p.grad = ts.ones(3)
    opt.step()
    np.testing.assert_allclose(p.numpy(), -1.0)


def test_grad_assignment_checks_type_and_dtype():
    x = ts.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="grad: expected a Tensor or None, got ndarray"):
        x.grad = np.ones(2, dtype=np.float32)
    with pytest.raises(RuntimeError, match="gradient of dtype float64 cannot be assigned to a tensor of dtype float32"):
        x.grad = ts.ones(2, dtype=ts.float64)
    x.grad = ts.ones(2)
    x.grad = None
    assert x.grad is None


# -- NaN into integers ------------------------------------------------------------------
def test_nan_and_inf_into_integer_tensors_raise():
    with pytest.raises(ValueError, match=r"full: value nan cannot be converted to int64"):
        ts.full((2,), float("nan"), dtype=ts.int64)
    with pytest.raises(ValueError, match=r"full: value inf cannot be converted to int32"):
        ts.full((2,), float("inf"), dtype=ts.int32)
    with pytest.raises(ValueError, match=r"full: value 1e\+30 cannot be converted"):
        ts.full_like(ts.zeros(2, dtype=ts.int64), 1e30)
    with pytest.raises(ValueError, match=r"fill_: value nan cannot be converted"):
        ts.zeros(2, dtype=ts.int64).fill_(float("nan"))
    with pytest.raises(ValueError, match=r"pad_sequences: value nan cannot be converted"):
        pad_sequences([ts.tensor([1, 2]), ts.tensor([3])], padding_value=float("nan"))
    with pytest.raises(ValueError, match=r"pad: value nan cannot be converted"):
        F.pad(ts.arange(3), (1, 1), value=float("nan"))
    with pytest.raises(ValueError, match=r"masked_fill: value nan cannot be converted"):
        ts.arange(3).masked_fill(ts.tensor([True, False, True]), float("nan"))


def test_integral_fill_values_still_work():
    assert ts.full((2,), 2.7, dtype=ts.int64).tolist() == [2, 2]  # truncated, as PyTorch
    assert ts.full((2,), float("nan")).isnan().all().item()
    padded, _ = pad_sequences([ts.tensor([1, 2]), ts.tensor([3])], padding_value=-1)
    assert padded.tolist() == [[1, 3], [2, -1]]


# -- view -------------------------------------------------------------------------------
def test_view_of_a_transpose_raises_and_points_at_reshape():
    x = ts.randn(2, 3)
    with pytest.raises(RuntimeError, match=r"view: .* use \.reshape\(\.\.\.\) instead"):
        x.t().view(6)
    with pytest.raises(RuntimeError, match=r"use \.reshape"):
        x.t().view_as(ts.zeros(6))
    assert x.t().reshape(6).shape == (6,)


def test_view_shares_memory_where_strides_allow():
    x = ts.zeros(4, 6)
    v = x[:, :3].view(4, 3, 1)  # not contiguous, but splittable without a copy
    with ts.no_grad():
        v[0, 0, 0] = 5.0
    assert x[0, 0].item() == 5.0
    y = ts.zeros(2, 3, 4).permute(1, 0, 2).view(3, 2, 2, 2)
    assert y.shape == (3, 2, 2, 2)
    assert ts.zeros(0, 3).t().view(0).shape == (0,)


# -- module names -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a.b", ""])
def test_dotted_or_empty_names_raise_key_error(name):
    m = ts.nn.Module()
    with pytest.raises(KeyError, match="register_parameter: parameter name .* must be non-empty and contain no '.'"):
        m.register_parameter(name, ts.nn.Parameter(ts.zeros(1)))
    with pytest.raises(KeyError, match="add_module: module name .* must be non-empty and contain no '.'"):
        m.add_module(name, ts.nn.Linear(1, 1))
    with pytest.raises(KeyError, match="add_module"):
        setattr(m, name, ts.nn.Linear(1, 1))
    with pytest.raises(KeyError, match="register_buffer"):
        m.register_buffer(name, ts.zeros(1))
    assert m.state_dict() == {}


def test_module_names_must_be_strings():
    with pytest.raises(TypeError, match="add_module: module name must be a string, got int"):
        ts.nn.Module().add_module(1, ts.nn.Linear(1, 1))


# -- aliasing -----------------------------------------------------------------------------
def test_cat_of_one_tensor_is_a_new_tensor():
    x = ts.zeros(3)
    y = ts.cat([x])
    y.add_(1)
    assert x.tolist() == [0.0, 0.0, 0.0] and y.tolist() == [1.0, 1.0, 1.0]
    w = ts.ones(2, requires_grad=True)
    ts.cat([w]).sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_casting_nan_inf_or_out_of_range_floats_to_integers_raises():
    # PyTorch (and numpy) silently give -9223372036854775808 here
    with pytest.raises(ValueError, match="cast: cannot convert float32 values to int64: some are NaN, inf"):
        ts.tensor([1.0, float("nan")]).long()
    with pytest.raises(ValueError, match="cast: cannot convert float32 values to int32"):
        ts.tensor([1e30]).to(ts.int32)
    with pytest.raises(ValueError, match="tensor: cannot convert float64 values to int64"):
        ts.tensor(np.array([np.inf]), dtype=ts.int64)
    assert ts.tensor([2.7, -3.5]).long().tolist() == [2, -3]  # truncation toward 0, as PyTorch
    assert ts.tensor([float("nan"), 0.0]).bool().tolist() == [True, False]
