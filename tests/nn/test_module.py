"""Module semantics: registration, names, state dicts, modes, devices and dtypes, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(ts.ones(4))
        self.register_buffer("steps", ts.zeros(1))
        self.register_buffer("cache", ts.zeros(2), persistent=False)
        self.not_registered = ts.zeros(3)  # a plain tensor attribute
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.block = Block()
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(4, 2))

    def forward(self, ids):
        return self.head(self.block(self.embed(ids)))


NAMES = ["embed.weight", "block.scale", "block.fc.weight", "block.fc.bias", "head.1.weight", "head.1.bias"]


def test_registration_and_dotted_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == NAMES
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_children()] == ["embed", "block", "head"]
    assert [n for n, _ in net.named_modules()] == [
        "", "embed", "block", "block.fc", "block.drop", "head", "head.0", "head.1"
    ]
    assert [type(m).__name__ for m in net.modules()][:3] == ["Net", "Embedding", "Block"]
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.cache"]
    assert [n for n, _ in net.block.named_parameters(recurse=False)] == ["scale"]
    assert net.block.fc.weight.qualified_name == "block.fc.weight"
    assert "not_registered" not in dict(net.block.named_parameters())


def test_state_dict_order_and_persistence():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["embed.weight", "block.scale", "block.steps", "block.fc.weight", "block.fc.bias",
                        "head.1.weight", "head.1.bias"]  # fmt: skip
    assert "block.cache" not in sd  # persistent=False
    assert sd["block.fc.weight"].requires_grad is False


def test_state_dict_order_matches_torch():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Conv2d(1, 2, 3),
                              torch.nn.Embedding(5, 2), torch.nn.LayerNorm(6))  # fmt: skip
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Conv2d(1, 2, 3), nn.Embedding(5, 2), nn.LayerNorm(6))
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref.state_dict().items()
    ]


def test_shared_parameter_counted_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    seq = nn.Sequential(a, b)
    assert len(list(seq.parameters())) == 3
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_load_state_dict_from_numpy_and_tensors_keeps_dtype_and_identity():
    net = Net()
    weight = net.block.fc.weight
    sd = {k: np.full(v.shape, 0.5, dtype=np.float64) for k, v in net.state_dict().items()}
    sd["block.fc.bias"] = ts.full((4,), 2.0, dtype=ts.float64)
    missing, unexpected = net.load_state_dict(sd)
    assert missing == [] and unexpected == []
    assert net.block.fc.weight is weight and weight.dtype == ts.float32 and weight.requires_grad
    np.testing.assert_array_equal(weight.numpy(), 0.5)
    np.testing.assert_array_equal(net.block.fc.bias.numpy(), 2.0)
    np.testing.assert_array_equal(net.block.steps.numpy(), 0.5)
    sd["block.fc.bias"].fill_(7.0)  # loading copies: the source stays independent
    assert net.block.fc.bias.numpy()[0] == 2.0


def test_load_state_dict_lists_every_problem_in_one_error():
    net = Net()
    sd = net.state_dict()
    del sd["embed.weight"], sd["head.1.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["block.fc.weight"] = np.zeros((3, 4))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("load_state_dict for Net: ")
    assert "missing keys: embed.weight, head.1.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "wrong shapes: block.fc.weight (expected (4, 3), got (3, 4))" in msg


def test_load_state_dict_not_strict():
    net = Net()
    before = net.embed.weight.numpy().copy()
    sd = {"block.scale": np.full(4, 3.0), "junk": np.zeros(1)}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert unexpected == ["junk"] and "embed.weight" in missing
    np.testing.assert_array_equal(net.block.scale.numpy(), 3.0)
    np.testing.assert_array_equal(net.embed.weight.numpy(), before)
    with pytest.raises(RuntimeError, match=r"wrong shapes: block.scale \(expected \(4,\), got \(5,\)\)"):
        net.load_state_dict({"block.scale": np.zeros(5)}, strict=False)


def test_round_trip_through_torch_state_dict():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    ours = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(ts.tensor(x)).numpy(), ref(torch.tensor(x)).detach().numpy(), rtol=1e-13)
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})


def test_train_eval_reaches_every_module_and_drives_dropout():
    net = Net()
    assert net.training and net.block.drop.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = ts.ones(2, 3)
    block = net.block
    np.testing.assert_array_equal(block.drop(x).numpy(), x.numpy())
    net.train()
    assert all(m.training for m in net.modules())
    y = block.drop(ts.ones(1000)).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}


def test_zero_grad():
    net = Net()
    out = net(ts.tensor([1, 2, 3]))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_double_float_keep_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net(ts.tensor([1, 2])).sum().backward()
    assert net.double() is net
    assert all(p.dtype == ts.float64 for p in net.parameters())
    assert all(p.grad.dtype == ts.float64 for p in net.parameters())
    assert net.block.steps.dtype == ts.float64
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net(ts.tensor([1, 2])).dtype == ts.float64
    net.float()
    assert all(p.dtype == ts.float32 for p in net.parameters())
    net.to(ts.float64)
    assert net.embed.weight.dtype == ts.float64


def test_to_device_and_back():
    net = Net()
    before = net.state_dict()
    before = {k: v.numpy().copy() for k, v in before.items()}
    net.to("strict")
    assert all(p.device == "strict:0" for p in net.parameters())
    assert net.block.steps.device == "strict:0"
    out = net(ts.tensor([1, 2], device="strict"))
    assert out.device == "strict:0"
    net.to("cpu")
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_repr_tree_matches_torch():
    torch = pytest.importorskip("torch")
    tn = torch.nn
    ref = tn.Sequential(
        OrderedDict(
            conv=tn.Conv2d(1, 4, 3, padding=1), relu=tn.ReLU(), flat=tn.Flatten(), fc=tn.Linear(64, 10, bias=False),
            drop=tn.Dropout(0.1), norm=tn.LayerNorm(10), emb=tn.Embedding(5, 2, padding_idx=0), act=tn.Sigmoid(),
            inner=tn.Sequential(tn.Tanh(), tn.Identity()), loss=tn.CrossEntropyLoss(),
        )
    )
    ours = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(), flat=nn.Flatten(), fc=nn.Linear(64, 10, bias=False),
            drop=nn.Dropout(0.1), norm=nn.LayerNorm(10), emb=nn.Embedding(5, 2, padding_idx=0), act=nn.Sigmoid(),
            inner=nn.Sequential(nn.Tanh(), nn.Identity()), loss=nn.CrossEntropyLoss(),
        )
    )
    assert repr(ours) == repr(ref)


def test_register_buffer_and_assignment_rules():
    m = nn.Module()
    m.register_buffer("running", ts.zeros(3))
    m.running = ts.ones(3)  # reassigning a buffer keeps it a buffer
    assert list(dict(m.named_buffers())) == ["running"] and m.running.numpy().sum() == 3
    m.running = None
    assert "running" not in m.state_dict()
    with pytest.raises(TypeError, match=r"Module: cannot assign a ndarray to buffer 'running'"):
        m.running = np.zeros(3)
    with pytest.raises(TypeError, match=r"register_buffer: 'x' must be a tensor or None, got list"):
        m.register_buffer("x", [1, 2])
    with pytest.raises(KeyError, match=r"register_buffer: buffer name 'a.b' must be non-empty and contain no '.'"):
        m.register_buffer("a.b", ts.zeros(1))


def test_assigning_a_tensor_to_a_parameter_name_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"Linear: cannot assign a Tensor to 'weight', which is a registered Parameter"):
        lin.weight = lin.weight * 2
    lin.bias = None  # None is allowed and keeps the slot
    assert list(dict(lin.named_parameters())) == ["weight"]
    assert lin(ts.ones(1, 2)).shape == (1, 2)
    lin.bias = nn.Parameter(ts.zeros(2))
    assert list(dict(lin.named_parameters())) == ["weight", "bias"]
    seq = nn.Sequential(nn.Tanh())
    with pytest.raises(TypeError, match=r"cannot assign a int to '0', which is a registered Module"):
        seq[0] = 3


def test_reassigning_a_parameter_keeps_its_position():
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(ts.zeros(2, 2))
    assert list(lin.state_dict()) == ["weight", "bias"]


def test_module_without_init_call_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"Bad: call super\(\).__init__\(\) before assigning attributes"):
        Bad()


def test_requires_grad_and_forward_scope():
    net = Net()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    out = net(ts.tensor([1]))
    assert ("module", "head.1") in out.grad_fn.scope


def test_apply_visits_children_first():
    seen = []
    net = Net()
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net" and seen.index("Linear") < seen.index("Block")


def test_apply_for_custom_init():
    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net = Net().apply(init)
    assert not net.block.fc.weight.numpy().any() and not net.head[1].weight.numpy().any()


def test_deepcopy_makes_independent_parameters_on_the_same_device():
    import copy

    net = Net().to("strict")
    twin = copy.deepcopy(net)
    assert twin.block.fc.weight is not net.block.fc.weight
    assert twin.block.fc.weight.device == "strict:0" and twin.block.fc.weight.requires_grad
    np.testing.assert_array_equal(twin.block.fc.weight.numpy(), net.block.fc.weight.numpy())
    assert twin.block.fc.weight.qualified_name == "block.fc.weight"
    assert twin.block.fc._label() == "block.fc"
    with ts.no_grad():
        twin.block.fc.weight.fill_(0.0)
    assert net.block.fc.weight.numpy().any()
    assert [n for n, _ in twin.named_parameters()] == NAMES


def test_train_mode_must_be_bool():
    with pytest.raises(ValueError, match=r"Net.train: mode must be a bool, got 'eval'"):
        Net().train("eval")


# -- forward hooks -----------------------------------------------------------------------------------------
def _hooked_run(layer, x):
    """Run the same hooks on a Linear of either library: what they saw, and the outputs
    before and after one hook is removed."""
    seen = []
    layer.register_forward_pre_hook(lambda m, args: seen.append(("pre", tuple(args[0].shape))))
    handle = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)  # one value: becomes (value,)
    layer.register_forward_pre_hook(lambda m, args: seen.append(("first", len(args))), prepend=True)
    layer.register_forward_hook(lambda m, args, out: out + 1)
    layer.register_forward_hook(lambda m, args, out: seen.append(("post", round(float(out.sum().detach()), 9))))
    layer.register_forward_hook(lambda m, args, kwargs, out: seen.append(("kw", sorted(kwargs))), with_kwargs=True)
    out1 = layer(x)
    handle.remove()
    out2 = layer(x)
    return seen, out1.detach().numpy(), out2.detach().numpy()


def test_forward_hooks_like_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(2, 3)
    ref = torch.nn.Linear(3, 2).double()
    ours = ts.nn.Linear(3, 2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    seen, *outs = _hooked_run(ours, ts.tensor(x))
    ref_seen, *ref_outs = _hooked_run(ref, torch.tensor(x))
    assert seen == ref_seen
    for a, b in zip(outs, ref_outs):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_forward_hooks_order_kwargs_and_removal():
    lin = ts.nn.Linear(2, 2)
    x = ts.ones(1, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("a"))
    lin.register_forward_pre_hook(lambda m, args: calls.append("b"), prepend=True)
    swap = lin.register_forward_pre_hook(lambda m, args, kwargs: ((ts.zeros(1, 2),), kwargs), with_kwargs=True)
    out = lin(x)
    assert calls == ["b", "a"]
    np.testing.assert_allclose(out.numpy(), lin.bias.numpy()[None])  # the pre-hook swapped in zeros
    h1.remove()
    swap.remove()
    replaced = lin.register_forward_hook(lambda m, args, out: out * 0)
    assert lin(x).numpy().tolist() == [[0.0, 0.0]] and calls == ["b", "a", "b"]
    replaced.remove()
    np.testing.assert_allclose(lin(x).numpy(), (x @ lin.weight.T + lin.bias).numpy())
    bad = lin.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"Linear: a forward pre-hook with kwargs must return None or \(args"):
        lin(ts.ones(3, 2))
    bad.remove()
    with pytest.raises(TypeError, match="register_forward_hook: a hook must be callable, got int"):
        lin.register_forward_hook(3)
    with pytest.raises(TypeError, match="register_forward_pre_hook: a hook must be callable, got str"):
        lin.register_forward_pre_hook("f")


def test_forward_hook_sees_every_layer_of_a_stack():
    """The usual use: keep each layer's output of a model, here a stacked LSTM's pieces."""
    model = ts.nn.Sequential(ts.nn.LSTM(3, 4), ts.nn.Identity())
    kept = {}
    for name, m in model.named_children():
        m.register_forward_hook(lambda m, args, out, name=name: kept.__setitem__(name, out))
    x = ts.randn(5, 2, 3)
    out = model[1](model[0](x)[0])
    assert kept["0"][0].shape == (5, 2, 4) and kept["1"] is out
    out.sum().backward()  # hooks leave the graph alone
    assert model[0].weight_hh_l0.grad is not None
