"""Checkpoint files on disk: temporaries left by a killed save are cleaned up, permissions
and symlinks survive a re-save, long names work, and a malformed or hostile file raises
CheckpointError naming what is wrong (never a raw TypeError, never a memory blow-up)."""

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import CheckpointError, serialization


def _write(path, root, members=(), compression=zipfile.ZIP_STORED, version=1):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, array in members:
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array)
        zf.writestr("structure.json", json.dumps({"format": "tinyseq-checkpoint", "version": version, "root": root}))


# -- temporaries ---------------------------------------------------------------------------
def test_a_save_killed_mid_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "ckpt.npz"
    ts.save({"w": np.zeros(10)}, path)
    script = (
        "import os, signal, numpy as np, tinyseq as ts\n"
        "real = np.lib.format.write_array\n"
        "def die(fp, array, *a, **k):\n"
        "    fp.write(b'x' * 1000); fp.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "np.lib.format.write_array = die\n"
        f"ts.save({{'w': np.ones(10)}}, {str(path)!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".ckpt.npz.")
    np.testing.assert_array_equal(ts.load(path)["w"], np.zeros(10))  # the old checkpoint is intact
    ts.save({"w": np.ones(10)}, path)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_a_live_writer_s_temporary_and_other_targets_are_left_alone(tmp_path):
    ts.save({"a": 1}, tmp_path / "a.npz")
    prefix = serialization._temp_prefix(str(tmp_path / "a.npz"))
    live = tmp_path / f"{prefix}{os.getppid()}.abc.tmp"  # a running process (our parent)
    other = tmp_path / f"{serialization._temp_prefix(str(tmp_path / 'b.npz'))}999999999.abc.tmp"
    live.write_bytes(b"x")
    other.write_bytes(b"x")
    ts.save({"a": 2}, tmp_path / "a.npz")
    assert live.exists() and other.exists()


# -- permissions, symlinks, long names ------------------------------------------------------
@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_saving_over_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "private.npz"
    ts.save({"x": 1}, path)
    os.chmod(path, 0o600)
    ts.save({"x": 2}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ts.load(path) == {"x": 2}


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges there")
def test_saving_to_a_symlink_writes_through_to_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "ckpt-001.npz"
    ts.save({"step": 1}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    ts.save({"step": 2}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert ts.load(target) == {"step": 2} and ts.load(link) == {"step": 2}
    assert sorted(os.listdir(tmp_path / "runs")) == ["ckpt-001.npz"]


def test_a_long_file_name_saves(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    path = tmp_path / ("c" * (limit - 4) + ".npz")
    ts.save({"x": 3}, path)
    ts.save({"x": 4}, path)
    assert ts.load(path) == {"x": 4}
    assert os.listdir(tmp_path) == [path.name]


# -- malformed structure.json ---------------------------------------------------------------
@pytest.mark.parametrize(
    "root, where",
    [
        ({"dict": 5}, "root/dict"),
        ({"dict": [["a"]]}, "root/dict/0"),
        ({"dict": [[["k"], 1]]}, "root/dict/0"),
        ({"list": {"a": 1}}, "root/list"),
        ({"tuple": [1, {"dict": [[1, {"bogus": 1}]]}]}, "root/tuple/1/dict/0"),
        ({"tensor": 5}, "root/tensor"),
        ({"tensor": "x", "requires_grad": "yes"}, "root/requires_grad"),
        ({"list": [{"ndarray": "x"}, {"ndarray": "x"}]}, "root/list/1/ndarray"),
        ({"npscalar": "x"}, "root/npscalar"),
        ([1, 2], "root"),
        ({}, "root"),
    ],
)
def test_malformed_structure_fields_raise_checkpoint_error_naming_them(tmp_path, root, where):
    path = tmp_path / "bad.npz"
    _write(path, root, [("x", np.arange(3.0))])
    with pytest.raises(CheckpointError, match=f"malformed structure.json entry at {where}:"):
        ts.load(path)


def test_malformed_header_fields_raise_checkpoint_error(tmp_path):
    path = tmp_path / "bad.npz"
    _write(path, 1, version="2")
    with pytest.raises(CheckpointError, match="'version' must be an int, got '2'"):
        ts.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("structure.json", json.dumps({"format": "tinyseq-checkpoint", "version": 1}))
    with pytest.raises(CheckpointError, match="no 'root' entry"):
        ts.load(path)
    deep = '{"list": [' * 5000 + "1" + "]}" * 5000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("structure.json", '{"format": "tinyseq-checkpoint", "version": 1, "root": ' + deep + "}")
    buf.seek(0)
    with pytest.raises(CheckpointError):
        ts.load(buf)


# -- what a load may allocate ---------------------------------------------------------------
def test_a_member_listed_many_times_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    _write(path, {"list": [{"ndarray": "x"}] * 3000}, [("x", np.zeros(1 << 17))], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match="member 'x' is used twice"):
        ts.load(path)


def test_a_highly_compressed_member_is_refused_before_it_is_unpacked(tmp_path):
    path = tmp_path / "bomb.npz"
    _write(path, {"ndarray": "x"}, [("x", np.zeros(10 << 20))], zipfile.ZIP_DEFLATED)  # 80 MB of zeros
    with pytest.raises(CheckpointError, match="refused as a compression bomb"):
        ts.load(path)


def test_an_array_header_larger_than_its_member_is_refused(tmp_path):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("x.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)})
            f.write(b"\0" * 64)
        zf.writestr("structure.json", json.dumps({"format": "tinyseq-checkpoint", "version": 1,
                                                  "root": {"ndarray": "x"}}))
    with pytest.raises(CheckpointError, match=r"member 'x' claims shape \(1099511627776,\)"):
        ts.load(path)


def test_compressed_checkpoints_of_ordinary_size_still_load(tmp_path):
    path = tmp_path / "small.npz"
    _write(path, {"dict": [["a", {"ndarray": "a"}], ["b", {"tensor": "b", "requires_grad": True}]]},
           [("a", np.arange(1000.0)), ("b", np.ones(5, np.float32))], zipfile.ZIP_DEFLATED)
    back = ts.load(path)
    assert back["a"].tolist() == list(range(1000)) and back["b"].requires_grad
