"""Differential fuzzing against PyTorch in float64: hypothesis draws shapes, values,
broadcasting, indices (negative, empty, boolean), reduction dims and recurrent layer
configurations, and every result and every gradient must match PyTorch's.

A few examples per test by default (the whole file takes seconds); ``--runslow`` runs
25 times as many (TINYSEQ_FUZZ_SCALE sets the factor). Each bug these found is fixed,
and has a plain regression test of its own elsewhere."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyseq as ts

torch = pytest.importorskip("torch")

SCALE = int(os.environ.get("TINYSEQ_FUZZ_SCALE", "1"))


def fuzz(examples):
    return settings(max_examples=examples * SCALE, deadline=None, suppress_health_check=list(HealthCheck))


def _values(shape, lo=-3.0, hi=3.0):
    # magnitudes below 1e-6 become 0: squares of numbers like 1e-161 fall into float64's
    # subnormal range, where the two libraries' different (both valid) orders of operations
    # round differently; that is not what these tests compare
    element = st.floats(lo, hi, allow_nan=False, width=64).map(lambda v: 0.0 if abs(v) < 1e-6 else v)
    return hnp.arrays(np.float64, shape, elements=element)


def _pair(a):
    return ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(ours, theirs, inputs, seed=0, rtol=1e-9, atol=1e-12):
    """Same values; then the same gradients of a random projection of the result."""
    got, want = ours.numpy(), theirs.detach().numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if not theirs.requires_grad:
        return
    w = np.random.default_rng(seed).standard_normal(want.shape)
    (ours * ts.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    for i, (s, t) in enumerate(inputs):
        t_grad = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        s_grad = np.zeros(s.shape) if s.grad is None else s.grad.numpy()
        np.testing.assert_allclose(s_grad, t_grad, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


# -- elementwise, with broadcasting -------------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, "nonzero_b"),
    "pow": (lambda a, b: a**b, "positive_a"),
    "maximum": (lambda a, b: a.maximum(b) if isinstance(a, ts.Tensor) else torch.maximum(a, b), None),
    "minimum": (lambda a, b: a.minimum(b) if isinstance(a, ts.Tensor) else torch.minimum(a, b), None),
    "where": (lambda a, b: (ts if isinstance(a, ts.Tensor) else torch).where(a > b, a, b), None),
}


@fuzz(30)
@given(data=st.data(), op=st.sampled_from(sorted(BINARY)))
def test_binary_ops_broadcast_like_torch(data, op):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    fn, domain = BINARY[op]
    a = data.draw(_values(shapes.input_shapes[0]))
    b = data.draw(_values(shapes.input_shapes[1]))
    if domain == "nonzero_b":
        b = np.where(np.abs(b) < 0.25, 0.25 + np.abs(b), b)
    if domain == "positive_a":
        a = np.abs(a) + 0.1
    (sa, ta), (sb, tb) = _pair(a), _pair(b)
    _check(fn(sa, sb), fn(ta, tb), [(sa, ta), (sb, tb)])


@fuzz(20)
@given(data=st.data(), scalar=st.floats(-2, 2, allow_nan=False), op=st.sampled_from(["add", "sub", "mul", "rsub"]))
def test_tensor_and_python_number(data, scalar, op):
    a = data.draw(_values(data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))))
    sa, ta = _pair(a)
    fn = {"add": lambda x: x + scalar, "sub": lambda x: x - scalar, "mul": lambda x: scalar * x,
          "rsub": lambda x: scalar - x}[op]  # fmt: skip
    _check(fn(sa), fn(ta), [(sa, ta)])


UNARY = {
    "exp": lambda x: x.exp(),
    "log": lambda x: (x.abs() + 0.1).log(),
    "log1p": lambda x: (x.abs()).log1p(),
    "sqrt": lambda x: (x.abs() + 0.1).sqrt(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "neg": lambda x: -x,
    "square": lambda x: x**2,
    "pow3": lambda x: x**3,
    "clamp": lambda x: x.clamp(-1.0, 0.5),
    "rpow": lambda x: 2.0**x,
}


@fuzz(30)
@given(data=st.data(), op=st.sampled_from(sorted(UNARY)))
def test_unary_ops_like_torch(data, op):
    a = data.draw(_values(data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))))
    sa, ta = _pair(a)
    _check(UNARY[op](sa), UNARY[op](ta), [(sa, ta)])


@fuzz(20)
@given(data=st.data(), log=st.booleans())
def test_softmax_over_any_dim_like_torch(data, log):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(_values(shape, -20, 20))
    sa, ta = _pair(a)
    name = "log_softmax" if log else "softmax"
    _check(getattr(sa, name)(dim), getattr(ta, name)(dim), [(sa, ta)])


# -- indexing -------------------------------------------------------------------------------
@st.composite
def _index(draw, shape):
    """A PyTorch index for ``shape``: ints (negative too), slices (positive steps), int lists
    (negative, repeated or empty), a boolean mask, None, Ellipsis."""
    kind = draw(st.sampled_from(["basic", "list", "mask", "mixed"]))
    if kind == "mask":
        k = draw(st.integers(1, len(shape)))
        return draw(hnp.arrays(np.bool_, shape[:k]))
    parts = []
    used_list = False
    for n in shape[: draw(st.integers(0, len(shape)))]:
        choice = draw(st.sampled_from(["int", "slice", "list", "none", "all"]))
        if choice == "int" and n > 0:
            parts.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            parts.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        elif choice == "list" and (kind in ("list", "mixed")) and not used_list:
            used_list = True  # one advanced index keeps its place in both libraries
            parts.append(draw(st.lists(st.integers(-n, n - 1), max_size=4)) if n > 0 else [])
        elif choice == "none":
            parts.append(None)
            parts.append(slice(None))
        else:
            parts.append(slice(None))
    if kind == "mixed" and not used_list and draw(st.booleans()):
        # (not before a list: its values were drawn for the dim it stands at)
        parts.insert(0, Ellipsis)
    return tuple(parts)


@fuzz(40)
@given(data=st.data())
def test_indexing_like_torch(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    index = data.draw(_index(shape))
    if isinstance(index, tuple) and Ellipsis in index:
        assume(sum(p is not None for p in index if p is not Ellipsis) <= len(shape))
    a = data.draw(_values(shape))
    sa, ta = _pair(a)
    t_index = torch.tensor(index) if isinstance(index, np.ndarray) else tuple(
        torch.tensor(p, dtype=torch.int64) if isinstance(p, list) else p for p in index
    )
    s_index = ts.tensor(index) if isinstance(index, np.ndarray) else index
    try:
        want = ta[t_index]
    except (IndexError, RuntimeError, ValueError):
        with pytest.raises((IndexError, ValueError, RuntimeError)):
            sa[s_index]
        return
    _check(sa[s_index], want, [(sa, ta)])


@fuzz(20)
@given(data=st.data())
def test_index_select_and_gather_like_torch(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    a = data.draw(_values(shape))
    idx = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=5)), dtype=np.int64)
    sa, ta = _pair(a)
    _check(sa.index_select(dim, ts.tensor(idx)), ta.index_select(dim, torch.tensor(idx)), [(sa, ta)])
    gshape = tuple(data.draw(st.integers(1, s)) if i != dim % len(shape) else data.draw(st.integers(0, 4))
                   for i, s in enumerate(shape))  # fmt: skip
    g = data.draw(hnp.arrays(np.int64, gshape, elements=st.integers(0, n - 1)))
    sa, ta = _pair(a)
    _check(sa.gather(dim, ts.tensor(g)), ta.gather(dim, torch.tensor(g)), [(sa, ta)])


# -- reductions -----------------------------------------------------------------------------
@st.composite
def _distinct(draw, shape):
    """Values without ties (max/min with dim pick one index; which one is not specified)."""
    n = int(np.prod(shape))
    perm = draw(st.permutations(list(range(n))))
    return (np.array(perm, dtype=np.float64).reshape(shape) - n / 2) / 3


REDUCTIONS = ["sum", "mean", "amax", "amin", "max", "min", "logsumexp", "var", "std", "norm", "cumsum"]


@fuzz(40)
@given(data=st.data(), op=st.sampled_from(REDUCTIONS), keepdim=st.booleans())
def test_reductions_like_torch(data, op, keepdim):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    if op in ("max", "min", "cumsum"):
        dim = data.draw(st.integers(-nd, nd - 1))
    else:
        dim = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                                  st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    # distinct values for max/min (which index wins a tie is unspecified) and var/std (near-equal
    # values make the gradient of a spread of ~1e-16 pure rounding noise in both libraries)
    spread = op in ("max", "min", "amax", "amin", "var", "std")
    a = data.draw(_distinct(shape)) if spread else data.draw(_values(shape))
    if op in ("var", "std"):
        dims = range(nd) if dim is None else [dim] if isinstance(dim, int) else dim
        assume(np.prod([shape[d] for d in dims]) > 1)
    sa, ta = _pair(a)

    def run(x, lib):
        if op == "cumsum":
            return x.cumsum(dim)
        if op in ("max", "min"):
            return getattr(x, op)(dim, keepdim=keepdim)[0]
        if op == "norm":  # torch.norm reads a 2-tuple dim as a matrix norm; vector_norm is ours
            norm = x.norm if lib is ts else lambda **kw: torch.linalg.vector_norm(x, **kw)
            return norm(dim=dim, keepdim=keepdim)
        if dim is None:
            return getattr(x, op)() if op != "logsumexp" else x.logsumexp(tuple(range(nd)))
        return getattr(x, op)(dim, keepdim=keepdim)

    _check(run(sa, ts), run(ta, torch), [(sa, ta)])


# -- recurrent layers -------------------------------------------------------------------------
@st.composite
def _rnn_config(draw):
    kind = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    layers = draw(st.integers(1, 3))
    hidden = draw(st.integers(1, 4))
    cfg = dict(
        num_layers=layers, bidirectional=draw(st.booleans()), batch_first=draw(st.booleans()),
        bias=draw(st.booleans()), dropout=draw(st.sampled_from([0.0, 0.5])) if layers > 1 else 0.0,
    )  # fmt: skip
    if kind == "RNN":
        cfg["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if kind == "LSTM" and hidden > 1 and draw(st.booleans()):
        cfg["proj_size"] = draw(st.integers(1, hidden - 1))
    return kind, hidden, cfg


@fuzz(25)
@given(config=_rnn_config(), data=st.data(), fused=st.booleans())
def test_recurrent_layers_like_torch(config, data, fused):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    kind, hidden, cfg = config
    I, T, B = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    torch.manual_seed(data.draw(st.integers(0, 1000)))
    ref = getattr(torch.nn, kind)(I, hidden, **cfg).double().eval()  # eval: dropout off in both
    ours = getattr(ts.nn, kind)(I, hidden, dtype=ts.float64, fused=fused, **cfg).eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    bf = cfg["batch_first"]
    x = data.draw(_values((B, T, I) if bf else (T, B, I), -2, 2))
    lengths = data.draw(st.one_of(st.none(), st.lists(st.integers(1, T), min_size=B, max_size=B)))
    D = 2 if cfg["bidirectional"] else 1
    P = cfg.get("proj_size") or hidden
    give_h0 = data.draw(st.booleans())
    sx, tx = _pair(x)
    inputs = [(sx, tx)]
    s_state = t_state = None
    if give_h0:
        h0 = data.draw(_values((cfg["num_layers"] * D, B, P), -1, 1))
        sh, th = _pair(h0)
        inputs.append((sh, th))
        s_state, t_state = sh, th
        if kind == "LSTM":
            c0 = data.draw(_values((cfg["num_layers"] * D, B, hidden), -1, 1))
            sc, tc = _pair(c0)
            inputs.append((sc, tc))
            s_state, t_state = (sh, sc), (th, tc)
    t_in = tx if lengths is None else pack_padded_sequence(tx, torch.tensor(lengths), batch_first=bf,
                                                           enforce_sorted=False)  # fmt: skip
    t_out, t_state_n = ref(t_in, t_state)
    if lengths is not None:
        t_out = pad_packed_sequence(t_out, batch_first=bf, total_length=T)[0]
    s_out, s_state_n = ours(sx, s_state, lengths=lengths)
    t_all = [t_out] + (list(t_state_n) if kind == "LSTM" else [t_state_n])
    s_all = [s_out] + (list(s_state_n) if kind == "LSTM" else [s_state_n])
    # one loss over every output, so each gradient path is compared
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(tuple(t.shape)) for t in t_all]
    s_cat = ts.cat([(s * ts.tensor(w)).reshape(-1) for s, w in zip(s_all, ws)])
    t_cat = torch.cat([(t * torch.tensor(w)).reshape(-1) for t, w in zip(t_all, ws)])
    params = [(p, q) for (_, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters())]
    _check(s_cat, t_cat, inputs + params, rtol=1e-8, atol=1e-10)


# -- products and shape ops ---------------------------------------------------------------------
@fuzz(20)
@given(data=st.data())
def test_matmul_with_broadcast_batches_like_torch(data):
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    a_shape = batch.input_shapes[0] + (n, k)
    b_shape = batch.input_shapes[1] + (k, m)
    if data.draw(st.booleans()):
        a_shape = (k,)  # a vector on the left
    if data.draw(st.booleans()):
        b_shape = (k,)  # or on the right
    a, b = data.draw(_values(a_shape)), data.draw(_values(b_shape))
    (sa, ta), (sb, tb) = _pair(a), _pair(b)
    _check(sa @ sb, ta @ tb, [(sa, ta), (sb, tb)])


SHAPE_OPS = ["permute", "transpose", "flatten", "unsqueeze", "squeeze", "expand", "cat", "stack", "split",
             "flip", "repeat", "pad", "narrow", "tril", "triu"]  # fmt: skip


@fuzz(40)
@given(data=st.data(), op=st.sampled_from(SHAPE_OPS))
def test_shape_ops_like_torch(data, op):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    nd = len(shape)
    a = data.draw(_values(shape))
    sa, ta = _pair(a)
    inputs = [(sa, ta)]
    dim = data.draw(st.integers(-nd, nd - 1))
    if op == "permute":
        perm = data.draw(st.permutations(list(range(nd))))
        s, t = sa.permute(*perm), ta.permute(*perm)
    elif op == "transpose":
        d2 = data.draw(st.integers(-nd, nd - 1))
        s, t = sa.transpose(dim, d2), ta.transpose(dim, d2)
    elif op == "flatten":
        s, t = sa.flatten(dim % nd), ta.flatten(dim % nd)
    elif op == "unsqueeze":
        d = data.draw(st.integers(-nd - 1, nd))
        s, t = sa.unsqueeze(d), ta.unsqueeze(d)
    elif op == "squeeze":
        s, t = sa.squeeze(dim), ta.squeeze(dim)
    elif op == "expand":
        target = tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in shape)
        lead = tuple(data.draw(st.lists(st.integers(1, 2), max_size=2)))
        s, t = sa.expand(*(lead + target)), ta.expand(*(lead + target))
    elif op in ("cat", "stack"):
        other_shape = list(shape)
        if op == "cat":
            other_shape[dim] = data.draw(st.integers(0, 3))
        b = data.draw(_values(tuple(other_shape)))
        sb, tb = _pair(b)
        inputs.append((sb, tb))
        s, t = getattr(ts, op)([sa, sb], dim), getattr(torch, op)([ta, tb], dim)
    elif op == "split":
        size = data.draw(st.integers(1, 3))
        s = ts.cat([p * (i + 1) for i, p in enumerate(sa.split(size, dim))], dim)
        t = torch.cat([p * (i + 1) for i, p in enumerate(ta.split(size, dim))], dim)
    elif op == "flip":
        s, t = sa.flip(dim), ta.flip(dim)
    elif op == "repeat":
        reps = tuple(data.draw(st.lists(st.integers(0, 2), min_size=nd, max_size=nd + 1)))
        s, t = sa.repeat(*reps), ta.repeat(*reps)
    elif op == "pad":
        pairs = data.draw(st.integers(1, nd))
        widths = tuple(data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs)))
        s, t = ts.nn.functional.pad(sa, widths, value=0.5), torch.nn.functional.pad(ta, widths, value=0.5)
    elif op == "narrow":
        n = shape[dim]
        start = data.draw(st.integers(-n, n - 1))
        length = data.draw(st.integers(0, n - (start % n)))
        s, t = sa.narrow(dim, start, length), ta.narrow(dim, start, length)
    else:
        assume(nd >= 2)
        k = data.draw(st.integers(-3, 3))
        s, t = getattr(sa, op)(k), getattr(ta, op)(k)
    _check(s, t, inputs)


# -- losses and activations ---------------------------------------------------------------------
@fuzz(30)
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]), loss=st.sampled_from(["ce", "nll"]))
def test_class_losses_like_torch(data, reduction, loss):
    N, C = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    extra = tuple(data.draw(st.lists(st.integers(1, 3), max_size=1)))
    logits = data.draw(_values((N, C) + extra, -4, 4))
    target = data.draw(hnp.arrays(np.int64, (N,) + extra, elements=st.integers(0, C - 1)))
    ignore = data.draw(st.sampled_from([-100, 0]))
    if ignore == 0 and reduction == "mean":
        assume((target != 0).any())  # a mean over no rows is 0/0 in both
    weight = data.draw(st.one_of(st.none(), _values((C,), 0.1, 2.0)))
    smoothing = data.draw(st.sampled_from([0.0, 0.2])) if loss == "ce" else 0.0
    sa, ta = _pair(logits)
    kw = dict(ignore_index=ignore, reduction=reduction)
    if loss == "ce":
        kw["label_smoothing"] = smoothing
        fn_s, fn_t = ts.nn.functional.cross_entropy, torch.nn.functional.cross_entropy
        s_in, t_in = sa, ta
    else:
        fn_s, fn_t = ts.nn.functional.nll_loss, torch.nn.functional.nll_loss
        s_in, t_in = sa.log_softmax(1), ta.log_softmax(1)
    sw = None if weight is None else ts.tensor(weight)
    tw = None if weight is None else torch.tensor(weight)
    _check(fn_s(s_in, ts.tensor(target), sw, **kw), fn_t(t_in, torch.tensor(target), tw, **kw), [(sa, ta)])


REGRESSION = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"]
ACTIVATIONS = ["leaky_relu", "elu", "softplus", "logsigmoid", "silu"]


@fuzz(30)
@given(data=st.data(), name=st.sampled_from(REGRESSION + ACTIVATIONS),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_elementwise_losses_and_activations_like_torch(data, name, reduction):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    a = data.draw(_values(shape))
    sa, ta = _pair(a)
    fs, ft = getattr(ts.nn.functional, name), getattr(torch.nn.functional, name)
    if name in ACTIVATIONS:
        _check(fs(sa), ft(ta), [(sa, ta)])
        return
    b = data.draw(_values(shape, 0.0, 1.0) if name.startswith("binary") else _values(shape))
    sb, tb = _pair(b)
    _check(fs(sa, sb, reduction=reduction), ft(ta, tb, reduction=reduction), [(sa, ta), (sb, tb)])


# -- convolutions and pooling -------------------------------------------------------------------
@fuzz(25)
@given(data=st.data(), dims=st.sampled_from([1, 2]))
def test_convolutions_like_torch(data, dims):
    groups = data.draw(st.integers(1, 2))
    cin, cout = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
    stride = data.draw(st.integers(1, 2))
    dilation = data.draw(st.integers(1, 2))
    padding = data.draw(st.one_of(st.integers(0, 2), st.just("same"))) if stride == 1 else data.draw(st.integers(0, 2))
    span = [dilation * (kk - 1) + 1 for kk in k]
    size = tuple(data.draw(st.integers(max(1, s - 2 * (padding if isinstance(padding, int) else 0)), 6)) for s in span)
    x = data.draw(_values((data.draw(st.integers(1, 2)), cin) + size))
    w = data.draw(_values((cout, cin // groups) + k))
    b = data.draw(st.one_of(st.none(), _values((cout,))))
    (sx, tx), (sw, tw) = _pair(x), _pair(w)
    inputs = [(sx, tx), (sw, tw)]
    sb = tb = None
    if b is not None:
        sb, tb = _pair(b)
        inputs.append((sb, tb))
    name = f"conv{dims}d"
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    s = getattr(ts.nn.functional, name)(sx, sw, sb, **kw)
    t = getattr(torch.nn.functional, name)(tx, tw, tb, **kw)
    _check(s, t, inputs)


@fuzz(25)
@given(data=st.data(), dims=st.sampled_from([1, 2]), kind=st.sampled_from(["max", "avg"]))
def test_pooling_like_torch(data, dims, kind):
    k = data.draw(st.integers(1, 3))
    stride = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    padding = data.draw(st.integers(0, k // 2))
    ceil_mode = data.draw(st.booleans())
    size = tuple(data.draw(st.integers(k, 6)) for _ in range(dims))
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))) + size
    x = data.draw(_distinct(shape)) if kind == "max" else data.draw(_values(shape))
    sx, tx = _pair(x)
    kw = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    if kind == "avg":
        kw["count_include_pad"] = data.draw(st.booleans())
    name = f"{kind}_pool{dims}d"
    try:
        t = getattr(torch.nn.functional, name)(tx, k, **kw)
    except RuntimeError:  # PyTorch refuses some (kernel, padding, ceil_mode) combinations
        return
    _check(getattr(ts.nn.functional, name)(sx, k, **kw), t, [(sx, tx)])
