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
