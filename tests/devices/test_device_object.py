"""``ts.device``: PyTorch's device object, accepted wherever a device string is."""

import pytest

import tinyseq as ts


def test_device_parts_and_text_match_torch():
    torch = pytest.importorskip("torch")
    for args in [("cpu",), ("cuda",), ("cuda:0",), ("cuda:3",), ("cuda", 1), ("cpu", 0)]:
        ours, ref = ts.device(*args), torch.device(*args)
        assert (ours.type, ours.index, str(ours), repr(ours)) == (ref.type, ref.index, str(ref), repr(ref)), args
    assert ts.device(ts.device("cuda:1")) == ts.device("cuda", 1) == ts.device(1)  # an int: that GPU
    assert ts.device("cuda") != ts.device("cuda:0")  # as in PyTorch: no index is not index 0
    assert len({ts.device("cpu"), ts.device("cpu")}) == 1


def test_bad_devices_are_refused_naming_them():
    with pytest.raises(RuntimeError, match="device: invalid device string 'cuda:x'"):
        ts.device("cuda:x")
    with pytest.raises(RuntimeError, match="device: unknown device type 'tpu'"):
        ts.device("tpu")
    with pytest.raises(RuntimeError, match="device: the index must be a non-negative int, got -1"):
        ts.device("cuda", -1)
    with pytest.raises(RuntimeError, match="already has an index"):
        ts.device("cuda:0", 1)
    with pytest.raises(TypeError, match="device: expected a string or an int, got float"):
        ts.device(1.5)


def test_tensors_report_and_accept_device_objects():
    cpu = ts.device("cpu")
    x = ts.zeros(2, 3, device=cpu)
    assert isinstance(x.device, ts.device) and x.device == cpu and x.device.type == "cpu"
    assert x.device == "cpu" and f"{x.device}" == "cpu"
    assert ts.randn(2, device=cpu).device == cpu and ts.tensor([1.0], device=cpu).device == cpu
    y = ts.ones(2).to(cpu, ts.float64)
    assert y.dtype == ts.float64 and y.device == cpu
    assert ts.ones(2).to(device=x.device).device == cpu
    assert ts.ones(2, dtype=ts.float64).to(x).dtype == ts.float32  # to(other): other's dtype and device


def test_modules_move_to_a_device_object():
    net = ts.nn.Linear(2, 3).to(ts.device("strict:0"))
    assert net.weight.device == ts.device("strict", 0) and net.weight.device.index == 0
    out = net(ts.ones(1, 2, device=ts.device("strict")))
    assert out.device.type == "strict"
