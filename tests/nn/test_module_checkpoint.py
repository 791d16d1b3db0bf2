"""ts.save(model, f) / ts.load(f): whole modules as data (class, constructor arguments,
children, state dict), rebuilt only for tinyseq classes or classes allowed with
ts.serialization.safe_globals / add_safe_globals; ts.nn.modules paths; map_location."""

import io
import json
import sys
import zipfile

import numpy as np
import pytest
from checkpoint_models import Head, TiedLM, WithObject

import tinyseq as ts
from tinyseq import nn


def roundtrip(obj, **load_kw):
    f = io.BytesIO()
    ts.save(obj, f)
    f.seek(0)
    return ts.load(f, **load_kw)


def same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy(), err_msg=k)
        assert sa[k].dtype == sb[k].dtype


def test_tinyseq_modules_roundtrip_through_a_path_and_an_open_file(tmp_path):
    ts.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.GELU("tanh"), nn.BatchNorm1d(6), nn.Dropout(0.2),
                          nn.Linear(6, 5)).double()  # fmt: skip
    model(ts.randn(4, 3, dtype=ts.float64))  # moves the batch-norm statistics
    model.eval()
    path = tmp_path / "model.pt"
    ts.save(model, path)
    with open(path, "rb") as f:
        loaded = ts.load(f, map_location="cpu", weights_only=True)
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    same_state(model, loaded)
    assert not any(m.training for m in loaded.modules())
    x = ts.randn(4, 3, dtype=ts.float64)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    rnn = nn.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True)
    with open(path, "wb") as f:  # an open binary file works for saving too
        ts.save({"model": model, "rnn": rnn, "epoch": 3}, f)
    back = ts.load(str(path))
    assert back["epoch"] == 3 and isinstance(back["model"], nn.Sequential)
    assert repr(back["rnn"]) == repr(rnn)
    same_state(rnn, back["rnn"])


def test_frozen_parameters_stay_frozen():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    model[0].requires_grad_(False)
    loaded = roundtrip(model)
    assert [p.requires_grad for p in loaded.parameters()] == [False, False, True, True]


def test_transformer_with_function_argument_and_attention_with_kdim():
    t = nn.Transformer(8, 2, 1, 1, 16, activation=nn.functional.gelu, batch_first=True)
    loaded = roundtrip(t)
    assert loaded.encoder.layers[0].activation is nn.functional.gelu
    same_state(t, loaded)
    mha = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True)
    same_state(mha, roundtrip(mha))


def test_user_class_is_refused_until_allowed_and_keeps_tied_weights():
    ts.manual_seed(1)
    model = TiedLM(11, 6, 2, 0.25, True, name="tiny")
    f = io.BytesIO()
    ts.save(model, f)
    f.seek(0)
    with pytest.raises(ts.CheckpointError, match=r"needs checkpoint_models\.TiedLM, which is not allowed.*"
                                                  r"safe_globals\(\[TiedLM\]\)"):  # fmt: skip
        ts.load(f)
    f.seek(0)
    with ts.serialization.safe_globals([TiedLM, nn.modules.rnn.LSTM, nn.modules.sparse.Embedding]):
        loaded = ts.load(f, map_location="cpu")
    assert isinstance(loaded, TiedLM) and loaded.name == "tiny" and loaded.rnn.dropout == 0.25
    assert loaded.decoder.weight is loaded.encoder.weight  # the constructor tied them again
    same_state(model, loaded)
    f.seek(0)
    with pytest.raises(ts.CheckpointError, match="TiedLM, which is not allowed"):
        ts.load(f)  # the permission ended with the block


def test_add_safe_globals_and_children_changed_after_construction():
    model = Head([3, 4, 5], act=ts.relu)
    model.layers.append(nn.Linear(5, 2))  # added after construction
    model.layers[0] = nn.Linear(3, 4, bias=False)  # replaced after construction
    model.extra = nn.LayerNorm(2)
    try:
        ts.serialization.add_safe_globals([Head])
        assert Head in ts.serialization.get_safe_globals()
        loaded = roundtrip(model)
    finally:
        ts.serialization.clear_safe_globals()
    assert loaded.act is ts.relu
    assert [repr(m) for m in loaded.modules()] == [repr(m) for m in model.modules()]
    same_state(model, loaded)
    x = ts.randn(2, 3)
    np.testing.assert_array_equal(loaded.extra(loaded(x)).numpy(), model.extra(model(x)).numpy())


def test_arguments_that_cannot_be_saved_are_named():
    with pytest.raises(TypeError, match="cannot save WithObject: its constructor argument 'tool' is of type object"):
        ts.save(WithObject(3, object()), io.BytesIO())
    with pytest.raises(TypeError, match="argument 'act' is .*<lambda>"):
        ts.save(Head([2, 2], act=lambda x: x), io.BytesIO())

    class Local(nn.Module):
        pass

    with pytest.raises(TypeError, match="Local: it is defined inside a function"):
        ts.save(Local(), io.BytesIO())


