"""MultiheadAttention and scaled_dot_product_attention against PyTorch in float64 on copied
weights: outputs, attention weights and every gradient, over all mask kinds and combinations,
batch_first, need_weights, average_attn_weights, bias/add_bias_kv/add_zero_attn, kdim/vdim,
unbatched input, train vs eval; parameter names; errors."""

import itertools

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn

L, S, N, E, H = 4, 5, 3, 8, 2
# PyTorch notes that mixing bool and float masks is deprecated; both libraries still add them.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")


def _torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)




def pair(torch, **kw):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, H, **kw).double()
    ours = nn.MultiheadAttention(E, H, **kw).double()
    sd = ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
    with torch.no_grad():  # biases start at zero in both: make them count
        for name, p in ref.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape, dtype=torch.float64) * 0.3)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    return ours, ref


def masks(kind_attn, kind_kpm, lq=L, lk=S, n=N, heads=H, batched=True):
    """(attn_mask, key_padding_mask) as numpy arrays; no query row is fully masked."""
    attn = None
    if kind_attn is not None:
        allowed = np.ones((lq, lk), dtype=bool)
        allowed[np.triu_indices(lq, 1, lk)] = False  # a causal pattern (the diagonal stays allowed)
        allowed[1, 0] = False
        if kind_attn.startswith("3d"):
            rng = np.random.default_rng(4)
            allowed = np.broadcast_to(allowed, ((n if batched else 1) * heads, lq, lk)).copy()
            allowed[..., 1:] &= rng.random(allowed[..., 1:].shape) > 0.3
            allowed[..., :, 0] = True
        noise = rand(*allowed.shape, seed=5) * 0.5
        attn = ~allowed if kind_attn.endswith("bool") else np.where(allowed, noise, -np.inf)
    kpm = None
    if kind_kpm is not None:
        pad = np.zeros((n, lk), dtype=bool)
        pad[0, -1] = True  # samples 0 and 1 have padding at the end
        pad[1:2, -2:] = True
        kpm = pad if kind_kpm == "bool" else np.where(pad, -np.inf, rand(n, lk, seed=6) * 0.2)
        if not batched:
            kpm = kpm[0]
    return attn, kpm


def run_both(torch, ours, ref, inputs, kwargs, grad_inputs=True):
    """Forward both with the same inputs/kwargs (numpy arrays become tensors); compare the
    outputs, the weights and the gradients of inputs and parameters."""
    tx = [ts.tensor(a, requires_grad=grad_inputs) for a in inputs]
    px = [torch.tensor(a, requires_grad=grad_inputs) for a in inputs]
    tk = {k: ts.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    pk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out, w = ours(*tx, **tk)
    rout, rw = ref(*px, **pk)
    np.testing.assert_allclose(out.numpy(), rout.detach().numpy(), rtol=1e-11, atol=1e-12)
    assert (w is None) == (rw is None)
    loss = (out * ts.tensor(rand(*out.shape, seed=7))).sum()
    rloss = (rout * torch.tensor(rand(*out.shape, seed=7))).sum()
    if w is not None:
        np.testing.assert_allclose(w.numpy(), rw.detach().numpy(), rtol=1e-11, atol=1e-12)
        loss = loss + (w * ts.tensor(rand(*w.shape, seed=8))).sum()
        rloss = rloss + (rw * torch.tensor(rand(*w.shape, seed=8))).sum()
    loss.backward()
    rloss.backward()
    if grad_inputs:
        for a, b in zip(tx, px):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-11)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-10, atol=1e-11, err_msg=name)
    return out


MASK_KINDS = list(itertools.product([None, "2d_bool", "2d_float", "3d_bool", "3d_float"], [None, "bool", "float"]))
LAYOUTS = list(itertools.product([False, True], [(True, True), (True, False), (False, True)]))
# Every mask combination with each layout in turn, and every layout with every mask kind at once.
MHA_CASES = [(a, k, *LAYOUTS[i % len(LAYOUTS)]) for i, (a, k) in enumerate(MASK_KINDS)]
MHA_CASES += [("3d_bool", "float", *layout) for layout in LAYOUTS] + [("2d_float", "bool", *lay) for lay in LAYOUTS]


