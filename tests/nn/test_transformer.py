"""Transformer layers and stacks against PyTorch in float64 on copied weights: outputs and
every gradient over mask combinations (float/bool, causal, key padding), batch_first,
norm_first, activations, bias; dropout train/eval; the subsequent mask; errors."""

import itertools

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn

D, NH, FF = 8, 2, 12
S, T, N = 5, 4, 3
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched", "ignore:enable_nested_tensor",
                                        "ignore:The PyTorch API of nested tensors")


def _torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def load_from(ours, ref, torch):
    with torch.no_grad():  # zero-initialised biases and unit norms would hide mistakes
        for p in ref.parameters():
            if p.ndim == 1:
                p.add_(torch.randn(p.shape, dtype=torch.float64) * 0.2)
    sd = ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})


def seq(length, batch_first, seed):
    return rand(N, length, D, seed=seed) if batch_first else rand(length, N, D, seed=seed)


def causal(length, kind):
    m = np.triu(np.ones((length, length), dtype=bool), 1)
    return m if kind == "bool" else np.where(m, -np.inf, 0.0)


def padding(length, kind):
    pad = np.zeros((N, length), dtype=bool)
    pad[0, -1] = True
    pad[2, -2:] = True
    return pad if kind == "bool" else np.where(pad, -np.inf, 0.0)


def compare(torch, ours, ref, inputs, kwargs):
    tx = [ts.tensor(a, requires_grad=True) for a in inputs]
    px = [torch.tensor(a, requires_grad=True) for a in inputs]
    conv = {k: (ts.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    pconv = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    out, expected = ours(*tx, **conv), ref(*px, **pconv)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-11)
    w = rand(*out.shape, seed=99)
    (out * ts.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    for a, b in zip(tx, px):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-10)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)
    return out


LAYER_OPTIONS = [dict(), dict(norm_first=True), dict(batch_first=True), dict(activation="gelu", bias=False),
                 dict(batch_first=True, norm_first=True, layer_norm_eps=1e-3)]  # fmt: skip


def _opt_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items()) or "default"


# Every mask combination, each with one of the layer options in turn (every option several times).
ENCODER_CASES = [(LAYER_OPTIONS[i % len(LAYER_OPTIONS)], mask, kpm)
                 for i, (mask, kpm) in enumerate(itertools.product([None, "bool", "float"], repeat=2))]  # fmt: skip
ENCODER_CASES += [(kw, "float", "bool") for kw in LAYER_OPTIONS]


@pytest.mark.parametrize("kw,mask,kpm", ENCODER_CASES, ids=lambda v: _opt_id(v) if isinstance(v, dict) else str(v))
def test_encoder_layer_matches_torch(kw, mask, kpm):
    torch = _torch()
    ref = torch.nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, **kw).double()
    ours = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, **kw).double()
    load_from(ours, ref, torch)
    src = seq(S, kw.get("batch_first", False), 1)
    kwargs = dict(src_mask=None if mask is None else causal(S, mask),
                  src_key_padding_mask=None if kpm is None else padding(S, kpm))  # fmt: skip
    compare(torch, ours, ref, [src], kwargs)


# Every combination of the four masks present or absent, then float and mixed kinds.
DECODER_MASKS = list(itertools.product([None, "bool"], repeat=4))
DECODER_MASKS += [("float", None, None, None), ("float", "float", "float", "float"), ("bool", "float", "float", "bool")]
DECODER_CASES = [(LAYER_OPTIONS[i % len(LAYER_OPTIONS)], *m) for i, m in enumerate(DECODER_MASKS)]
DECODER_CASES += [(kw, "bool", "float", "float", "bool") for kw in LAYER_OPTIONS[1:]]


@pytest.mark.parametrize("kw,tgt_mask,tgt_kpm,mem_mask,mem_kpm", DECODER_CASES,
                         ids=lambda v: _opt_id(v) if isinstance(v, dict) else str(v))  # fmt: skip
