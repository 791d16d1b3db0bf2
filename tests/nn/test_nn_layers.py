"""Layers vs PyTorch on copied weights (float64): Linear, Embedding, Dropout, Flatten,
activations, LayerNorm (fused and composed); parameter names/shapes; errors."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn

F = nn.functional


def _torch():
    return pytest.importorskip("torch")


def _pair(ours_cls, torch_cls, *args, **kwargs):
    """Our layer and PyTorch's, same arguments, float64, our weights copied from theirs."""
    torch = _torch()
    ref = getattr(torch.nn, torch_cls)(*args, **kwargs).double()
    ours = ours_cls(*args, **kwargs).double()
    sd = ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    return ours, ref


def _compare(ours, ref, x, rtol=1e-12, atol=1e-12, grad_input=True):
    """Outputs, input gradients and parameter gradients for a random output weighting."""
    torch = _torch()
    tx = ts.tensor(x, requires_grad=grad_input)
    px = torch.tensor(x, requires_grad=grad_input)
    out, expected = ours(tx), ref(px)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(1).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    if grad_input:
        np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=rtol, atol=atol)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# -- Linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(bias, shape):
    ours, ref = _pair(nn.Linear, "Linear", 3, 4, bias=bias)
    _compare(ours, ref, rand(*shape))
    assert repr(ours) == repr(ref)


def test_linear_parameter_names_and_init():
    torch = _torch()
    ts.manual_seed(0)
    lin = nn.Linear(300, 200)
    assert {k: v.shape for k, v in lin.state_dict().items()} == {
        k: tuple(v.shape) for k, v in torch.nn.Linear(300, 200).state_dict().items()
    }
    w, b = lin.weight.numpy(), lin.bias.numpy()
    bound = 1 / np.sqrt(300)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.02)  # uniform(-a, a) has std a/sqrt(3)
    assert abs(np.mean(w)) < 0.1 * bound


def test_linear_seeded_and_dtype_device_arguments():
    ts.manual_seed(3)
    a = nn.Linear(4, 2).weight.numpy()
    ts.manual_seed(3)
    b = nn.Linear(4, 2).weight.numpy()
    np.testing.assert_array_equal(a, b)
    lin = nn.Linear(4, 2, dtype=ts.float64, device="strict")
    assert lin.weight.dtype == ts.float64 and lin.weight.device == "strict:0"
    ts.manual_seed(3)
    np.testing.assert_allclose(nn.Linear(4, 2, dtype=ts.float64, device="strict").weight.numpy(), a, rtol=1e-6)


def test_linear_errors():
    lin = nn.Linear(3, 4)
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not fit weight of shape \(4, 3\)"):
        lin(ts.randn(2, 5))
    with pytest.raises(ValueError, match=r"linear: dtypes differ|matmul: dtypes differ"):
        lin(ts.randn(2, 3, dtype=ts.float64))
    with pytest.raises(ValueError, match=r"Linear: in_features must be an int >= 0, got -1"):
        nn.Linear(-1, 3)


def test_linear_gradcheck():
    lin = nn.Linear(3, 2).double()
    x = ts.tensor(rand(4, 3), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: F.linear(x, w, b), (x, lin.weight, lin.bias))


# -- Embedding ------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    torch = _torch()
    ours, ref = _pair(nn.Embedding, "Embedding", 6, 3, padding_idx=padding_idx)
    ids = np.array([[0, 2, 2, 5], [5, 5, 1, 2]])  # repeated ids accumulate
    out, expected = ours(ts.tensor(ids)), ref(torch.tensor(ids))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy())
    w = rand(*out.shape)
    (out * ts.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)
    assert repr(ours) == repr(ref)


def test_embedding_init_and_padding_row():
    ts.manual_seed(0)
    emb = nn.Embedding(1000, 50, padding_idx=3)
    w = emb.weight.numpy()
    assert not w[3].any()
    assert np.std(w) == pytest.approx(1.0, rel=0.02) and abs(np.mean(w)) < 0.02


