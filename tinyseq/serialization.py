"""Checkpoints: ``save(obj, path)`` / ``load(path)`` as one ``.npz`` file, never pickle.

``obj`` is any nesting of dicts (str or int keys), lists and tuples whose
leaves are tensors, numpy arrays, numpy scalars, Python numbers, strings,
bools or None -- e.g. ``{"model": model.state_dict(), "optim": opt.state_dict(),
"epoch": 3}``. Each array is an npz member named by its key path
(``model/lstm.weight_ih_l0.npy``); the structure (keys, container types and
scalars) is the JSON member ``structure.json``, so a checkpoint can be
inspected with any zip tool, and loading it never runs code.

Saving writes a temporary file next to ``path``, fsyncs it and renames it over
``path``, so a crash mid-write leaves the previous checkpoint untouched.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import zipfile
from collections import OrderedDict

import numpy as np

from .module_checkpoint import (  # noqa: F401  (ts.serialization.safe_globals, as PyTorch)
    add_safe_globals,
    clear_safe_globals,
    decode_module,
    encode_module,
    get_safe_globals,
    safe_globals,
)
from .tensor import Tensor

_STRUCTURE = "structure.json"
_FORMAT = "tinyseq-checkpoint"
_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]")


class CheckpointError(ValueError):
    """A file that is not a readable tinyseq checkpoint (truncated, corrupt, or foreign)."""


# -- save ---------------------------------------------------------------------------------
def save(obj, path) -> None:
    """Write ``obj`` to ``path`` (a file name, used as given; or a writable binary file object).

    Raises TypeError for values it cannot store (naming their key path) and
    ValueError for object arrays."""
    arrays: dict = {}
    root = _encode(obj, "", arrays)
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}, allow_nan=True)
    if hasattr(path, "write"):
        _write_zip(path, header, arrays)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open with 0o666 lets the umask pick the final permissions, as for a plain open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, header, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _write_zip(f, header: str, arrays: dict) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
        zf.writestr(_STRUCTURE, header)


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _member_name(path: str, arrays: dict) -> str:
    """A readable, unique member name from the key path; the structure records the
    exact keys, so names only need to be safe to extract ("..", odd characters -> "_")."""
    parts = [_UNSAFE.sub("_", part) for part in path.split("/")]
    name = "/".join("_" if part in ("", ".", "..") else part for part in parts) if path else "root"
    unique, n = name, 1
    while unique in arrays:
        n += 1
        unique = f"{name}~{n}"
    return unique


def _store(array: np.ndarray, path: str, arrays: dict) -> str:
    if array.dtype.hasobject:
        raise ValueError(
            f"save: the array at {path or '<root>'!r} has dtype object; checkpoints hold numeric, bool "
            "and string arrays only (they are never pickled)"
        )
    name = _member_name(path, arrays)
    arrays[name] = array
    return name


def _encode(obj, path: str, arrays: dict):
    """JSON node for obj: plain JSON for None/bool/int/float/str, a one-key dict otherwise."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj if type(obj) in (int, float) else _number(obj)
    if isinstance(obj, Tensor):
        from .nn.module import Parameter

        node = {"tensor": _store(obj.numpy(), path, arrays)}
        if obj.requires_grad:
            node["requires_grad"] = True
        if isinstance(obj, Parameter):
            node["parameter"] = True
        return node
    if isinstance(obj, np.ndarray):
        return {"ndarray": _store(obj, path, arrays)}
    if isinstance(obj, np.generic):
        return {"npscalar": _store(np.asarray(obj), path, arrays)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, np.integer)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(k).__name__} {k!r} at {path or '<root>'!r}"
                )
            k = k if isinstance(k, str) else int(k)
            items.append([k, _encode(v, f"{path}/{k}" if path else str(k), arrays)])
        return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
    if _is_module(obj):
        return encode_module(obj, path, arrays, _encode)
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {path or '<root>'!r}; checkpoints hold dicts, lists, "
        "tuples, tensors, numpy arrays, numbers, strings, bools and None"
    )


def _is_module(obj) -> bool:
    from .nn.module import Module

    return isinstance(obj, Module)


def _number(x):
    """Python int/float subclasses (IntEnum, ...) stored as their plain value."""
    return int(x) if isinstance(x, int) else float(x)


