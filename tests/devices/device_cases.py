"""Every op and layer, run on a device and on the CPU from the same inputs: the
outputs and all gradients must agree.

The test files parametrize over ``CASES`` (``test_device_ops.py`` on the
CPU-only "strict" device, ``test_gpu.py`` on "cuda"). Without pytest this file
runs the same checks itself, for machines that have a GPU but no test tools:

    python tests/devices/device_cases.py cuda          # prints one line per case, exits 1 on a failure

Each case is (name, inputs, fn): ``inputs`` make host arrays from a seeded
generator; floating inputs require grad; ``fn`` maps tensors to a tensor or a
tuple of tensors. The op cases (``OP_CASES``) are keyed by the names of
tinyseq's op registry, and every registered op must have one. Module cases build the layer on the CPU under a fixed seed
and move a copy to the device, so both start from the same weights; their
parameter gradients are compared too. Layers that are not written yet are
skipped (``hasattr`` checks), so the list grows as the library does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tinyseq as ts  # noqa: E402

F = ts.nn.functional
TOLERANCE = {"float64": (1e-10, 1e-10), "float32": (1e-5, 1e-5)}  # (rtol, atol relative to the array's scale)


# -- inputs ------------------------------------------------------------------------------------
def R(*shape):
    """Standard normal floats."""
    return lambda rng, dtype: rng.standard_normal(shape).astype(dtype)


def P(*shape):
    """Positive floats in [0.5, 2)."""
    return lambda rng, dtype: rng.uniform(0.5, 2.0, shape).astype(dtype)


def I(low, high, *shape):  # noqa: E743
    """Integers in [low, high) (int64), no gradient."""
    return lambda rng, dtype: rng.integers(low, high, shape).astype(np.int64)


def B(*shape):
    """Booleans, no gradient."""
    return lambda rng, dtype: rng.random(shape) < 0.5


class Case:
    def __init__(self, name, inputs, fn, module=None, ops=()):
        self.name, self.inputs, self.fn, self.module, self.ops = name, inputs, fn, module, ops

    def __repr__(self):
        return self.name


# -- ops: one entry per registered op (tinyseq/ops/registry.py), keyed by its name ----------------
# A key may name several ops that one case runs together. A registered op that no key names
# becomes a case that fails (see op_cases), so a new op cannot go without one.
OP_CASES = {
    "add": ([R(3, 4), R(4)], lambda a, b: (a + b, a.add(b, alpha=-2.0))),
    "sub": ([R(3, 4), R(4)], lambda a, b: (2.5 - a, a.sub(b, alpha=0.5))),
    "mul": ([R(2, 3, 4), R(3, 1)], lambda a, b: a * b),
    ("div", "true_divide"): ([R(3, 4), P(3, 4)], lambda a, b: (a / b, a.true_divide(b), 1.0 / b)),
    ("pow", "square"): ([P(3, 4), R(3, 4)], lambda a, b: (a**3 + a**0.5, a**b, 2.0**b, a.square())),
    ("neg", "abs"): ([R(3, 4)], lambda a: -ts.abs(a)),
    ("exp", "log", "sqrt"): ([P(3, 4)], lambda a: ts.exp(a) + ts.log(a) + ts.sqrt(a)),
    ("tanh", "sigmoid", "relu"): (
        [R(3, 4)], lambda a: (ts.tanh(a) * ts.sigmoid(a) + ts.relu(a), ts.sigmoid(a * 300.0))
    ),
    "log1p": ([P(3, 4)], lambda p: ts.log1p(p)),
    ("sin", "cos"): ([R(3, 4)], lambda a: (ts.sin(a), a.cos())),
    "erf": ([R(3, 4)], lambda a: ts.erf(a * 2.0)),
    "sign": ([R(3, 4)], lambda a: (ts.sign(a), a * 1.0)),
    ("clamp", "clip"): ([R(3, 4)], lambda a: (ts.clamp(a, -0.5, 0.7), a.clip(min=0.1))),
    ("maximum", "minimum"): ([R(3, 4), R(4)], lambda a, b: ts.maximum(a, b) - ts.minimum(a, b)),
    ("type_as", "type", "contiguous", "t"): ([R(3, 4), R(4, 3)], lambda a, b: (a.type_as(b), a.type(a.dtype) * 2.0,
                                                                          a.t().contiguous(), b.t())),
    ("is_floating_point", "is_complex", "is_contiguous", "element_size", "nelement", "ndimension"): (
        [R(3, 4)], lambda a: a * float(a.is_floating_point() + a.is_complex() + a.is_contiguous() + a.element_size()
                                       + a.nelement() + a.ndimension())),
    ("new_full", "new_zeros", "new_ones", "new_empty", "new_tensor"): (
        [R(2, 3)], lambda a: (a.new_full((2, 3), 1.5) + a.new_zeros(2, 3) + a.new_ones(2, 3) + a,
                              a.new_zeros(a.new_empty(2, 3).shape), a.new_tensor([1.0, 2.0]))),
    ("masked_fill_", "clamp_", "uniform_", "normal_"): (
        [R(3, 4), B(3, 4)], lambda a, m: (a.detach().clone().masked_fill_(m, 0.25).clamp_(-0.5, 0.5),
                                          a.detach().clone().uniform_(-1, 1, generator=ts.Generator().manual_seed(0)),
                                          a.detach().clone().normal_(0, 2, generator=ts.Generator().manual_seed(1)))),
    "where": ([B(3, 4), R(3, 4), R(4)], lambda m, a, b: (ts.where(m, a, b), a.where(m, b))),
    "masked_fill": ([R(3, 4), B(3, 4)], lambda a, m: ts.masked_fill(a, m, 0.25)),
    ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or"): (
        [R(3, 4), R(3, 4)],
        lambda a, b: (((a > b) | (a <= 0)) & (a != b), a == b, a.lt(b), ts.ge(a, b), ts.logical_or(a > 0, b > 0)),
    ),
    ("isnan", "isfinite", "isclose", "allclose"): (
        [R(3, 4)],
        lambda a: (ts.isnan(a), a.isfinite(), ts.isclose(a, a * 1.0000001), a.new_tensor(ts.allclose(a, a + 1e-9))),
    ),
    ("remainder", "floor_divide"): ([R(3, 4), P(3, 4)], lambda a, b: (a % b, a // b, ts.remainder(a, 0.7))),
    ("clone", "to"): ([R(3, 4)], lambda a: (a.clone() * 2.0, a.to(ts.float32).to(a.dtype))),
    "sum": ([R(2, 3, 4)], lambda a: (a.sum(), a.sum(dim=1), a.sum(dim=(0, 2), keepdim=True))),
    ("mean", "var", "std"): ([R(3, 5)], lambda a: (a.mean(dim=0), ts.var(a, dim=1), ts.std(a))),
    ("max", "min"): ([R(3, 5)], lambda a: (*ts.max(a, dim=1), *ts.min(a, dim=0, keepdim=True))),
    ("amax", "amin"): ([R(3, 5)], lambda a: (ts.amax(a, dim=1), ts.amin(a), ts.max(a))),
    ("argmax", "argmin"): ([R(3, 5)], lambda a: (ts.argmax(a, dim=1), ts.argmin(a), a * 1.0)),
    ("any", "all"): ([R(3, 5)], lambda a: ((a > 0).any(), ts.all(a > -1, dim=1), a * 1.0)),
    "logsumexp": ([R(3, 5)], lambda a: ts.logsumexp(a * 50.0, dim=1)),
    ("softmax", "log_softmax"): ([R(3, 5)], lambda a: (ts.softmax(a, dim=1), ts.log_softmax(a, dim=0))),
    "norm": ([R(2, 3, 4)], lambda a: (a.norm(dim=2), ts.norm(a, p=1))),
    "prod": ([R(3, 4)], lambda a: (a.prod(), a.prod(1), ts.prod(a, 0, keepdim=True))),
    ("reshape", "permute"): ([R(2, 3, 4)], lambda a: a.reshape(4, 6).T.reshape(-1, 2).permute(1, 0)),
    ("view", "view_as", "reshape_as", "flatten"): (
        [R(2, 3, 4)], lambda a: (a.view(6, 4) * 1.0, a.reshape_as(a.view(4, 6)), a.view_as(a.view(24)), a.flatten(1))
    ),
    ("transpose", "swapaxes", "squeeze", "unsqueeze"): (
        [R(2, 1, 4)], lambda a: (a.transpose(0, 2).squeeze(2).unsqueeze(0), a.swapaxes(0, 1))
    ),
    ("expand", "expand_as", "broadcast_to"): (
        [R(3, 1), R(2, 3, 4)], lambda a, b: (a.expand(2, 3, 4) * 1.5, a.expand_as(b) * b, ts.broadcast_to(a, (3, 2)))
    ),
    "getitem": (
        [R(5, 3), I(0, 5, 7), B(5, 3)],
        lambda a, i, m: (a[1:3, ::2], a[-1], a[None, ..., 2], a[i] * 2.0, a[[0, 0, 3], 1:], a[m] * 3.0),
    ),
    ("cat", "concatenate", "stack"): (
        [R(2, 3), R(4, 3)], lambda a, b: (ts.cat([a, b], dim=0), ts.concatenate([b, a]), ts.stack([a, b[:2]], dim=1))
    ),
    ("split", "chunk"): ([R(6, 4)], lambda a: (*ts.split(a, [1, 5]), *ts.chunk(a, 2, dim=1))),
    "pad": ([R(2, 3)], lambda a: ts.pad(a, (1, 2, 0, 1), value=0.5)),
    "matmul": (
        [R(3, 4), R(4, 5), R(2, 1, 3, 4), R(3, 4, 2), R(4)],
        lambda a, b, c, d, v: (a @ b, ts.matmul(c, b), c @ d, v @ b, a @ v),
    ),
    ("mm", "bmm"): ([R(3, 4), R(2, 3, 4)], lambda a, c: (a.mm(a.T), c.bmm(c.transpose(1, 2)))),
    ("tril", "triu"): ([R(2, 3, 4)], lambda a: (ts.tril(a), a.triu(1))),
    ("flip", "narrow", "unbind"): ([R(3, 4)], lambda a: (a.flip(0), a.narrow(1, 1, 2), *a.unbind(1))),
    ("gather", "index_select"): (
        [R(3, 5), I(0, 5, 3, 4)], lambda a, i: (a.gather(1, i), a.index_select(1, i[0]))
    ),
    ("sort", "argsort", "topk"): (
        [R(3, 5)], lambda a: (*a.sort(1, descending=True), *a.topk(2, dim=0), ts.argsort(a, dim=0))
    ),
    ("cumsum", "repeat"): ([R(3, 4)], lambda a: (a.cumsum(1), a.repeat(2, 1, 2))),
    "einsum": (
        [R(2, 3, 4), R(2, 4, 5), R(3, 3)],
        lambda a, b, s: (ts.einsum("bij,bjk->bik", a, b), ts.einsum("ii->i", s), ts.einsum("...ij->...ji", a)),
    ),
    # one-hot weights: the draw is certain, so both devices' generators give it
    "multinomial": (
        [I(0, 5, 3)], lambda i: (ts.multinomial(F.one_hot(i, 5) * 1.0, 1), (F.one_hot(i, 5) * 2.0).multinomial(3, True))
    ),
}  # fmt: skip


def _no_case(name):
    def missing(*inputs):
        raise AssertionError(f"op {name!r} is registered (tinyseq/ops/registry.py) but has no device case: "
                             "add one to OP_CASES in tests/device_cases.py")  # fmt: skip

    return missing


def op_cases():
    """A case per OP_CASES entry, and a failing one for each registered op that no entry names."""
    cases, covered = [], set()
    for key, (inputs, fn) in OP_CASES.items():
        names = (key,) if isinstance(key, str) else key
        covered.update(names)
        cases.append(Case("_".join(names), inputs, fn, ops=names))
    for name in ts.ops.registry.OPS:
        if name not in covered:
            cases.append(Case(name, [], _no_case(name), ops=(name,)))
    return cases


def _functional_cases():
    """Cases of ts.nn.functional (losses, activations, layers' functions) and of promotion."""
    c = Case
    return [
        c("cross_entropy_fused", [R(6, 5), I(0, 5, 6)], lambda x, t: F.cross_entropy(x, t)),
        c("cross_entropy_sum", [R(6, 5), I(0, 5, 6)], lambda x, t: F.cross_entropy(x, t, reduction="sum")),
        c(
            "cross_entropy_none_ignore",
            [R(6, 5), I(-1, 5, 6)],
            lambda x, t: F.cross_entropy(x, t, ignore_index=-1, reduction="none"),
        ),
        c("cross_entropy_3d", [R(2, 5, 3), I(0, 5, 2, 3)], lambda x, t: F.cross_entropy(x, t)),
        c("cross_entropy_composed", [R(6, 5), I(0, 5, 6)], lambda x, t: F.cross_entropy(x, t, fused=False)),
        c("nll_loss", [R(6, 5), I(0, 5, 6)], lambda x, t: F.nll_loss(ts.log_softmax(x, dim=1), t)),
        c("mse_l1", [R(3, 4), R(3, 4)], lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b, reduction="sum")),
        c("bce_logits", [R(3, 4), P(3, 4)], lambda a, b: F.binary_cross_entropy_with_logits(a, b * 0.5)),
        c("embedding", [R(6, 3), I(0, 6, 2, 4)], lambda w, i: F.embedding(i, w, padding_idx=1)),
        c("one_hot", [I(0, 4, 5)], lambda i: F.one_hot(i, 4)),
        c("activations", [R(3, 4)], lambda a: (F.softplus(a * 30.0), F.elu(a), F.leaky_relu(a), F.logsigmoid(a),
                                                F.silu(a), F.gelu(a), F.gelu(a, approximate="tanh"))),
        c("huber_smooth_l1", [R(3, 4), R(3, 4)], lambda a, b: F.huber_loss(a, b, delta=0.5) + F.smooth_l1_loss(a, b)),
        c("layer_norm", [R(3, 4), R(4), R(4)], lambda x, w, b: (F.layer_norm(x, (4,), w, b),
                                                                F.layer_norm(x, 4, w, b, fused=False))),
        c("conv1d", [R(2, 3, 9), R(4, 3, 3)], lambda x, w: F.conv1d(x, w, padding="same")),
        c("pooling", [R(2, 3, 7, 9)], lambda x: (*F.max_pool2d(x, 3, 2, 1, return_indices=True),
                                                 F.avg_pool2d(x, 2, ceil_mode=True), F.max_pool1d(x[0], 2))),
        c("promote_float32_float64", [R(3, 4)], lambda a: (a.float() * a.double(), ts.cat([a.float(), a.double()]))),
        c("sdpa_causal", [R(2, 4, 3), R(2, 5, 3), R(2, 5, 2)],
          lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
    ]  # fmt: skip


# -- layers -----------------------------------------------------------------------------------
def _module_cases():
    nn = ts.nn
    c = Case
    out = []

    def add(cls_name, args, inputs, call=lambda m, *xs: m(*xs), kwargs=None, name=None):
        if hasattr(nn, cls_name):
            out.append(c(name or cls_name, inputs, call, module=(cls_name, args, kwargs or {})))

    first = lambda m, x: m(x)[0]  # noqa: E731
    add("Linear", (4, 3), [R(2, 5, 4)])
    add("Embedding", (7, 3), [I(0, 7, 2, 4)])
    add("Conv2d", (2, 3, 3), [R(2, 2, 6, 5)], kwargs={"padding": 1})
    for cell, hidden in (("RNNCell", R(3, 5)), ("GRUCell", R(3, 5))):
        add(cell, (4, 5), [R(3, 4), hidden])
    add("LSTMCell", (4, 5), [R(3, 4), R(3, 5), R(3, 5)], call=lambda m, x, h, c: m(x, (h, c)))
    for layer in ("RNN", "GRU", "LSTM"):
        add(layer, (4, 5), [R(6, 3, 4)], call=first)
        add(
            layer,
            (4, 5),
            [R(3, 6, 4)],
            call=first,
            name=f"{layer}_2layer_bidir_batch_first",
            kwargs={"num_layers": 2, "bidirectional": True, "batch_first": True},
        )
        add(
            layer,
            (4, 5),
            [R(6, 3, 4)],
            name=f"{layer}_lengths_bidir",
            kwargs={"bidirectional": True},
            call=lambda m, x: _flatten(m(x, lengths=[6, 4, 1])),
        )
        add(layer, (4, 5), [R(6, 3, 4)], call=first, name=f"{layer}_composed", kwargs={"fused": False})
    add("RNN", (4, 5), [R(6, 3, 4)], call=first, name="RNN_relu", kwargs={"nonlinearity": "relu"})
    add(
        "LSTM",
        (4, 5),
        [R(6, 3, 4)],
        name="LSTM_proj_h0",
        kwargs={"proj_size": 3},
        call=lambda m, x: _flatten(m(x, (x[:1, :, :3] * 0.5, ts.cat([x[1:2], x[2:3, :, :1]], dim=2)))),
    )
    add("LSTM", (4, 5), [R(6, 3, 4)], name="LSTM_packed_sequence", kwargs={"bidirectional": True},
        call=lambda m, x: _flatten(_packed(m, x, [4, 6, 1])))  # fmt: skip
    add("Conv1d", (3, 4, 3), [R(2, 3, 9)], kwargs={"padding": "same"})
    for layer in ("ConvRNN", "ConvGRU", "ConvLSTM"):
        add(layer, (2, 3, 3), [R(4, 2, 2, 5, 5)], call=lambda m, x: _flatten(m(x)))
        add(f"{layer}Cell", (2, 3, 3), [R(2, 2, 5, 5)], call=lambda m, x: _flatten(m(x)))
    add("BatchNorm1d", (3,), [R(4, 3, 5)], call=lambda m, x: (m(x), m.running_var * 1.0))
    add("BatchNorm2d", (2,), [R(3, 2, 4, 4)], kwargs={"momentum": None})
    add("MultiheadAttention", (6, 2), [R(4, 3, 6), R(5, 3, 6)], kwargs={"add_bias_kv": True},
        call=lambda m, q, k: _flatten(m(q, k, k, key_padding_mask=_mask(q, [[0, 0, 0, 0, 1]] * 3),
                                        attn_mask=_mask(q, np.triu(np.ones((4, 5)), 2)))))  # fmt: skip
    add("TransformerEncoderLayer", (6, 2, 8), [R(3, 5, 6)], kwargs={"dropout": 0.0, "batch_first": True},
        call=lambda m, x: m(x, src_key_padding_mask=_mask(x, [[0] * 4 + [1]] * 3)))  # fmt: skip
    add("TransformerDecoderLayer", (6, 2, 8), [R(4, 2, 6), R(5, 2, 6)],
        kwargs={"dropout": 0.0, "norm_first": True, "activation": "gelu"},
        call=lambda m, t, mem: m(t, mem, tgt_mask=_mask(t, np.triu(np.ones((4, 4)), 1))))  # fmt: skip
    return out


def _mask(like, rows):
    """A boolean mask tensor on ``like``'s device (True = not attended)."""
    return ts.tensor(np.asarray(rows, dtype=bool), device=like.device)


def _packed(layer, x, lengths):
    """A layer fed a PackedSequence of x (T, B, *) -> (the output unpacked, its state)."""
    rnn = ts.nn.utils.rnn
    out, state = layer(rnn.pack_padded_sequence(x, lengths, enforce_sorted=False))
    return rnn.pad_packed_sequence(out)[0], state


def _flatten(out):
    """(output, h) or (output, (h, c)) -> a flat tuple of tensors."""
    if not isinstance(out, (tuple, list)):
        return (out,)
    flat = []
    for o in out:
        flat.extend(_flatten(o))
    return tuple(flat)


CASES = op_cases() + _functional_cases() + _module_cases()


# -- running ----------------------------------------------------------------------------------
def _run(case, host, device, dtype):
    """Forward + backward on ``device``: (outputs, input grads, parameter grads) as host arrays."""
    module = None
    if case.module is not None:
        cls_name, args, kwargs = case.module
        ts.manual_seed(1234)
        module = getattr(ts.nn, cls_name)(*args, **kwargs).to(dtype).to(device)
    xs = [ts.tensor(h, device=device, requires_grad=h.dtype.kind == "f") for h in host]
    ts.manual_seed(99)
    out = case.fn(module, *xs) if module is not None else case.fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        assert o.device == ts.get_backend(device).name, f"{case.name}: output on {o.device}, expected {device}"
    rng = np.random.default_rng(7)
    loss = None
    for o in outs:
        if o.requires_grad:
            w = ts.tensor(rng.standard_normal(o.shape).astype(dtype), device=device)
            term = (o * w).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    grads = [None if x.grad is None else x.grad.numpy() for x in xs]
    params = {} if module is None else {k: p.grad.numpy() for k, p in module.named_parameters() if p.grad is not None}
    return [o.numpy() for o in outs], grads, params


def _close(what, got, want, dtype):
    rtol, atol = TOLERANCE[np.dtype(dtype).name]
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} on the device, {want.shape} on the CPU"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} on the device, {want.dtype} on the CPU"
    if want.dtype.kind not in "fc":
        assert np.array_equal(got, want), f"{what}: values differ"
        return
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol * scale, equal_nan=True)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} elements differ beyond rtol={rtol}, atol={atol}*{scale:.3g}; "
            f"first at {i}: device {got[i]!r}, cpu {want[i]!r}"
        )


