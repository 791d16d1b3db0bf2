"""Checkpoints: bit-exact round trips, never pickle, atomic writes, clear errors."""

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import serialization
from tinyseq.serialization import CheckpointError

UNPICKLED = []


def _mark_unpickled():
    UNPICKLED.append(True)
    return "payload"


class _Payload:
    def __reduce__(self):
        return (_mark_unpickled, ())


def _checkpoint():
    rng = np.random.default_rng(0)
    model = OrderedDict(
        [
            ("lstm.weight_ih_l0", ts.tensor(rng.standard_normal((8, 3)), dtype=ts.float32)),
            ("lstm.bias", ts.tensor(rng.standard_normal(8))),  # float64
            ("embedding.counts", ts.tensor(rng.integers(-(2**40), 2**40, size=(2, 3)))),
            ("mask", ts.tensor([True, False])),
        ]
    )
    p = ts.nn.Parameter(ts.randn(2, 2))
    opt = ts.optim.Adam([p], lr=0.01, betas=(0.8, 0.99))
    p.grad = ts.randn(2, 2)
    opt.step()
    return {
        "model": model,
        "optim": opt.state_dict(),
        "epoch": 3,
        "lr": 0.1 + 0.2,  # not a short decimal: JSON must keep every bit
        "big": 2**70,
        "neg_zero": -0.0,
        "nan": float("nan"),
        "inf": -math.inf,
        "name": "char-rnn \u00e9\u4e2d",
        "done": False,
        "nothing": None,
        "history": [1.5, [2, "x"], (np.float32(0.25), np.int64(-7), np.bool_(True))],
        "arrays": {
            0: np.arange(6, dtype=np.int64).reshape(2, 3),
            1: np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32)),
            2: rng.standard_normal((4, 3))[::2, ::-1],  # non-contiguous view
            3: np.zeros((0, 5), dtype=np.float16),
            4: np.array(2.5),
            5: np.array(["ab", "c"]),
        },
    }


def _equal(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(x for x in b if x == k))
            _equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    elif isinstance(a, ts.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and b.device == "cpu"
        assert a.numpy().tobytes() == b.numpy().tobytes()
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    elif isinstance(a, float):
        assert math.isnan(a) and math.isnan(b) if a != a else (a == b and math.copysign(1, a) == math.copysign(1, b))
    else:
        assert a == b


def test_round_trip_is_bit_exact(tmp_path):
    obj = _checkpoint()
    path = tmp_path / "ckpt.npz"
    ts.save(obj, path)
    back = ts.load(path)
    _equal(obj, back)
    assert isinstance(back["model"], OrderedDict) and type(back["arrays"]) is dict
    assert list(back["optim"]["state"]) == [0] and back["optim"]["param_groups"][0]["betas"] == (0.8, 0.99)


def test_file_is_a_plain_npz_with_a_json_structure(tmp_path):
    path = tmp_path / "ckpt.npz"
    ts.save(_checkpoint(), path)
    want = _checkpoint()["model"]["lstm.weight_ih_l0"].numpy()
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["model/lstm.weight_ih_l0"], want)
        assert "optim/state/0/exp_avg" in npz.files
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("structure.json"))
    assert header["format"] == "tinyseq-checkpoint" and header["version"] == 1
    assert header["root"]["dict"][2] == ["epoch", 3]


def test_odd_keys_round_trip_and_member_names_are_safe(tmp_path):
    obj = {"../../evil": np.ones(2), "a/b": {"c": np.zeros(1)}, "a": {"b/c": np.full(1, 3.0)}, "": np.arange(2),
           "structure.json": np.ones(1), 7: {"x y\\z": np.ones(3)}}  # fmt: skip
    path = tmp_path / "odd.npz"
    ts.save(obj, path)
    _equal(obj, ts.load(path))
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert len(names) == len(set(names)) == 7
    for name in names:
        assert ".." not in name.split("/") and not name.startswith("/") and "\\" not in name


def test_parameters_tensors_with_grad_and_device(tmp_path):
    path = tmp_path / "p.npz"
    ts.save({"p": ts.nn.Parameter(ts.ones(2)), "t": ts.ones(2, requires_grad=True), "c": ts.ones(2)}, path)
    back = ts.load(path, device="cpu")
    assert isinstance(back["p"], ts.nn.Parameter) and back["p"].requires_grad
    assert type(back["t"]) is ts.Tensor and back["t"].requires_grad and not back["c"].requires_grad
    pytest.importorskip("tinyseq.devices.strict")
    on_dev = ts.load(path, device="strict")
    assert on_dev["c"].device == "strict:0" and on_dev["p"].device == "strict:0"
    ts.save({"x": ts.tensor([1.5, 2.5], device="strict")}, path)  # saving copies device -> host
    np.testing.assert_array_equal(ts.load(path)["x"].numpy(), [1.5, 2.5])


