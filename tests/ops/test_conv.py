"""conv2d and conv1d: values and gradients vs PyTorch, gradcheck, chunking, errors; the Conv1d and
Conv2d layers."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.ops.extra import conv as conv_ops

F = ts.nn.functional

# (N, C, H, W), (O, C/groups, kh, kw), keyword arguments
CASES = [
    ((2, 3, 7, 8), (4, 3, 3, 3), {}),
    ((2, 3, 7, 8), (4, 3, 3, 3), {"padding": 1}),
    ((2, 3, 7, 8), (4, 3, 3, 3), {"padding": "valid"}),
    ((2, 3, 7, 8), (4, 3, 3, 3), {"padding": "same"}),
    ((2, 3, 7, 8), (4, 3, 4, 4), {"padding": "same"}),  # even kernel: extra pad bottom/right
    ((2, 3, 7, 8), (4, 3, 2, 5), {"padding": "same", "dilation": (2, 1)}),
    ((2, 3, 9, 8), (5, 3, 3, 2), {"stride": 2, "padding": (1, 2)}),  # rectangular kernel
    ((2, 3, 9, 10), (5, 3, 3, 3), {"stride": (3, 2), "padding": 2, "dilation": 2}),
    ((1, 2, 6, 6), (3, 2, 1, 1), {}),
    ((1, 2, 6, 6), (3, 2, 1, 1), {"stride": 2}),
    ((3, 4, 6, 5), (6, 2, 3, 3), {"padding": 1, "groups": 2}),
    ((2, 4, 5, 5), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise
    ((2, 1, 5, 5), (2, 1, 5, 5), {}),  # kernel as large as the input
    ((2, 2, 5, 6), (3, 2, 2, 3), {"stride": (1, 2), "dilation": (1, 2)}),
]


def _ids(case):
    return f"{case[0]}-{case[1]}-{case[2]}"


@pytest.mark.parametrize("x_shape,w_shape,kw", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv2d_matches_torch(x_shape, w_shape, kw, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    tx, tw = ts.tensor(x, requires_grad=True), ts.tensor(w, requires_grad=True)
    tb = ts.tensor(b, requires_grad=True) if bias else None
    out = F.conv2d(tx, tw, tb, **kw)
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    pb = torch.tensor(b, requires_grad=True) if bias else None
    ref = torch.nn.functional.conv2d(px, pw, pb, **kw)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(ts.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tw.grad.numpy(), pw.grad.numpy(), rtol=1e-12, atol=1e-11)
    if bias:
        np.testing.assert_allclose(tb.grad.numpy(), pb.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [{"padding": 1}, {"padding": "same"}, {"stride": 2, "padding": (0, 1), "dilation": (1, 2)}],
)
def test_conv2d_gradcheck(kw):
    rng = np.random.default_rng(1)
    x = ts.tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    w = ts.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
    b = ts.tensor(rng.standard_normal(3), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))


def test_conv2d_gradcheck_groups_and_broadcast_bias():
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.standard_normal((2, 4, 4, 5)), requires_grad=True)
    w = ts.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    scale = ts.tensor(rng.standard_normal((1, 2, 1, 1)), requires_grad=True)
    assert ts.gradcheck(lambda x, w, s: F.conv2d(x, w, padding=1, groups=2) * s, (x, w, scale))


def test_only_needed_gradients_are_computed():
    rng = np.random.default_rng(3)
    x = ts.tensor(rng.standard_normal((2, 2, 5, 5)))  # data: no gradient wanted
    w = ts.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad is not None
    x2 = ts.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    w2 = ts.tensor(rng.standard_normal((3, 2, 3, 3)))  # frozen weight
    F.conv2d(x2, w2, padding=1).sum().backward()
    assert w2.grad is None and x2.grad is not None


@pytest.mark.parametrize("device", ["cpu", "strict"])
@pytest.mark.parametrize("per_chunk", [1, 2, 3])
@pytest.mark.parametrize("kw", [{"padding": 1}, {"stride": 2, "padding": 1}, {"padding": (0, 2), "dilation": 2}])
def test_chunked_equals_unchunked(monkeypatch, kw, per_chunk, device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 6, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)

    def run():
        tx, tw, tb = (ts.tensor(a, requires_grad=True, device=device) for a in (x, w, b))
        out = F.conv2d(tx, tw, tb, **kw)
        (out * out).sum().backward()
        return out.numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()

    whole = run()
    # 5 images in chunks of per_chunk: the last chunk is partial for 2 and 3
    monkeypatch.setattr(conv_ops._ConvGeometry, "chunk", lambda self, itemsize, budget: per_chunk)
    for a, c in zip(whole, run()):
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-12)


def test_chunk_size_follows_the_byte_budget(monkeypatch):
    geo = conv_ops._ConvGeometry((10, 3, 6, 7), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    per_image = geo.K * geo.L * 8
    assert geo.chunk(8, 3 * per_image) == 3
    assert geo.chunk(8, 1) == 1 and geo.chunk(8, 100 * per_image) == 10
    cpu, strict = ts.get_backend("cpu"), ts.get_backend("strict")
    assert conv_ops._budget(cpu) == conv_ops.CHUNK_BYTES
    assert conv_ops._budget(strict) == conv_ops.DEVICE_CHUNK_BYTES
    monkeypatch.setattr(strict, "conv_chunk_bytes", 12345, raising=False)
    assert conv_ops._budget(strict) == 12345


def test_unbatched_input():
    rng = np.random.default_rng(5)
    x, w = ts.tensor(rng.standard_normal((2, 5, 5))), ts.tensor(rng.standard_normal((3, 2, 3, 3)))
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (3, 5, 5)
    np.testing.assert_allclose(out.numpy(), F.conv2d(x.unsqueeze(0), w, padding=1).numpy()[0])


def test_float32_stays_float32():
    x, w = ts.randn(2, 3, 6, 6), ts.randn(4, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == ts.float32
    out.sum().backward()
    assert w.grad.dtype == ts.float32


def test_conv2d_errors():
    x, w = ts.randn(2, 3, 6, 6), ts.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: input \(2, 5, 6, 6\) has 5 channels but weight \(4, 3, 3, 3\)"):
        F.conv2d(ts.randn(2, 5, 6, 6), w)
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D .* or 4-D .* got shape \(6, 6\)"):
        F.conv2d(ts.randn(6, 6), w)
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D .* got \(4, 3, 3\)"):
        F.conv2d(x, ts.randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: input \(2, 3, 2, 2\) padded to \(2, 2\) is smaller than"):
        F.conv2d(ts.randn(2, 3, 2, 2), w)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' is not supported for strided .*\(2, 2\)"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"conv2d: padding must be 'same', 'valid'.* got 'full'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"conv2d: stride must be an int or a pair of ints >= 1, got 0"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int or a pair of ints >= 0, got -1"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(3,\) does not match weight \(4, 3, 3, 3\)"):
        F.conv2d(x, w, ts.randn(3))
    with pytest.raises(ValueError, match=r"conv2d: dtypes differ \(float64, float32\)"):
        F.conv2d(x.double(), w)
    with pytest.raises(ValueError, match=r"conv2d: groups=2 must divide input channels 3"):
        F.conv2d(x, ts.randn(4, 1, 3, 3), groups=2)


# -- the layer ----------------------------------------------------------------------------
LAYER_CASES = [  # (layer, constructor args, keyword arguments, input's spatial shape)
    ("Conv2d", (3, 4, 3), {}, (9, 8)),
    ("Conv2d", (3, 4, (2, 3)), {"stride": 2, "padding": (1, 0), "dilation": (1, 2), "bias": False}, (9, 8)),
    ("Conv2d", (3, 4, 4), {"padding": "same"}, (9, 8)),
    ("Conv2d", (4, 6, 3), {"padding": "valid", "groups": 2}, (9, 8)),
    ("Conv1d", (3, 4, 3), {}, (10,)),
    ("Conv1d", (3, 4, 2), {"stride": 2, "padding": 1, "dilation": 2, "bias": False}, (10,)),
    ("Conv1d", (3, 4, 4), {"padding": "same"}, (10,)),
    ("Conv1d", (4, 6, 3), {"padding": "valid", "groups": 2}, (10,)),
]


@pytest.mark.parametrize("layer,args,kw,spatial", LAYER_CASES)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv_layers_match_torch(layer, args, kw, spatial):
    torch = pytest.importorskip("torch")
    ours = getattr(ts.nn, layer)(*args, **kw).double()
    ref = getattr(torch.nn, layer)(*args, **kw).double()
    sd = ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    x = np.random.default_rng(6).standard_normal((2, args[0]) + spatial)
    tx, px = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(tx), ref(px)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12, atol=1e-11)
    assert repr(ours) == repr(ref)
    np.testing.assert_allclose(ours(tx[0]).numpy(), ref(px[0]).detach().numpy(), rtol=1e-12, atol=1e-12)  # unbatched


def test_conv2d_layer_init_statistics():
    ts.manual_seed(0)
    conv = ts.nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias both give 1/sqrt(fan_in)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.shape == (32, 16, 3, 3) and b.shape == (32,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_conv2d_layer_errors():
    conv = ts.nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 3-D \(C, H, W\) or 4-D .* input, got shape \(3, 5\)"):
        conv(ts.randn(3, 5))
    with pytest.raises(ValueError, match=r"Conv2d: expected a 3-D .* got shape \(1, 2, 3, 5, 5\)"):
        conv(ts.randn(1, 2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: input \(2, 5, 6, 6\) has 5 channels but weight \(4, 3, 3, 3\)"):
        conv(ts.randn(2, 5, 6, 6))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels 3 must be divisible by groups 2"):
        ts.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be 'zeros'.*'reflect'"):
        ts.nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided"):
        ts.nn.Conv2d(3, 4, 3, padding="same", stride=2)


def test_conv2d_random_configurations_match_torch():
    """Many random shapes/strides/paddings/dilations/groups, including 1-pixel outputs."""
    torch = pytest.importorskip("torch")
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
    @hypothesis.given(
        n=st.integers(1, 3), groups=st.sampled_from([1, 2]), cg=st.integers(1, 3), og=st.integers(1, 3),
        kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
        dh=st.integers(1, 2), dw=st.integers(1, 2), ph=st.integers(0, 2), pw=st.integers(0, 2),
        extra_h=st.integers(0, 5), extra_w=st.integers(0, 5), same=st.booleans(),
    )  # fmt: skip
    def check(n, groups, cg, og, kh, kw, sh, sw, dh, dw, ph, pw, extra_h, extra_w, same):
        if same:
            sh = sw = 1
        padding = "same" if same else (ph, pw)
        # smallest input the dilated kernel fits in, plus some
        h = max(1, dh * (kh - 1) + 1 - (0 if same else 2 * ph)) + extra_h
        w = max(1, dw * (kw - 1) + 1 - (0 if same else 2 * pw)) + extra_w
        rng = np.random.default_rng(n * 1000 + kh * 100 + kw)
        x = rng.standard_normal((n, cg * groups, h, w))
        wt = rng.standard_normal((og * groups, cg, kh, kw))
        b = rng.standard_normal(og * groups)
        kwargs = dict(stride=(sh, sw), padding=padding, dilation=(dh, dw), groups=groups)
        tx, tw, tb = (ts.tensor(a, requires_grad=True) for a in (x, wt, b))
        out = F.conv2d(tx, tw, tb, **kwargs)
        px, pw_, pb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
        ref = torch.nn.functional.conv2d(px, pw_, pb, **kwargs)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-11, atol=1e-11)
        g = rng.standard_normal(out.shape)
        out.backward(ts.tensor(g))
        ref.backward(torch.tensor(g))
        for ours, theirs in ((tx, px), (tw, pw_), (tb, pb)):
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-11, atol=1e-11)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about 'same' with even kernels
        check()


def test_conv2d_empty_batch():
    x = ts.zeros(0, 2, 5, 5, requires_grad=True)
    w = ts.randn(3, 2, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (0, 3, 5, 5)
    out.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5) and not w.grad.numpy().any()


# -- conv1d ------------------------------------------------------------------------------

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