@pytest.mark.parametrize("attn_kind,kpm_kind,batch_first,weights", MHA_CASES)
def test_mha_masks_layouts_and_weights_match_torch(attn_kind, kpm_kind, batch_first, weights):
    need_weights, average = weights
    _mha_case(attn_kind, kpm_kind, batch_first, need_weights, average)


def _mha_case(attn_kind, kpm_kind, batch_first, need_weights, average):
    torch = _torch()
    ours, ref = pair(torch, batch_first=batch_first)
    shape_q, shape_k = ((N, L, E), (N, S, E)) if batch_first else ((L, N, E), (S, N, E))
    q, k, v = rand(*shape_q, seed=1), rand(*shape_k, seed=2), rand(*shape_k, seed=3)
    attn, kpm = masks(attn_kind, kpm_kind)
    kwargs = dict(attn_mask=attn, key_padding_mask=kpm, need_weights=need_weights, average_attn_weights=average)
    run_both(torch, ours, ref, (q, k, v), kwargs)


ARCH = [dict(bias=False), dict(add_bias_kv=True), dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True),
        dict(kdim=5, vdim=3), dict(kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True, bias=False)]  # fmt: skip


@pytest.mark.parametrize("kw", ARCH, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("attn_kind,kpm_kind", [(None, None), ("2d_bool", "bool"), ("3d_float", "float")])
def test_mha_architectures_match_torch(kw, attn_kind, kpm_kind):
    torch = _torch()
    ours, ref = pair(torch, **kw)
    q = rand(L, N, E, seed=1)
    k, v = rand(S, N, kw.get("kdim", E), seed=2), rand(S, N, kw.get("vdim", E), seed=3)
    attn, kpm = masks(attn_kind, kpm_kind)
    run_both(torch, ours, ref, (q, k, v), dict(attn_mask=attn, key_padding_mask=kpm))


def test_mha_parameter_names_with_different_kdim_vdim():
    m = nn.MultiheadAttention(E, H, kdim=5, vdim=3, add_bias_kv=True)
    assert list(m.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                    "bias_v", "out_proj.weight", "out_proj.bias"]  # fmt: skip
    assert m.in_proj_weight is None
    assert m.k_proj_weight.shape == (E, 5)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("attn_kind,kpm_kind", [(None, None), ("2d_float", "bool"), ("3d_bool", None)])
def test_mha_unbatched_matches_torch(need_weights, attn_kind, kpm_kind):
    torch = _torch()
    ours, ref = pair(torch)
    attn, kpm = masks(attn_kind, kpm_kind, n=1, batched=False)
    kwargs = dict(attn_mask=attn, key_padding_mask=kpm, need_weights=need_weights)
    out = run_both(torch, ours, ref, (rand(L, E, seed=1), rand(S, E, seed=2), rand(S, E, seed=3)), kwargs)
    assert out.shape == (L, E)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_kpm", [False, True])
def test_mha_self_attention_is_causal_hint(need_weights, with_kpm):
    torch = _torch()
    ours, ref = pair(torch, batch_first=True)
    x = rand(N, L, E, seed=1)
    causal = nn.Transformer.generate_square_subsequent_mask(L).numpy().astype(np.float64)
    _, kpm = masks(None, "bool" if with_kpm else None, lk=L)
    kwargs = dict(attn_mask=causal, key_padding_mask=kpm, need_weights=need_weights, is_causal=True)
    run_both(torch, ours, ref, (x, x, x), kwargs)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        ours(ts.tensor(x), ts.tensor(x), ts.tensor(x), is_causal=True)


def test_mha_dropout_train_and_eval():
    torch = _torch()
    ours, ref = pair(torch, dropout=0.3)
    ours.eval()
    ref.eval()
    q, k = rand(L, N, E, seed=1), rand(S, N, E, seed=2)
    run_both(torch, ours, ref, (q, k, k), dict(attn_mask=masks("2d_bool", None)[0]))
    ours.train()
    ts.manual_seed(0)
    out, w = ours(ts.tensor(q), ts.tensor(k), ts.tensor(k), average_attn_weights=False)
    dropped = w.numpy() == 0
    assert dropped.any() and not dropped.all()
    np.testing.assert_allclose(w.numpy()[~dropped].sum() > 0, True)
    # dropout=0 in training is the same function as evaluation
    ours0, ref0 = pair(torch, dropout=0.0)
    train_out = run_both(torch, ours0, ref0, (q, k, k), {})
    ours0.eval()
    np.testing.assert_array_equal(ours0(ts.tensor(q), ts.tensor(k), ts.tensor(k))[0].numpy(), train_out.numpy())


def test_mha_gradcheck():
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True).double()
    q = ts.tensor(rand(3, 2, 4, seed=1), requires_grad=True)
    kv = ts.tensor(rand(2, 2, 4, seed=2), requires_grad=True)
    kpm = ts.tensor(np.array([[False, True], [False, False]]))
    assert ts.gradcheck(lambda q, kv: m(q, kv, kv, key_padding_mask=kpm)[0], (q, kv))