def test_module_state_dict_loads_back(tmp_path):
    class Tiny(ts.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ts.nn.Parameter(ts.randn(3, 2))
            self.b = ts.nn.Parameter(ts.zeros(2))

    a, b = Tiny(), Tiny()
    ts.save({"model": a.state_dict()}, tmp_path / "m.npz")
    b.load_state_dict(ts.load(tmp_path / "m.npz")["model"])
    np.testing.assert_array_equal(a.w.numpy(), b.w.numpy())


def test_path_is_used_as_given_and_file_objects_work(tmp_path):
    path = tmp_path / "model.ckpt"
    ts.save({"x": 1}, str(path))
    assert os.listdir(tmp_path) == ["model.ckpt"]
    assert ts.load(str(path)) == {"x": 1}
    buf = io.BytesIO()
    ts.save([np.arange(3), "s"], buf)
    buf.seek(0)
    back = ts.load(buf)
    assert back[1] == "s" and back[0].tolist() == [0, 1, 2]


def test_file_permissions_follow_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        ts.save({"x": 1}, tmp_path / "c.npz")
    finally:
        os.umask(mask)
    assert os.stat(tmp_path / "c.npz").st_mode & 0o777 == 0o644


# -- refusing what it cannot store ---------------------------------------------------------
def test_object_arrays_are_refused_when_saving(tmp_path):
    with pytest.raises(ValueError, match="save: the array at 'data/x' has dtype object"):
        ts.save({"data": {"x": np.array([1, "a"], dtype=object)}}, tmp_path / "o.npz")
    assert os.listdir(tmp_path) == []


def test_object_arrays_are_refused_when_loading_and_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("x.npy", "w") as f:
            np.lib.format.write_array(f, np.array([_Payload()], dtype=object), allow_pickle=True)
        header = {"format": "tinyseq-checkpoint", "version": 1, "root": {"dict": [["x", {"ndarray": "x"}]]}}
        zf.writestr("structure.json", json.dumps(header))
    UNPICKLED.clear()
    with pytest.raises(CheckpointError, match=f"load: '{path}' member 'x' is an object array; refused"):
        ts.load(path)
    assert UNPICKLED == []
    raw = tmp_path / "pickled.npz"
    raw.write_bytes(pickle.dumps({"x": _Payload()}))
    with pytest.raises(CheckpointError, match=f"load: '{raw}' is not a readable checkpoint"):
        ts.load(raw)
    assert UNPICKLED == []


@pytest.mark.parametrize(
    "value,where",
    [({"f": lambda: 0}, "'f'"), ({"a": [1, {2, 3}]}, "'a/1'"), ({"a": {1.5: 2}}, "'a'"), (object(), "'<root>'")],
)
def test_unsupported_values_name_their_key_path(tmp_path, value, where):
    with pytest.raises(TypeError, match=f"save: .* at {where}"):
        ts.save(value, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# -- damaged files -------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_file_raises_a_clear_error_naming_it(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    ts.save(_checkpoint(), path)
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data) if keep else 0
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match=f"load: '{path}' .*(truncated|corrupt)") as info:
        ts.load(path)
    assert isinstance(info.value, ValueError)


def test_corrupt_array_bytes_are_detected(tmp_path):
    path = tmp_path / "ckpt.npz"
    values = np.arange(1000, dtype=np.float64)
    ts.save({"w": values}, path)
    data = bytearray(path.read_bytes())
    at = bytes(data).find(values[100:110].tobytes())
    data[at + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"load: '{path}' member 'w' is truncated or corrupt"):
        ts.load(path)


def test_foreign_files_are_refused(tmp_path):
    npy = tmp_path / "a.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(CheckpointError, match=f"load: '{npy}' holds a single .npy array"):
        ts.load(npy)
    npz = tmp_path / "plain.npz"
    np.savez(npz, x=np.ones(3))
    with pytest.raises(CheckpointError, match=f"load: '{npz}' is an .npz file without structure.json"):
        ts.load(npz)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match=f"load: '{junk}' is not a readable checkpoint"):
        ts.load(junk)
    with pytest.raises(FileNotFoundError):
        ts.load(tmp_path / "missing.npz")


def test_newer_format_versions_are_refused(tmp_path):
    path = tmp_path / "future.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("structure.json", json.dumps({"format": "tinyseq-checkpoint", "version": 99, "root": 1}))
    with pytest.raises(CheckpointError, match=f"load: '{path}' is checkpoint format version 99; this tinyseq reads"):
        ts.load(path)


# -- atomic writes -------------------------------------------------------------------------
@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "ckpt.npz"
    good = {"epoch": 1, "w": np.arange(100.0)}
    ts.save(good, path)
    real = np.lib.format.write_array
    calls = []

    def failing(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is already in the file, the second half-written
            fp.write(b"\x93NUMPY partial")
            raise error
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(type(error)):
        ts.save({"epoch": 2, "w": np.zeros(100), "v": np.ones(100)}, path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary files left behind
    _equal(good, ts.load(path))


def test_crash_before_rename_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ts.save({"epoch": 1}, path)

    def no_rename(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(serialization.os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        ts.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert ts.load(path) == {"epoch": 1}