def test_decoder_layer_matches_torch(kw, tgt_mask, tgt_kpm, mem_mask, mem_kpm):
    torch = _torch()
    ref = torch.nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0, **kw).double()
    ours = nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0, **kw).double()
    load_from(ours, ref, torch)
    bf = kw.get("batch_first", False)
    tgt, memory = seq(T, bf, 1), seq(S, bf, 2)
    mem = None
    if mem_mask is not None:
        allowed = np.ones((T, S), dtype=bool)
        allowed[0, 2:] = allowed[3, 1] = False
        mem = ~allowed if mem_mask == "bool" else np.where(allowed, 0.1, -np.inf)
    kwargs = dict(tgt_mask=None if tgt_mask is None else causal(T, tgt_mask), memory_mask=mem,
                  tgt_key_padding_mask=None if tgt_kpm is None else padding(T, tgt_kpm),
                  memory_key_padding_mask=None if mem_kpm is None else padding(S, mem_kpm))  # fmt: skip
    compare(torch, ours, ref, [tgt, memory], kwargs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("with_masks", [False, True])
def test_transformer_matches_torch(batch_first, norm_first, with_masks):
    torch = _torch()
    kw = dict(d_model=D, nhead=NH, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF, dropout=0.0,
              batch_first=batch_first, norm_first=norm_first)  # fmt: skip
    torch.manual_seed(0)
    ref = torch.nn.Transformer(**kw).double()
    ours = nn.Transformer(**kw).double()
    load_from(ours, ref, torch)
    src, tgt = seq(S, batch_first, 1), seq(T, batch_first, 2)
    kwargs = {}
    if with_masks:
        kwargs = dict(src_key_padding_mask=padding(S, "bool"), memory_key_padding_mask=padding(S, "bool"),
                      tgt_mask=nn.Transformer.generate_square_subsequent_mask(T, dtype=ts.float64).numpy(),
                      tgt_key_padding_mask=padding(T, "bool"), tgt_is_causal=True)  # fmt: skip
    compare(torch, ours, ref, [src, tgt], kwargs)


@pytest.mark.parametrize("is_causal", [None, True, False])
def test_encoder_stack_with_causal_mask_and_final_norm(is_causal):
    torch = _torch()
    ref_layer = torch.nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, batch_first=True)
    ref = torch.nn.TransformerEncoder(ref_layer, 3, norm=torch.nn.LayerNorm(D)).double()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, batch_first=True), 3,
                                 norm=nn.LayerNorm(D)).double()  # fmt: skip
    load_from(ours, ref, torch)
    mask = nn.Transformer.generate_square_subsequent_mask(S, dtype=ts.float64).numpy()
    compare(torch, ours, ref, [seq(S, True, 3)], dict(mask=mask, is_causal=is_causal))
    # the copies are independent: each layer has its own weights
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight


@pytest.mark.parametrize("padding", ["right", "inside"])
@pytest.mark.parametrize("enable_nested_tensor", [True, False])
def test_encoder_inference_without_grad_zeroes_padding_as_torch(padding, enable_nested_tensor):
    """PyTorch's inference path (eval, no grad, right-padded batch) runs on nested tensors and
    returns zeros at padded positions (then the final norm); otherwise they are computed."""
    torch = _torch()
    kw = dict(dropout=0.0, batch_first=True)
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, NH, FF, **kw), 2, norm=torch.nn.LayerNorm(D),
                                      enable_nested_tensor=enable_nested_tensor).double().eval()  # fmt: skip
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, FF, **kw), 2, norm=nn.LayerNorm(D),
                                 enable_nested_tensor=enable_nested_tensor).double().eval()  # fmt: skip
    load_from(ours, ref, torch)
    padding_mask = np.zeros((N, S), dtype=bool)
    padding_mask[0, -2:] = True
    padding_mask[2, 1 if padding == "inside" else -1] = True
    x = seq(S, True, 7)
    with torch.no_grad():
        expected = ref(torch.tensor(x), src_key_padding_mask=torch.tensor(padding_mask)).numpy()
    with ts.no_grad():
        out = ours(ts.tensor(x), src_key_padding_mask=ts.tensor(padding_mask)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-11)
    nested = enable_nested_tensor and padding == "right"
    bias = ours.norm.bias.detach().numpy()
    assert np.allclose(out[0, -1], bias) == nested
    with_grad = ours(ts.tensor(x), src_key_padding_mask=ts.tensor(padding_mask)).detach().numpy()
    assert not np.allclose(with_grad[0, -1], bias)  # with grad enabled, padded positions are computed


def test_decoder_stack_matches_torch():
    torch = _torch()
    ref = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0), 2).double()
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0), 2).double()
    load_from(ours, ref, torch)
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=ts.float64).numpy()
    compare(torch, ours, ref, [seq(T, False, 1), seq(S, False, 2)], dict(tgt_mask=mask))


def test_callable_activation_and_unbatched_input():
    torch = _torch()
    ref = torch.nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, activation=torch.nn.functional.silu).double()
    ours = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, activation=nn.functional.silu).double()
    load_from(ours, ref, torch)
    out = compare(torch, ours, ref, [rand(S, D, seed=4)], dict(src_mask=causal(S, "bool")))
    assert out.shape == (S, D)


def test_dropout_eval_matches_and_train_differs():
    torch = _torch()
    ref = torch.nn.TransformerEncoderLayer(D, NH, FF, dropout=0.3).double()
    ours = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.3).double()
    load_from(ours, ref, torch)
    ours.eval()
    ref.eval()
    src = seq(S, False, 5)
    evaluated = compare(torch, ours, ref, [src], {})
    ours.train()
    ts.manual_seed(0)
    trained = ours(ts.tensor(src))
    assert not np.allclose(trained.numpy(), evaluated.numpy())


def test_generate_square_subsequent_mask_matches_torch():
    torch = _torch()
    m = nn.Transformer.generate_square_subsequent_mask(5)
    assert m.dtype == ts.float32
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())


def test_parameter_names_match_torch():
    torch = _torch()
    ours = nn.Transformer(D, NH, 1, 2, FF, bias=False)
    ref = torch.nn.Transformer(D, NH, 1, 2, FF, bias=False)
    assert list(ours.state_dict()) == list(ref.state_dict())


def test_transformer_errors():
    m = nn.Transformer(D, NH, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(ts.randn(S, 2, D), ts.randn(T, 3, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        m(ts.randn(S, 2, D), ts.randn(T, 2, D + 1))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(D, NH, activation="tanh")
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        m.encoder(ts.randn(S, 2, D), is_causal=True)