# -- load ---------------------------------------------------------------------------------
def load(path, map_location=None, weights_only=None, *, device=None, mmap=None):
    """Read a checkpoint written by ``save``. Tensors (and modules) come back on ``device``
    (default "cpu") with their saved dtype; numpy arrays stay numpy arrays.

    ``map_location`` is PyTorch's name for ``device`` (a device or its name; the function
    form ``lambda storage, loc: storage`` means the CPU). ``weights_only`` and ``mmap`` are
    accepted for PyTorch's call signature: loading never runs code from the file either way,
    and only trusted classes are rebuilt (see ``ts.serialization.safe_globals``).

    Raises CheckpointError (a ValueError) naming the file when it is truncated,
    corrupt, or not a tinyseq checkpoint; object arrays are refused, never unpickled."""
    device = _map_location(map_location, device)
    name = getattr(path, "name", None) if hasattr(path, "read") else os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:
        raise CheckpointError(f"load: {name!r} is not a readable checkpoint (truncated or corrupt? {e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise CheckpointError(f"load: {name!r} holds a single .npy array, not a tinyseq checkpoint")
    with npz:
        try:
            header = json.loads(npz.zip.read(_STRUCTURE).decode("utf-8"))
        except KeyError:
            msg = f"load: {name!r} is an .npz file without {_STRUCTURE}; not a tinyseq checkpoint"
            raise CheckpointError(msg) from None
        except Exception as e:
            raise CheckpointError(f"load: {name!r} has an unreadable {_STRUCTURE} (corrupt? {e})") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise CheckpointError(f"load: {name!r} is not a tinyseq checkpoint")
        if header.get("version", 0) > _VERSION:
            raise CheckpointError(
                f"load: {name!r} is checkpoint format version {header['version']}; this tinyseq reads up "
                f"to version {_VERSION}"
            )
        return _Decoder(npz, name, device).decode(header.get("root"))


def _map_location(map_location, device):
    """The device to load onto, from PyTorch's ``map_location`` or tinyseq's ``device``."""
    if map_location is None:
        return device
    if device is not None:
        raise TypeError("load: give device= or map_location=, not both")
    if isinstance(map_location, dict):
        raise NotImplementedError("load: map_location as a dict of device names is not supported; pass one device")
    if callable(map_location) and not isinstance(map_location, str) and not hasattr(map_location, "type"):
        return "cpu"  # the usual function form keeps storages where they are deserialised: the CPU
    return str(map_location)


class _Decoder:
    def __init__(self, npz, name, device):
        self.npz, self.name, self.device = npz, name, device if device is not None else "cpu"

    def array(self, member: str) -> np.ndarray:
        try:
            return self.npz[member + ".npy"]
        except ValueError as e:
            if "pickle" in str(e):
                raise CheckpointError(
                    f"load: {self.name!r} member {member!r} is an object array; refused (checkpoints are never "
                    "unpickled)"
                ) from None
            raise CheckpointError(f"load: {self.name!r} member {member!r} is corrupt ({e})") from None
        except KeyError:
            raise CheckpointError(f"load: {self.name!r} lacks the array member {member!r}") from None
        except Exception as e:
            raise CheckpointError(f"load: {self.name!r} member {member!r} is truncated or corrupt ({e})") from None

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or len(node) < 1:
            raise CheckpointError(f"load: {self.name!r} has a malformed structure entry {node!r}")
        if "tensor" in node:
            array = self.array(node["tensor"])
            if node.get("parameter"):
                from .nn.module import Parameter

                return Parameter(Tensor(array, device=self.device), requires_grad=node.get("requires_grad", False))
            return Tensor(array, device=self.device, requires_grad=node.get("requires_grad", False))
        if "ndarray" in node:
            return self.array(node["ndarray"])
        if "npscalar" in node:
            return self.array(node["npscalar"])[()]
        if "dict" in node or "odict" in node:
            out = OrderedDict() if "odict" in node else {}
            for k, v in node.get("dict", node.get("odict")):
                out[k] = self.decode(v)
            return out
        if "list" in node:
            return [self.decode(v) for v in node["list"]]
        if "tuple" in node:
            return tuple(self.decode(v) for v in node["tuple"])
        if "module" in node:
            return decode_module(node["module"], self.decode, self.name, self.device)
        raise CheckpointError(f"load: {self.name!r} has an unknown structure entry {sorted(node)}")