def test_embedding_repeated_ids_accumulate():
    emb = nn.Embedding(4, 2)
    emb(ts.tensor([1, 1, 1, 3])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_from_pretrained():
    table = ts.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(ts.tensor([1, 0])).numpy(), [[3, 4], [1, 2]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_errors():
    emb = nn.Embedding(4, 2)
    with pytest.raises(ValueError, match=r"embedding: index 4 is out of range for 4 embeddings"):
        emb(ts.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"embedding: indices must be an integer tensor, got float32"):
        emb(ts.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"Embedding: padding_idx 4 must be within num_embeddings \(4\)"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match=r"Embedding: max_norm and scale_grad_by_freq are not supported"):
        nn.Embedding(4, 2, max_norm=1.0)


# -- Dropout --------------------------------------------------------------------------------
def test_dropout_train_and_eval():
    drop = nn.Dropout(0.25)
    x = ts.ones(200, 100)
    y = drop(x).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    drop.eval()
    assert drop(x) is x
    assert repr(drop) == "Dropout(p=0.25, inplace=False)"


def test_dropout_gradient_uses_the_same_mask():
    drop = nn.Dropout(0.5)
    x = ts.ones(50, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


def test_dropout_seeded():
    ts.manual_seed(5)
    a = nn.Dropout()(ts.ones(20)).numpy()
    ts.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout()(ts.ones(20)).numpy(), a)


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"Dropout: probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# -- Flatten, activations, Identity -----------------------------------------------------------
@pytest.mark.parametrize(
    "name,args",
    [("Flatten", ()), ("Flatten", (0, 2)), ("Unflatten", (1, (2, 3))), ("Tanh", ()), ("Sigmoid", ()),
     ("ReLU", ()), ("Softmax", (1,)), ("LogSoftmax", (-1,)), ("Identity", ())],
)  # fmt: skip
def test_stateless_layers_match_torch(name, args):
    ours, ref = _pair(getattr(nn, name), name, *args)
    _compare(ours, ref, rand(2, 6, 4))
    assert repr(ours) == repr(ref)


def test_flatten_errors():
    with pytest.raises(ValueError, match=r"Flatten: dim 1 out of range for an input of shape \(4,\)"):
        nn.Flatten()(ts.randn(4))


# -- LayerNorm --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape,kwargs",
    [((5,), {}), ((3, 5), {}), ((5,), {"bias": False}), ((5,), {"elementwise_affine": False}), ((5,), {"eps": 0.1})],
)
def test_layer_norm_matches_torch(shape, kwargs):
    ours, ref = _pair(nn.LayerNorm, "LayerNorm", shape, **kwargs)
    with _torch().no_grad():  # non-trivial affine parameters
        for p in ref.parameters():
            p.copy_(_torch().tensor(rand(*p.shape, seed=4)))
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    _compare(ours, ref, rand(2, 4, 3, 5) * 3 + 1)
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("fused", [True, False])
def test_layer_norm_gradcheck(fused):
    x = ts.tensor(rand(3, 2, 4), requires_grad=True)
    w = ts.tensor(rand(2, 4, seed=1), requires_grad=True)
    b = ts.tensor(rand(2, 4, seed=2), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b, fused=fused), (x, w, b))
    assert ts.gradcheck(lambda x: F.layer_norm(x, 4, fused=fused), (x,))


def test_layer_norm_fused_equals_composed():
    x = ts.tensor(rand(4, 6) * 5, requires_grad=True)
    w, b = ts.tensor(rand(6, seed=1), requires_grad=True), ts.tensor(rand(6, seed=2), requires_grad=True)
    results = []
    for fused in (True, False):
        for t in (x, w, b):
            t.grad = None
        out = F.layer_norm(x, 6, w, b, fused=fused)
        (out * ts.tensor(rand(4, 6, seed=3))).sum().backward()
        results.append([out.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-13)


def test_layer_norm_float32_and_errors():
    ln = nn.LayerNorm(4)
    assert ln(ts.randn(2, 4)).dtype == ts.float32
    msg = r"layer_norm: normalized_shape \(4,\) does not match the last dims of input \(2, 5\)"
    with pytest.raises(ValueError, match=msg):
        ln(ts.randn(2, 5))
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(3,\) does not match normalized_shape \(4,\)"):
        F.layer_norm(ts.randn(2, 4), 4, ts.ones(3))