def check(case, device, dtype="float64", seed=0):
    """Run ``case`` on ``device`` and on the CPU; raise AssertionError on any difference."""
    rng = np.random.default_rng(seed)
    host = [make(rng, np.dtype(dtype)) for make in case.inputs]
    want = _run(case, host, "cpu", dtype)
    got = _run(case, host, device, dtype)
    for k, (g, w) in enumerate(zip(got[0], want[0])):
        _close(f"{case.name} output {k}", g, w, dtype)
    for k, (g, w) in enumerate(zip(got[1], want[1])):
        assert (g is None) == (w is None), f"{case.name}: input {k} has a gradient on one device only"
        if g is not None:
            _close(f"{case.name} grad of input {k}", g, w, dtype)
    assert got[2].keys() == want[2].keys(), f"{case.name}: parameters with gradients differ"
    for k in want[2]:
        _close(f"{case.name} grad of {k}", got[2][k], want[2][k], dtype)


def main(argv) -> int:
    device = argv[1] if len(argv) > 1 else "strict"
    dtypes = argv[2].split(",") if len(argv) > 2 else ["float64", "float32"]
    failures = 0
    for dtype in dtypes:
        for case in CASES:
            t0 = time.perf_counter()
            try:
                check(case, device, dtype)
                status = "ok"
            except Exception as e:  # report every case, then fail once
                failures += 1
                status = f"FAIL {type(e).__name__}: {e}"
            ms = (time.perf_counter() - t0) * 1e3
            print(f"{device:8s} {dtype:8s} {case.name:40s} {ms:8.1f} ms  {status}", flush=True)
    total = len(CASES) * len(dtypes)
    print(f"{total - failures} of {total} device cases agree with the CPU on {device}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
