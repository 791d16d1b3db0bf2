"""Method forms and PyTorch's other Tensor methods: every public ts function that
torch.Tensor has as a method is a method here too, and behaves like torch's."""

import inspect

import numpy as np
import pytest

import tinyseq as ts


def test_every_function_torch_has_as_a_method_is_a_method():
    torch = pytest.importorskip("torch")
    names = [
        n for n in dir(ts)
        if not n.startswith("_") and callable(getattr(ts, n))
        and not inspect.isclass(getattr(ts, n)) and not inspect.ismodule(getattr(ts, n))
    ]  # fmt: skip
    missing = [n for n in names if hasattr(torch.Tensor, n) and not hasattr(ts.Tensor, n)]
    assert not missing, f"methods missing on ts.Tensor: {missing}"


def test_arithmetic_methods_with_alpha_match_torch():
    torch = pytest.importorskip("torch")
    a, b = np.arange(6.0).reshape(2, 3), np.linspace(-1, 1, 3)
    x, y, tx, ty = ts.tensor(a), ts.tensor(b), torch.tensor(a), torch.tensor(b)
    pairs = [
        (x.add(y, alpha=2), tx.add(ty, alpha=2)), (x.sub(y, alpha=0.5), tx.sub(ty, alpha=0.5)),
        (x.mul(y), tx.mul(ty)), (x.div(y + 2), tx.div(ty + 2)), (x.true_divide(3), tx.true_divide(3)),
        (ts.add(x, 1, alpha=3), torch.add(tx, 1, alpha=3)), (x.sub(2, alpha=2), tx.sub(2, alpha=2)),
        (x.where(x > 2, y), tx.where(tx > 2, ty)), (x.broadcast_to((2, 2, 3)), tx.broadcast_to((2, 2, 3))),
        (x.swapaxes(0, 1), tx.swapaxes(0, 1)), (x.reshape_as(x.T), tx.reshape_as(tx.T)),
    ]  # fmt: skip
    for ours, ref in pairs:
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-15)


def test_add_with_alpha_gradchecks():
    x = ts.randn(2, 3, dtype=ts.float64, requires_grad=True)
    y = ts.randn(3, dtype=ts.float64, requires_grad=True)
    assert ts.gradcheck(lambda a, b: a.add(b, alpha=-1.5) * a.sub(b, alpha=2), (x, y))


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_modes_match_torch(mode):
    torch = pytest.importorskip("torch")
    a, b = [-7, 7, -6, 5, 0, -1], [2, -2, 3, 5, 3, 4]
    ours = ts.tensor(a).div(ts.tensor(b), rounding_mode=mode)
    ref = torch.tensor(a).div(torch.tensor(b), rounding_mode=mode)
    assert ours.dtype == ts.int64 and ours.tolist() == ref.tolist()
    fa, fb = [-7.5, 7.5, 2.0], [2.0, -2.0, 0.5]
    ours = ts.div(ts.tensor(fa), ts.tensor(fb), rounding_mode=mode)
    assert ours.tolist() == torch.div(torch.tensor(fa), torch.tensor(fb), rounding_mode=mode).tolist()
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        ts.div(ts.ones(1), 2, rounding_mode="round")


def test_type_and_its_strings_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("float32", "float64", "int64", "int32", "uint8", "bool", "float16"):
        assert ts.ones(2, dtype=getattr(ts, name)).type() == torch.ones(2, dtype=getattr(torch, name)).type()
    x = ts.ones(2)
    assert x.type(ts.float64).dtype == ts.float64 and x.type("torch.LongTensor").dtype == ts.int64
    assert x.type("torch.DoubleTensor").dtype == ts.float64
    with pytest.raises(TypeError, match="type: unknown tensor type 'torch.FancyTensor'"):
        x.type("torch.FancyTensor")


