"""The small modules PyTorch programs import: onnx, accelerator, backends, cuda."""

import importlib

import pytest

import tinyseq as ts


def test_onnx_imports_and_export_says_it_is_not_supported():
    onnx = importlib.import_module("tinyseq.onnx")
    assert onnx is ts.onnx and not onnx.is_in_onnx_export()
    with pytest.raises(NotImplementedError, match="onnx.export: tinyseq cannot export models to ONNX .*Linear"):
        ts.onnx.export(ts.nn.Linear(2, 2), ts.ones(1, 2), "model.onnx")


def test_accelerator_agrees_with_cuda():
    available = ts.cuda.is_available()
    assert ts.accelerator.is_available() is available
    assert ts.accelerator.device_count() == ts.cuda.device_count()
    current = ts.accelerator.current_accelerator()
    assert current == (ts.device("cuda") if available else None)


def test_backends_switches_exist():
    assert ts.backends.mps.is_available() is False
    ts.backends.cudnn.deterministic = True  # accepted, as programs set it
    assert ts.backends.cudnn.deterministic
    ts.backends.cudnn.deterministic = False


def test_cuda_seeding_spellings_seed_everything():
    ts.cuda.manual_seed_all(5)
    a = ts.randn(3)
    ts.cuda.manual_seed(5)
    assert ts.randn(3).tolist() == a.tolist()
    ts.cuda.empty_cache()  # a no-op without a GPU


def test_default_device_as_a_device_object():
    assert ts.get_default_device() == ts.device("cpu") and isinstance(ts.get_default_device(), ts.device)
