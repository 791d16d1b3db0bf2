"""Attention: F.scaled_dot_product_attention, F.multi_head_attention_forward and
nn.MultiheadAttention, composed from primitive ops (matmul, softmax, linear).

Masks follow PyTorch. In multi-head attention a boolean mask marks positions
that may NOT be attended (True = masked out); in scaled_dot_product_attention
a boolean mask marks positions that MAY be attended. A float mask is added to
the attention scores in both (use -inf to mask out).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from .._tensor import Tensor
from ..autograd import OpError
from ..factories import empty, zeros
from . import init
from .dropout import dropout
from .linear import Linear, linear
from .module import Module, Parameter


def _canonical_mask(mask, name, dtype):
    """A float mask to add to the scores (-inf where a boolean mask says so), or None."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected a tensor or None, got {type(mask).__name__}")
    if mask.dtype == np.bool_:
        zero = zeros(mask.shape, dtype=dtype, device=mask.device)
        return ops.masked_fill(zero, mask, -math.inf)
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: only bool and floating-point masks are supported, got {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


def _causal_allowed(lq, lk, device):
    """(lq, lk) bool mask, True on and below the diagonal (top-left aligned)."""
    return ops.tril(Tensor(np.ones((lq, lk), dtype=bool), device=device))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):  # fmt: skip
    """softmax(q k^T * scale + mask) v.

    query: (*, L, E); key: (*, S, E); value: (*, S, Ev) -> (*, L, Ev); leading dims broadcast.
    attn_mask: bool (True = may attend) or float (added), broadcastable to (*, L, S).
    is_causal: attend only to positions at or before one's own (no attn_mask with it).
    scale: defaults to 1/sqrt(E). dropout_p: dropout on the attention weights (always applied
    when given, as PyTorch; pass 0.0 in evaluation)."""
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise OpError(f"scaled_dot_product_attention: needs (*, L, E) inputs, got {query.shape}, {key.shape}, "
                      f"{value.shape}")  # fmt: skip
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise OpError(f"scaled_dot_product_attention: query {query.shape}, key {key.shape} and value {value.shape} "
                      "disagree (query and key need one E, key and value one S)")  # fmt: skip
    lq, lk = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: give either attn_mask or is_causal, not both")
        attn_mask = _causal_allowed(lq, lk, query.device)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query * scale, key.transpose(-2, -1))
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            attn_mask = _canonical_mask(~attn_mask, "attn_mask", query.dtype)
        scores = scores + _canonical_mask(attn_mask, "attn_mask", query.dtype)
    weights = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return ops.matmul(weights, value)


