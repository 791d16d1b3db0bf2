"""Shape ops and indexing: values and gradients against PyTorch (and numpy for
what PyTorch refuses), gradcheck, Hypothesis-driven indices, error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyseq as ts


def _torch():
    return pytest.importorskip("torch")


def check_against_torch(fn, arrays, torch_fn=None, rtol=1e-12, atol=1e-12):
    """Values and gradients (of a random weighting of each output) of fn on float64 copies."""
    torch = _torch()
    torch_fn = torch_fn or fn
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    ours = [ts.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    out, ref = fn(*ours), torch_fn(*theirs)
    outs, refs = (out, ref) if isinstance(out, (tuple, list)) else ((out,), (ref,))
    assert len(outs) == len(refs)
    rng = np.random.default_rng(1)
    loss, ref_loss = 0, 0
    for o, r in zip(outs, refs):
        assert o.shape == tuple(r.shape)
        np.testing.assert_allclose(o.numpy(), r.detach().numpy(), rtol=rtol, atol=atol)
        w = rng.standard_normal(o.shape)
        loss = loss + (o * ts.tensor(w)).sum()
        ref_loss = ref_loss + (r * torch.from_numpy(w)).sum()
    loss.backward()
    ref_loss.backward()
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=rtol, atol=atol)


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


X = data(2, 3, 4)


@pytest.mark.parametrize("fn", [
    lambda t: t.reshape(4, 6), lambda t: t.reshape(-1), lambda t: t.reshape((3, -1)), lambda t: t.view(2, 12),
    lambda t: t.view(-1, 4), lambda t: t.flatten(), lambda t: t.flatten(1), lambda t: t.flatten(0, 1),
    lambda t: t.flatten(-2, -1), lambda t: t.transpose(0, 2), lambda t: t.transpose(-1, 1),
    lambda t: t.permute(2, 0, 1), lambda t: t.permute((1, 2, 0)), lambda t: t.permute(-1, 0, 1),
    lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(2),
    lambda t: t.unsqueeze(1).expand(2, 5, 3, 4), lambda t: t.expand(3, 2, 3, 4), lambda t: t.expand(-1, -1, 4),
    lambda t: t.reshape(2, 1, 3, 4).squeeze(), lambda t: t.reshape(2, 1, 3, 4).squeeze(1),
    lambda t: t.reshape(2, 1, 3, 4).squeeze(-3), lambda t: t.squeeze(0), lambda t: t.mT,
    lambda t: t.view_as(t.reshape(6, 4)), lambda t: t[:, :1].expand_as(t),
])  # fmt: skip
def test_shape_ops_match_torch(fn):
    check_against_torch(fn, [X])


def test_T_reverses_dims():
    check_against_torch(lambda t: t.T, [data(3, 4)])
    assert ts.ones(2, 3, 4).T.shape == (4, 3, 2)
    assert ts.ones(3).T.shape == (3,)


def test_shape_ops_gradcheck():
    x = ts.tensor(data(2, 3, 2), requires_grad=True)
    for fn in (lambda t: t.reshape(3, 4), lambda t: t.permute(2, 0, 1), lambda t: t[:, None].expand(2, 2, 3, 2),
               lambda t: t.transpose(0, 1).flatten(), lambda t: t.unsqueeze(1).squeeze(1)):
        assert ts.gradcheck(fn, x)


def test_expand_of_size_one_sums_gradient():
    x = ts.tensor(data(3, 1), requires_grad=True)
    assert ts.gradcheck(lambda t: t.expand(2, 3, 5) * ts.tensor(data(2, 3, 5, seed=1)), x)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_cat_stack_match_torch(dim):
    torch = _torch()
    a, b, c = data(2, 3, 4, seed=1), data(2, 3, 4, seed=2), data(2, 3, 4, seed=3)
    check_against_torch(lambda *t: ts.cat(t, dim=dim), [a, b, c], lambda *t: torch.cat(t, dim=dim))
    check_against_torch(lambda *t: ts.stack(t, dim=dim), [a, b, c], lambda *t: torch.stack(t, dim=dim))


def test_cat_uneven_and_stack_new_last_dim():
    torch = _torch()
    a, b = data(2, 3), data(2, 5)
    check_against_torch(lambda x, y: ts.cat([x, y], 1), [a, b], lambda x, y: torch.cat([x, y], 1))
    check_against_torch(lambda x, y: ts.stack([x, x, y[:, :3]], -1), [a, b],
                        lambda x, y: torch.stack([x, x, y[:, :3]], -1))
    assert ts.gradcheck(lambda x, y: ts.cat([x, y, x], dim=1),
                        [ts.tensor(a, requires_grad=True), ts.tensor(b, requires_grad=True)])


def test_cat_with_constant_inputs():
    x = ts.ones(2, requires_grad=True)
    y = ts.cat([ts.zeros(3), x * 2])
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("args", [(2, 0), (2, 1), (3, -1), ([1, 2, 1], 0), ([3, 1], 1)])
def test_split_matches_torch(args):
    torch = _torch()
    size, dim = args
    check_against_torch(lambda t: ts.split(t, size, dim), [data(4, 4)], lambda t: torch.split(t, size, dim))


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (4, 0), (1, 1), (6, 0)])
def test_chunk_matches_torch(chunks, dim):
    check_against_torch(lambda t: t.chunk(chunks, dim), [data(5, 4)])


def test_split_uses_only_some_outputs():
    x = ts.tensor(data(4, 3), requires_grad=True)
    a, b = x.split(2)
    (a * 3).sum().backward()
    assert x.grad.tolist() == [[3.0] * 3] * 2 + [[0.0] * 3] * 2
    assert ts.gradcheck(lambda t: t.chunk(3, dim=1)[1], x)


@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), (2, 0, 0, 0)])
def test_pad_matches_torch(pad):
    torch = _torch()
    F = ts.nn.functional
    check_against_torch(lambda t: F.pad(t, pad), [X], lambda t: torch.nn.functional.pad(t, pad))
    check_against_torch(lambda t: F.pad(t, pad, value=-1.5), [X],
                        lambda t: torch.nn.functional.pad(t, pad, value=-1.5))
    assert ts.gradcheck(lambda t: ts.pad(t, pad), ts.tensor(data(2, 2, 3), requires_grad=True))


# -- indexing ----------------------------------------------------------------------------------
INDICES = [
    1, -1, (0, 2), (1, -1, 3), slice(None), slice(1, None), (slice(None), 1), (..., 1), (..., None, 2),
    (None, 0), (0, ..., slice(1, 3)), (slice(None, None, 2), slice(None), slice(1, 4, 2)),
    [0, 1, 1], ([1, 0], [2, 2]), (slice(None), [0, 2, 0]), (..., [3, 3, 0]), ([1, 1], slice(None), [0, 2]),
    (0, [1, 1, 2], slice(None, 2)), np.array([1, 0, 1]), (np.int64(1), 2),
]  # fmt: skip


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_matches_torch(index):
    torch = _torch()

    def to_torch(i):
        if isinstance(i, tuple):
            return tuple(to_torch(p) for p in i)
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i

    check_against_torch(lambda t: t[index], [X], lambda t: t[to_torch(index)])


def test_getitem_with_index_tensors():
    torch = _torch()
    rows, cols = np.array([0, 1, 1, 0]), np.array([2, 2, 2, 0])
    check_against_torch(lambda t: t[ts.tensor(rows), ts.tensor(cols)], [data(2, 3)],
                        lambda t: t[torch.from_numpy(rows), torch.from_numpy(cols)])
    assert ts.arange(5)[ts.tensor(2)].item() == 2  # a 0-d index tensor picks one element
    assert ts.arange(5)[ts.tensor(2)].shape == ()


def test_repeated_advanced_indices_accumulate_gradient():
    x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    w = ts.tensor(data(2, 3), requires_grad=True)
    assert ts.gradcheck(lambda t: t[[1, 1, 0], [2, 2, 2]], w)


def test_negative_steps_follow_numpy():
    # PyTorch refuses negative steps; numpy's meaning is the obvious one.
    x = ts.tensor(data(5, 3), requires_grad=True)
    np.testing.assert_array_equal(x[::-2].numpy(), x.numpy()[::-2])
    assert ts.gradcheck(lambda t: t[::-1, 1:], x)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4), (2, 3), (2,)])
def test_boolean_mask_matches_torch(mask_shape):
    torch = _torch()
    mask = np.random.default_rng(2).random(mask_shape) > 0.4
    check_against_torch(lambda t: t[ts.tensor(mask)], [X], lambda t: t[torch.from_numpy(mask)])
    check_against_torch(lambda t: t[t > 0], [X])


@st.composite
def basic_and_advanced_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "list", "full"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n, n))
            stop = draw(st.none() | st.integers(-n, n))
            parts.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
        elif kind == "list":
            parts.append(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
        else:
            parts.append(slice(None))
        if draw(st.integers(0, 5)) == 0:
            parts.append(None)
    # drop trailing parts (they mean ':') or replace a prefix with ...
    cut = draw(st.integers(1, len(parts)))
    parts = parts[:cut]
    if draw(st.booleans()) and not any(p is None for p in parts):
        parts = [Ellipsis] + parts[1:]
    return shape, tuple(parts)


@settings(max_examples=60, deadline=None)
@given(si=basic_and_advanced_index(), seed=st.integers(0, 999))
def test_hypothesis_indexing_matches_torch(si, seed):
    torch = _torch()
    shape, index = si
    x = data(*shape, seed=seed)
    if any(isinstance(p, list) for p in index) and sum(isinstance(p, list) for p in index) > 1:
        # several index lists broadcast against each other: make their lengths agree
        lens = [len(p) for p in index if isinstance(p, list)]
        index = tuple(p[: min(lens)] if isinstance(p, list) else p for p in index)

    def to_torch(i):
        return tuple(torch.tensor(p) if isinstance(p, list) else p for p in i)

    try:
        expected = torch.from_numpy(x)[to_torch(index)]
    except (IndexError, RuntimeError, ValueError):
        return  # torch refuses this index; so do we (checked in the error tests)
    check_against_torch(lambda t: t[index], [x], lambda t: t[to_torch(index)])
    assert expected is not None


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data_=st.data())
def test_hypothesis_basic_indices_gradcheck(shape, data_):
    index = data_.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = ts.tensor(data(*shape), requires_grad=True)
    np.testing.assert_array_equal(x[index].numpy(), x.numpy()[index])
    if x[index].numel():
        assert ts.gradcheck(lambda t: t[index], x)


def test_getitem_without_grad_and_setitem():
    x = ts.arange(6).reshape(2, 3)
    assert x[1].tolist() == [3, 4, 5]
    assert x[:, [0, 2]].tolist() == [[0, 2], [3, 5]]
    x[0, 1] = 10
    x[1] = ts.tensor([7, 8, 9])
    x[x > 9] = -1
    assert x.tolist() == [[0, -1, 2], [7, 8, 9]]


def test_iteration_and_len():
    x = ts.tensor(data(3, 2), requires_grad=True)
    rows = list(x)
    assert len(x) == 3 and len(rows) == 3 and rows[1].shape == (2,)
    sum(r.sum() for r in rows).backward()
    assert x.grad.tolist() == [[1.0, 1.0]] * 3
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ts.tensor(1.0))


# -- errors -----------------------------------------------------------------------------------
def test_reshape_errors():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) "
                                         r"to \(4, 2\)"):
        ts.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"reshape: .* to \(-1, -1\)"):
        ts.ones(2, 3).view(-1, -1)
    with pytest.raises(ValueError, match=r"reshape: .* to \(4, -1\)"):
        ts.ones(2, 3).reshape(4, -1)


def test_permute_transpose_errors():
    with pytest.raises(ValueError, match=r"permute: dim \(0, 0\) repeats a dimension"):
        ts.ones(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match=r"permute: \(0, 1, 2\) is not a permutation of the 2 dims of shape \(2, 3\)"):
        ts.ones(2, 3).permute(0, 1, 2)
    with pytest.raises(ValueError, match=r"permute: dim 5 out of range for a tensor of shape \(2, 3\)"):
        ts.ones(2, 3).permute(0, 5)
    with pytest.raises(ValueError, match=r"transpose: dim 2 out of range for a tensor of shape \(2, 3\)"):
        ts.ones(2, 3).transpose(0, 2)


def test_squeeze_unsqueeze_flatten_errors():
    with pytest.raises(ValueError, match=r"unsqueeze: dim 3 out of range for a tensor of shape \(2, 3\)"):
        ts.ones(2, 3).unsqueeze(3)
    with pytest.raises(ValueError, match=r"squeeze: dim 2 out of range for a tensor of shape \(2, 3\)"):
        ts.ones(2, 3).squeeze(2)
    with pytest.raises(ValueError, match=r"flatten: start_dim 1 comes after end_dim 0 for shape \(2, 3\)"):
        ts.ones(2, 3).flatten(1, 0)


def test_expand_errors():
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(3, 4\) \(dim 0 has size 2\)"):
        ts.ones(2, 3).expand(3, 4)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to fewer dims \(3,\)"):
        ts.ones(2, 3).expand(3)


def test_cat_stack_errors():
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\), \(2, 4\) differ outside dim 0"):
        ts.cat([ts.ones(2, 3), ts.ones(2, 4)])
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\), \(3,\) differ outside dim 0"):
        ts.cat([ts.ones(2, 3), ts.ones(3)])
    with pytest.raises(ValueError, match=r"cat: dim 2 out of range for a tensor of shape \(2, 3\)"):
        ts.cat([ts.ones(2, 3), ts.ones(2, 3)], dim=2)
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence of tensors"):
        ts.cat([])
    with pytest.raises(ValueError, match="cat: zero-dimensional tensors cannot be concatenated"):
        ts.cat([ts.tensor(1.0), ts.tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: all tensors need the same shape, got \(2, 3\), \(2, 4\)"):
        ts.stack([ts.ones(2, 3), ts.ones(2, 4)])
    with pytest.raises(ValueError, match=r"stack: dim 3 out of range for tensors of shape \(2, 3\)"):
        ts.stack([ts.ones(2, 3)], dim=3)
    with pytest.raises(TypeError, match="stack: expected tensors, got list"):
        ts.stack([ts.ones(2), [1.0, 2.0]])


def test_split_chunk_pad_errors():
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] do not add up to 2 \(dim 1 of shape \(2, 2\)\)|"
                                         r"split: sizes \[1, 2\] do not add up to 2"):
        ts.ones(2, 2).split([1, 2], dim=1)
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        ts.ones(2, 2).split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be positive, got 0"):
        ts.ones(2, 2).chunk(0)
    with pytest.raises(ValueError, match=r"pad: padding \(1,\) needs pairs for at most 2 dims \(shape \(2, 3\)\)"):
        ts.pad(ts.ones(2, 3), (1,))
    with pytest.raises(ValueError, match=r"pad: negative padding .* \(shape \(2, 3\)\)"):
        ts.pad(ts.ones(2, 3), (-1, 0))
    with pytest.raises(ValueError, match="pad: only mode='constant' is supported, got 'reflect'"):
        ts.pad(ts.ones(2, 3), (1, 1), mode="reflect")


@pytest.mark.parametrize("requires_grad", [False, True])
def test_index_errors_name_the_shape(requires_grad):
    x = ts.ones(2, 3, requires_grad=requires_grad)
    with pytest.raises(IndexError, match=r"getitem: .*\(2, 3\).*index 5 is out of bounds for axis 0 with size 2"):
        x[5]
    with pytest.raises(IndexError, match=r"getitem: .*\(2, 3\).*too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"getitem: .*\(2, 3\).*index 3 is out of bounds"):
        x[[0, 3]]


def test_stack_gradcheck_and_aliases():
    a, b = ts.tensor(data(2, 3), requires_grad=True), ts.tensor(data(2, 3, seed=1), requires_grad=True)
    assert ts.gradcheck(lambda x, y: ts.stack([x, y, x], dim=1), (a, b))
    np.testing.assert_array_equal(ts.concatenate([a, b], 1).numpy(), ts.cat([a, b], 1).numpy())
    np.testing.assert_array_equal(ts.broadcast_to(a[:1], (4, 2, 3)).numpy(), np.broadcast_to(a.numpy()[:1], (4, 2, 3)))
    np.testing.assert_array_equal(ts.flatten(a).numpy(), a.numpy().reshape(-1))
    np.testing.assert_array_equal(ts.view(a, 3, 2).numpy(), a.numpy().reshape(3, 2))
    assert ts.squeeze(ts.unsqueeze(a, 0)).shape == (2, 3)
    assert ts.transpose(a, 0, 1).shape == (3, 2) and ts.permute(a, (1, 0)).shape == (3, 2)
    assert ts.expand(a[:, :1], 2, 3).shape == (2, 3) and ts.reshape(a, (6,)).shape == (6,)
    assert [t.shape for t in ts.split(a, 1)] == [(1, 3), (1, 3)] and len(ts.chunk(a, 3, 1)) == 3
