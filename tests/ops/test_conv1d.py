"""conv1d: values and gradients vs PyTorch, gradcheck, errors; Conv1d init and errors (the
layer against PyTorch's is in test_conv.py, with Conv2d)."""

import numpy as np
import pytest

import tinyseq as ts

F = ts.nn.functional

# (N, C, L), (O, C/groups, k), keyword arguments
CASES = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 3, 9), (4, 3, 3), {"padding": 1}),
    ((2, 3, 9), (4, 3, 3), {"padding": "valid"}),
    ((2, 3, 9), (4, 3, 3), {"padding": "same"}),
    ((2, 3, 9), (4, 3, 4), {"padding": "same"}),  # even kernel: the extra pad goes at the end
    ((2, 3, 9), (4, 3, 2), {"padding": "same", "dilation": 3}),
    ((2, 3, 11), (5, 3, 3), {"stride": 2, "padding": 2, "dilation": 2}),
    ((1, 2, 6), (3, 2, 1), {"stride": (3,)}),  # 1-tuples, as PyTorch accepts
    ((3, 4, 7), (6, 2, 3), {"padding": 1, "groups": 2}),
    ((2, 4, 8), (4, 1, 3), {"padding": 1, "groups": 4}),  # depthwise
    ((2, 1, 5), (2, 1, 5), {}),  # kernel as long as the input
]


def _torch_pair(lib, shape_x, shape_w, bias, rng):
    x, w = rng.standard_normal(shape_x), rng.standard_normal(shape_w)
    b = rng.standard_normal(shape_w[0]) if bias else None
    return [lib.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]


@pytest.mark.parametrize("x_shape,w_shape,kw", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv1d_matches_torch(x_shape, w_shape, kw, bias, batched):
    torch = pytest.importorskip("torch")
    if not batched:
        x_shape = x_shape[1:]
    ours = _torch_pair(ts, x_shape, w_shape, bias, np.random.default_rng(0))
    ref = _torch_pair(torch, x_shape, w_shape, bias, np.random.default_rng(0))
    out, expected = F.conv1d(*ours, **kw), torch.nn.functional.conv1d(*ref, **kw)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(ts.tensor(g))
    expected.backward(torch.tensor(g))
    for a, b in zip(ours, ref):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("kw", [{"padding": 1}, {"padding": "same", "dilation": 2}, {"stride": 2, "groups": 2}])
def test_conv1d_gradcheck(kw):
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.standard_normal((2, 4, 7)), requires_grad=True)
    w = ts.tensor(rng.standard_normal((2, 4 // kw.get("groups", 1), 3)), requires_grad=True)
    b = ts.tensor(rng.standard_normal(2), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **kw), (x, w, b))


def test_conv1d_errors_name_the_op_and_its_shapes():
    x, w = ts.randn(2, 3, 8), ts.randn(4, 3, 3)
    cases = [
        (lambda: F.conv1d(ts.randn(2, 5, 8), w), r"conv1d: input \(2, 5, 8\) has 5 channels but weight \(4, 3, 3\)"),
        (lambda: F.conv1d(ts.randn(8), w), r"conv1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) input, got \S+ \(8,\)"),
        (lambda: F.conv1d(x, ts.randn(4, 3, 3, 3)), r"conv1d: weight must be 3-D .* got \(4, 3, 3, 3\)"),
        (lambda: F.conv1d(ts.randn(2, 3, 2), w), r"conv1d: input \(2, 3, 2\) padded to length 2 is shorter than"),
        (lambda: F.conv1d(x, w, padding="same", stride=2), r"conv1d: padding='same' is not supported .*\(stride 2\)"),
        (lambda: F.conv1d(x, w, padding="full"), r"conv1d: padding must be 'same', 'valid' or an int, got 'full'"),
        (lambda: F.conv1d(x, w, stride=0), r"conv1d: stride must be an int >= 1, got 0"),
        (lambda: F.conv1d(x, w, padding=(1, 1)), r"conv1d: padding must be an int >= 0, got \(1, 1\)"),
        (lambda: F.conv1d(x, w, ts.randn(3)), r"conv1d: bias of shape \(3,\) does not match weight \(4, 3, 3\)"),
        (lambda: F.conv1d(x.double(), w), r"conv1d: dtypes differ \(float64, float32\)"),
        (lambda: F.conv1d(x, w, groups=2), r"conv1d: groups=2 must divide input channels 3"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_conv1d_layer_init_and_errors():
    ts.manual_seed(0)
    conv = ts.nn.Conv1d(16, 32, 5)
    bound = 1 / np.sqrt(16 * 5)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.shape == (32, 16, 5) and b.shape == (32,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    with pytest.raises(ValueError, match=r"Conv1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) input, got \S+ \(16,\)"):
        conv(ts.randn(16))
    with pytest.raises(ValueError, match=r"Conv1d: kernel_size must be an int, got \(3, 3\)"):
        ts.nn.Conv1d(3, 4, (3, 3))
    with pytest.raises(ValueError, match=r"Conv1d: in_channels 3 must be divisible by groups 2"):
        ts.nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv1d: padding='same' is not supported for strided"):
        ts.nn.Conv1d(3, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"Conv1d: padding_mode must be 'zeros'.*'circular'"):
        ts.nn.Conv1d(3, 4, 3, padding_mode="circular")