def test_mha_errors():
    with pytest.raises(ValueError, match="embed_dim 6 must be divisible by num_heads 4"):
        nn.MultiheadAttention(6, 4)
    m = nn.MultiheadAttention(E, H)
    x = ts.randn(L, N, E)
    with pytest.raises(ts.autograd.OpError, match=r"2-D attn_mask should be \(4, 4\), got \(4, 5\)"):
        m(x, x, x, attn_mask=ts.zeros(L, 5))
    with pytest.raises(ts.autograd.OpError, match=r"key_padding_mask should be \(3, 4\), got \(3, 2\)"):
        m(x, x, x, key_padding_mask=ts.zeros(N, 2, dtype=ts.bool))
    with pytest.raises(TypeError, match="only bool and floating-point masks are supported, got int64"):
        m(x, x, x, attn_mask=ts.zeros(L, L, dtype=ts.int64))
    with pytest.raises(ts.autograd.OpError, match="query has embedding size 5, expected 8"):
        m(ts.randn(L, N, 5), x, x)
    with pytest.raises(ts.autograd.OpError, match="query must be 2-D"):
        m(ts.randn(E), x, x)


# -- scaled_dot_product_attention -------------------------------------------------------------
@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("scale", [None, 0.7])
def test_sdpa_matches_torch(mask_kind, scale):
    torch = _torch()
    q, k, v = rand(2, 3, L, 6, seed=1), rand(2, 3, S, 6, seed=2), rand(2, 3, S, 4, seed=3)
    mask = None
    if mask_kind == "bool":
        mask = ~masks("2d_bool", None)[0]  # True = may attend
    elif mask_kind == "float":
        mask = masks("3d_float", None, n=2, heads=3)[0].reshape(2, 3, L, S)
    tq, tk, tv = (ts.tensor(a, requires_grad=True) for a in (q, k, v))
    pq, pk, pv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    causal = mask_kind == "causal"
    out = nn.functional.scaled_dot_product_attention(tq, tk, tv, None if mask is None else ts.tensor(mask),
                                                     is_causal=causal, scale=scale)  # fmt: skip
    ref = torch.nn.functional.scaled_dot_product_attention(pq, pk, pv, None if mask is None else torch.tensor(mask),
                                                           is_causal=causal, scale=scale)  # fmt: skip
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rand(*out.shape, seed=9)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in ((tq, pq), (tk, pk), (tv, pv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_errors():
    q = ts.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="either attn_mask or is_causal"):
        nn.functional.scaled_dot_product_attention(q, q, q, ts.ones(3, 3, dtype=ts.bool), is_causal=True)
    with pytest.raises(ts.autograd.OpError, match="disagree"):
        nn.functional.scaled_dot_product_attention(q, ts.randn(2, 3, 5), q)