def _check_mha_inputs(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched (3-D); raises for shapes that do not fit together."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise OpError(f"multi_head_attention: for batched (3-D) query, key and value must be 3-D, got "
                          f"{key.shape} and {value.shape}")  # fmt: skip
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise OpError(f"multi_head_attention: for batched input key_padding_mask must be 2-D (N, S), got "
                          f"{key_padding_mask.shape}")  # fmt: skip
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise OpError(f"multi_head_attention: attn_mask must be 2-D or 3-D, got {attn_mask.shape}")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise OpError(f"multi_head_attention: for unbatched (2-D) query, key and value must be 2-D, got "
                          f"{key.shape} and {value.shape}")  # fmt: skip
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise OpError(f"multi_head_attention: for unbatched input key_padding_mask must be 1-D (S,), got "
                          f"{key_padding_mask.shape}")  # fmt: skip
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise OpError(f"multi_head_attention: attn_mask must be 2-D or 3-D, got {attn_mask.shape}")
            if attn_mask.ndim == 3 and attn_mask.shape[0] != num_heads:
                raise OpError(f"multi_head_attention: a 3-D attn_mask for unbatched input must be "
                              f"({num_heads}, L, S), got {attn_mask.shape}")  # fmt: skip
        return False
    raise OpError(f"multi_head_attention: query must be 2-D (L, E) or 3-D (L, N, E), got {query.shape}")


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):  # fmt: skip
    """PyTorch's functional multi-head attention, sequence-first.

    query: (L, N, E) or (L, E); key: (S, N, Ek); value: (S, N, Ev).
    key_padding_mask: (N, S) (True or -inf: that key is padding). attn_mask: (L, S) or (N * num_heads, L, S).
    Returns (output (L, N, E), weights (N, L, S) averaged over heads, or (N, num_heads, L, S), or None)."""
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k and static_v are not supported")
    batched = _check_mha_inputs(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise OpError(f"multi_head_attention: query has embedding size {embed_dim}, expected {embed_dim_to_check}")
    if embed_dim % num_heads:
        raise OpError(f"multi_head_attention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise OpError(f"multi_head_attention: key {key.shape} and value {value.shape} differ in (S, N)")
    elif key.shape != value.shape:
        raise OpError(f"multi_head_attention: key shape {key.shape} does not match value shape {value.shape}")
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
    attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "multi_head_attention: need attn_mask if specifying the is_causal hint (e.g. "
            "Transformer.generate_square_subsequent_mask(L))"
        )
    if is_causal and key_padding_mask is None and not need_weights:
        # As PyTorch: the hint replaces the mask by the causal one.
        attn_mask = _canonical_mask(~_causal_allowed(tgt_len, src_len, query.device), "attn_mask", query.dtype)

    # -- projections ------------------------------------------------------------------
    e = embed_dim
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight[:e], in_proj_weight[e : 2 * e], in_proj_weight[2 * e :]
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias[:e], in_proj_bias[e : 2 * e], in_proj_bias[2 * e :]

    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if attn_mask.shape != (tgt_len, src_len):
                raise OpError(f"multi_head_attention: 2-D attn_mask should be {(tgt_len, src_len)}, got "
                              f"{attn_mask.shape}")  # fmt: skip
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.shape != (bsz * num_heads, tgt_len, src_len):
            raise OpError(f"multi_head_attention: 3-D attn_mask should be {(bsz * num_heads, tgt_len, src_len)}, "
                          f"got {attn_mask.shape}")  # fmt: skip
    if (bias_k is None) != (bias_v is None):
        raise OpError("multi_head_attention: bias_k and bias_v must be given together")
    if bias_k is not None:
        k = ops.cat([k, bias_k.expand(1, bsz, e)])
        v = ops.cat([v, bias_v.expand(1, bsz, e)])
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else ops.pad(key_padding_mask, (0, 1))

    # (L, N, E) -> (N * heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        pad = zeros((bsz * num_heads, 1, head_dim), dtype=q.dtype, device=q.device)
        k, v = ops.cat([k, pad], dim=1), ops.cat([v, pad], dim=1)
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else ops.pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape != (bsz, src_len):
            raise OpError(f"multi_head_attention: key_padding_mask should be {(bsz, src_len)}, got "
                          f"{key_padding_mask.shape}")  # fmt: skip
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    scores = ops.matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
    if attn_mask is not None:
        scores = attn_mask + scores
    weights = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    out = ops.matmul(weights, v)  # (N * heads, L, head_dim)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for MultiheadAttention's output projection: a plain Linear."""


class MultiheadAttention(Module):
    """Multi-head attention: ``softmax(q k^T / sqrt(head_dim) + mask) v`` per head, heads
    concatenated and projected by ``out_proj``.

    query: (L, N, E) ((N, L, E) with batch_first, or (L, E) unbatched); key: (S, N, kdim);
    value: (S, N, vdim). Parameters as PyTorch: ``in_proj_weight`` (3E, E) and ``in_proj_bias``
    (3E,), or ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight`` when kdim or vdim
    differ from E; ``out_proj`` (a Linear E -> E); ``bias_k`` / ``bias_v`` (1, 1, E) with
    add_bias_kv. forward -> (output like query, weights (N, L, S) or None)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):  # fmt: skip
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be > 0, got {embed_dim} and "
                             f"{num_heads}")  # fmt: skip
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        kw = dict(dtype=dtype, device=device)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **kw))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **kw))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty((3 * embed_dim,), **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **kw))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **kw))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):  # fmt: skip
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        return out, weights