def test_new_factories_take_this_tensors_dtype_and_device():
    torch = pytest.importorskip("torch")
    x, tx = ts.ones(2, dtype=ts.float64, device="strict"), torch.ones(2, dtype=torch.float64)
    for ours, ref in [
        (x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((3,)), tx.new_ones((3,))),
        (x.new_full((2,), 7.0), tx.new_full((2,), 7.0)), (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
        (x.new_zeros(2, dtype=ts.int64), tx.new_zeros(2, dtype=torch.int64)),
    ]:  # fmt: skip
        assert ours.shape == tuple(ref.shape) and ours.dtype.name == str(ref.dtype).replace("torch.", "")
        assert ours.device == "strict:0" and ours.tolist() == ref.tolist()
    assert x.new_empty(4).shape == (4,) and x.new_ones(2, requires_grad=True).requires_grad


def test_small_queries_and_conversions():
    x = ts.ones(2, 3)
    assert x.is_floating_point() and not ts.tensor([1]).is_floating_point() and not x.is_complex()
    assert x.is_contiguous() and not x.T.is_contiguous() and x.element_size() == 4
    assert x.nelement() == 6 and x.ndimension() == 2 and not x.is_cuda
    assert x.half().dtype == ts.float16 and x.short().dtype == ts.int16 and x.byte().dtype == ts.uint8


def test_in_place_fills():
    torch = pytest.importorskip("torch")
    x, tx = ts.zeros(2, 3), torch.zeros(2, 3)
    mask = [[True, False, True], [False, False, True]]
    x.masked_fill_(ts.tensor(mask), 2.5)
    tx.masked_fill_(torch.tensor(mask), 2.5)
    assert x.tolist() == tx.tolist()
    x.masked_fill_(ts.tensor([True, False, False]), -1.0)  # the mask broadcasts
    assert x.tolist()[1] == [-1.0, 0.0, 2.5]
    ts.manual_seed(0)
    u = ts.empty(2000).uniform_(-0.1, 0.1)
    assert -0.1 <= float(u.min()) and float(u.max()) < 0.1 and abs(float(u.mean())) < 0.01
    n = ts.empty(4000, dtype=ts.float64).normal_(2.0, 0.5)
    assert abs(float(n.mean()) - 2.0) < 0.05 and abs(float(n.std()) - 0.5) < 0.05
    w = ts.nn.Linear(3, 2).weight
    w.data.uniform_(-0.5, 0.5)  # the usual initialisation through .data
    assert float(w.abs().max()) <= 0.5
    with pytest.raises(RuntimeError, match="uniform_: a leaf tensor that requires grad"):
        w.uniform_(0, 1)


def test_as_tensor_shares_where_it_can_and_is_tensor():
    a = np.arange(3.0)
    t = ts.as_tensor(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 1.0, 2.0] and t.dtype == ts.float64  # shares the array, keeps its dtype
    x = ts.ones(2)
    assert ts.as_tensor(x) is x and ts.as_tensor(x, dtype=ts.float64).dtype == ts.float64
    assert ts.as_tensor([1, 2]).dtype == ts.int64 and ts.as_tensor(a, device="strict").device == "strict:0"
    assert ts.is_tensor(x) and not ts.is_tensor(a)


def test_random_draws_follow_a_generator():
    def draws():
        g = ts.Generator().manual_seed(11)
        return [ts.randn(3, generator=g).tolist(), ts.rand(2, generator=g).tolist(),
                ts.randint(0, 9, (4,), generator=g).tolist(), ts.randperm(5, generator=g).tolist(),
                ts.empty(3).uniform_(-1, 1, generator=g).tolist(),
                ts.empty(2).normal_(generator=g).tolist()]  # fmt: skip

    first = draws()
    ts.randn(4)  # the global generator does not disturb a Generator's stream
    assert draws() == first
    assert sorted(first[3]) == list(range(5)) and all(0 <= v < 9 for v in first[2])
    g = ts.Generator()
    assert g.manual_seed(3) is g and g.initial_seed() == 3 and g.device == "cpu"
    assert isinstance(g.seed(), int)
    on_device = ts.randn(2, device="strict", generator=ts.Generator().manual_seed(1))
    assert on_device.device == "strict:0"
    with pytest.raises(RuntimeError, match="Generator: only cpu generators exist"):
        ts.Generator(device="strict")