def _rewrite_structure(data, edit):
    """A copy of checkpoint bytes with structure.json edited."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            if item.filename == "structure.json":
                payload = json.dumps(edit(json.loads(payload))).encode()
            dst.writestr(item, payload)
    out.seek(0)
    return out


def test_crafted_class_paths_are_refused(monkeypatch):
    f = io.BytesIO()
    ts.save(nn.Linear(2, 2), f)
    data = f.getvalue()

    def set_class(path):
        def edit(header):
            header["root"]["module"]["class"] = path
            return header

        return edit

    with pytest.raises(ts.CheckpointError, match="needs os.system, which is not allowed"):
        ts.load(_rewrite_structure(data, set_class("os.system")))
    with pytest.raises(ts.CheckpointError, match="names tinyseq.nn.functional.relu as a module class, but it is not"):
        ts.load(_rewrite_structure(data, set_class("tinyseq.nn.functional.relu")))
    with pytest.raises(ts.CheckpointError, match="not allowed"):
        ts.load(_rewrite_structure(data, set_class("tinyseq.nn.no_such_thing.Linear")))
    # a module that is not imported yet is never imported on a file's say-so
    monkeypatch.delitem(sys.modules, "tinyseq.viz.__main__", raising=False)
    with pytest.raises(ts.CheckpointError, match="not allowed"):
        ts.load(_rewrite_structure(data, set_class("tinyseq.viz.__main__.main")))
    assert "tinyseq.viz.__main__" not in sys.modules


@pytest.mark.parametrize("old,make", [
    ("tinyseq.nn.rnn_layers.LSTM", lambda: nn.LSTM(3, 4, num_layers=2)),
    ("tinyseq.nn.rnn_cells.GRUCell", lambda: nn.GRUCell(3, 4)),
    ("tinyseq.nn.conv_recurrent.ConvLSTM", lambda: nn.ConvLSTM(2, 3, 3)),
])
def test_files_naming_a_class_by_its_old_module_still_load(old, make):
    model = make()
    f = io.BytesIO()
    ts.save(model, f)

    def set_class(header):
        header["root"]["module"]["class"] = old
        return header

    back = ts.load(_rewrite_structure(f.getvalue(), set_class))
    assert type(back) is type(model)
    same_state(model, back)


@pytest.mark.parametrize("field,value,message", [
    ("args", {"x": 1}, "'args' must be a list"),
    ("kwargs", [["in_features"]], "'kwargs' must be a list of"),
    ("children", [[1, None]], "'children' must be a list of"),
    ("training", "yes", "'training' must be true or false"),
    ("frozen", [3], "'frozen' must be a list of parameter names"),
    ("class", None, "expected an object with a 'class' name"),
])  # fmt: skip
def test_malformed_module_entries_are_named(field, value, message):
    f = io.BytesIO()
    ts.save(nn.Linear(2, 2), f)

    def edit(header):
        header["root"]["module"][field] = value
        return header

    with pytest.raises(ts.CheckpointError, match=f"malformed module entry at root/module: {message}"):
        ts.load(_rewrite_structure(f.getvalue(), edit))


def test_constructor_arguments_are_recorded_by_the_outermost_class():
    m = nn.Dropout2d(0.3)
    assert m._init_args == ((0.3,), {})
    lm = TiedLM(5, 4, 1, 0.0, tie_weights=False)
    assert lm._init_args == ((5, 4, 1, 0.0), {"tie_weights": False})
    assert lm.encoder._init_args == ((5, 4), {})


def test_pytorch_module_paths_exist():
    assert nn.modules.rnn.LSTM is nn.LSTM and nn.modules.linear.Linear is nn.Linear
    assert nn.modules.sparse.Embedding is nn.Embedding and nn.modules.dropout.Dropout is nn.Dropout
    assert nn.modules.container.Sequential is nn.Sequential and nn.modules.module.Module is nn.Module
    assert nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert nn.modules.transformer.TransformerEncoderLayer is nn.TransformerEncoderLayer
    assert nn.modules.batchnorm.BatchNorm2d is nn.BatchNorm2d and nn.modules.conv.Conv2d is nn.Conv2d
    assert nn.modules.loss.CrossEntropyLoss is nn.CrossEntropyLoss and nn.modules.pooling.MaxPool2d is nn.MaxPool2d
    assert nn.modules.normalization.LayerNorm is nn.LayerNorm and nn.parameter.Parameter is nn.Parameter


def test_map_location_forms():
    lin = nn.Linear(2, 3)
    assert isinstance(roundtrip(lin, map_location=lambda storage, loc: storage), nn.Linear)
    f = io.BytesIO()
    ts.save(lin.state_dict(), f)
    f.seek(0)
    with pytest.raises(TypeError, match="give device= or map_location=, not both"):
        ts.load(f, map_location="cpu", device="cpu")
