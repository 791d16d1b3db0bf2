"""Sequential, ModuleList, ModuleDict."""

from collections import OrderedDict

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import nn


def test_sequential_chains_and_names():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = ts.randn(5, 3)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).numpy(), expected.numpy())
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]


def test_sequential_from_ordered_dict_and_slicing():
    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Tanh(), out=nn.Linear(2, 1)))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head.state_dict()) == ["out.weight", "out.bias"]
    assert head[1] is seq.out
    assert seq.out.weight.qualified_name == "out.weight"  # slicing does not adopt the modules


def test_sequential_append_insert_delete_renumber():
    seq = nn.Sequential(nn.Tanh(), nn.ReLU())
    seq.append(nn.Sigmoid())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Tanh", "ReLU", "Sigmoid"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    assert [type(m).__name__ for m in seq] == ["Identity", "ReLU", "Sigmoid"]
    seq[0] = nn.Linear(1, 1)
    assert list(seq.state_dict()) == ["0.weight", "0.bias"]
    assert len(seq + nn.Sequential(nn.Tanh())) == 4


def test_sequential_matches_torch_repr_and_state():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(4, 1)))
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 1)))
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    layers += [nn.Tanh()]
    assert len(layers) == 5
    assert [n for n, _ in layers.named_parameters()][-2:] == ["3.weight", "3.bias"]
    sub = layers[1:3]
    assert isinstance(sub, nn.ModuleList) and len(sub) == 2 and sub[0] is layers[1]
    assert list(sub._modules) == ["0", "1"] and sub[0].weight.qualified_name == "1.weight"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = layers

    assert len(list(Net().parameters())) == 8
    with pytest.raises(IndexError, match=r"ModuleList: index 9 is out of range for 5 modules"):
        layers[9]
    with pytest.raises(TypeError, match=r"ModuleList: int is not a Module"):
        layers.append(3)
    with pytest.raises(NotImplementedError, match=r"ModuleList has no forward"):
        layers(ts.ones(1))


def test_module_list_repr_matches_torch():
    torch = pytest.importorskip("torch")
    tn = torch.nn

    def build(lib):
        return lib.ModuleList(
            [lib.Linear(2, 2), lib.Linear(2, 2), lib.Linear(2, 2), lib.Tanh(),
             lib.Sequential(lib.Linear(2, 1)), lib.Sequential(lib.Linear(2, 1)), lib.Linear(2, 2)]
        )  # fmt: skip

    assert repr(build(nn)) == repr(build(tn))
    assert repr(nn.ModuleList()) == repr(tn.ModuleList())
    assert repr(nn.ModuleDict({"a": nn.Tanh()})) == repr(tn.ModuleDict({"a": tn.Tanh()}))


def test_module_dict():
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    heads["c"] = nn.Tanh()
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert heads.pop("a") is not None and list(heads.keys()) == ["b", "c"]
    assert [type(m).__name__ for m in heads.values()] == ["Linear", "Tanh"]
    with pytest.raises(TypeError, match=r"ModuleDict: keys must be strings, got int"):
        heads[1] = nn.Tanh()


def test_sequential_end_to_end_training():
    """A short full loop: an MLP learns XOR with plain gradient descent."""
    ts.manual_seed(0)
    x = ts.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = ts.tensor([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(300):
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with ts.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=0.5)
    assert loss.item() < 0.05 < first
    assert model(x).argmax(dim=1).tolist() == [0, 1, 1, 0]
