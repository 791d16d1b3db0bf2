"""Checkpoints: ``save(obj, path)`` / ``load(path)`` as one ``.npz`` file, never pickle.

``obj`` is any nesting of dicts (str or int keys), lists and tuples whose
leaves are tensors, numpy arrays, numpy scalars, Python numbers, strings,
bools or None -- e.g. ``{"model": model.state_dict(), "optim": opt.state_dict(),
"epoch": 3}``. Each array is an npz member named by its key path
(``model/lstm.weight_ih_l0.npy``); the structure (keys, container types and
scalars) is the JSON member ``structure.json``, so a checkpoint can be
inspected with any zip tool, and loading it never runs code.

Saving writes a temporary file next to ``path``, fsyncs it and renames it over
``path``, so a crash mid-write leaves the previous checkpoint untouched (and the
next save removes the temporary such a crash left). A file saved over keeps its
permissions; a symlink keeps pointing at the (new) checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import uuid
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from ._tensor import Tensor
from .module_checkpoint import (  # noqa: F401  (ts.serialization.safe_globals, as PyTorch)
    CheckpointError,
    add_safe_globals,
    clear_safe_globals,
    decode_module,
    encode_module,
    get_safe_globals,
    safe_globals,
)

_STRUCTURE = "structure.json"
_FORMAT = "tinyseq-checkpoint"
_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]")


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
    # Through a symlink to its target, as open() would write: the link stays a link.
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    prefix = _temp_prefix(target)
    _remove_stale_temporaries(folder, prefix)
    tmp = os.path.join(folder, f"{prefix}{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open with 0o666 lets the umask pick the permissions of a new file, as for a plain
    # open(); a file saved over keeps its own (a 0600 checkpoint stays private).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    _in_flight.add(tmp)
    try:
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        except FileNotFoundError:
            pass
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, header, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        _in_flight.discard(tmp)
    _fsync_dir(folder)


# The temporaries this process is writing now: a save killed mid-write (SIGKILL, power loss)
# leaves its temporary behind, and the next save to the same target removes it, unless a
# live process is still writing it.
_in_flight: set = set()


def _temp_prefix(target: str) -> str:
    """``.<name>.<hash>.``: hidden, tied to one target, and short enough for any name (the
    file system's limit is on the whole name; a long checkpoint name is cut, the hash kept)."""
    base = os.path.basename(target)
    return f".{base[:100]}.{zlib.crc32(base.encode('utf-8', 'surrogateescape')):08x}."


def _remove_stale_temporaries(folder: str, prefix: str) -> None:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        path = os.path.join(folder, name)
        if not pid.isdigit() or path in _in_flight or _alive(int(pid)):
            continue
        try:
            os.unlink(path)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    """Whether another process ``pid`` runs (this one's own leftovers are not in flight)."""
    if pid == os.getpid():
        return False
    if os.name == "nt":  # os.kill(pid, 0) would end the process there; keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, OverflowError):
        return True  # exists but not ours, or no way to tell: leave it
    return True


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
        version = header.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int):
            raise CheckpointError(f"load: {name!r} has a malformed {_STRUCTURE}: 'version' must be an int, got "
                                  f"{version!r}")  # fmt: skip
        if version > _VERSION:
            raise CheckpointError(
                f"load: {name!r} is checkpoint format version {version}; this tinyseq reads up to version {_VERSION}"
            )
        if "root" not in header:
            raise CheckpointError(f"load: {name!r} has a malformed {_STRUCTURE}: no 'root' entry")
        decoder = _Decoder(npz, name, device)
        try:
            return decoder.decode(header["root"], "root")
        except RecursionError:
            raise CheckpointError(f"load: {name!r} has a malformed {_STRUCTURE}: nested too deeply") from None


# A checkpoint's arrays may not unpack to more than this many times the bytes stored for
# them (plus a little): save stores members uncompressed, so a real checkpoint is near 1x,
# and a small file that would fill the memory (a "zip bomb") is refused before it does.
_MAX_RATIO = 200
_SLACK = 64 << 20


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
    """Structure entries -> objects. Every field is checked, and a bad one raises
    CheckpointError naming its place (``root/dict/2``); each array member is read at most
    once, and all together within the size budget above."""

    def __init__(self, npz, name, device):
        self.npz, self.name, self.device = npz, name, device if device is not None else "cpu"
        infos = npz.zip.infolist()
        self.budget = _MAX_RATIO * sum(i.compress_size for i in infos) + _SLACK
        self.used = 0
        self.seen: set = set()

    def bad(self, where, what):
        return CheckpointError(f"load: {self.name!r} has a malformed {_STRUCTURE} entry at {where}: {what}")

    def array(self, member, where) -> np.ndarray:
        if not isinstance(member, str):
            raise self.bad(where, f"an array member name must be a string, got {member!r}")
        if member in self.seen:
            raise self.bad(where, f"member {member!r} is used twice (save never writes that)")
        self.seen.add(member)
        try:
            info = self.npz.zip.getinfo(member + ".npy")
        except KeyError:
            raise CheckpointError(f"load: {self.name!r} lacks the array member {member!r}") from None
        self.used += info.file_size
        if self.used > self.budget:
            raise CheckpointError(
                f"load: {self.name!r} would unpack to more than {self.budget:,} bytes of arrays ({_MAX_RATIO}x its "
                "stored size); refused as a compression bomb"
            )
        self._check_header(member, info)
        try:
            return self.npz[member + ".npy"]
        except ValueError as e:
            if "pickle" in str(e):
                raise CheckpointError(
                    f"load: {self.name!r} member {member!r} is an object array; refused (checkpoints are never "
                    "unpickled)"
                ) from None
            raise CheckpointError(f"load: {self.name!r} member {member!r} is corrupt ({e})") from None
        except Exception as e:
            raise CheckpointError(f"load: {self.name!r} member {member!r} is truncated or corrupt ({e})") from None

    def _check_header(self, member, info) -> None:
        """The array's own header may not promise more bytes than the member holds: numpy
        allocates the whole array before it reads a byte."""
        fmt = np.lib.format
        try:
            with self.npz.zip.open(info) as f:
                major, _ = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
                shape, _, dtype = read(f)
        except Exception as e:
            raise CheckpointError(f"load: {self.name!r} member {member!r} is truncated or corrupt ({e})") from None
        if dtype.hasobject:
            return  # refused as an object array when read (never unpickled)
        need = math.prod(shape) * dtype.itemsize
        if need > info.file_size:
            raise CheckpointError(
                f"load: {self.name!r} member {member!r} claims shape {shape} ({need:,} bytes) but holds "
                f"{info.file_size:,} bytes; truncated or corrupt"
            )

    def decode(self, node, where):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or not node:
            raise self.bad(where, f"expected a value or a one-key object, got {node!r:.80}")
        if "tensor" in node:
            array = self.array(node["tensor"], f"{where}/tensor")
            flags = {}
            for flag in ("requires_grad", "parameter"):
                value = node.get(flag, False)
                if not isinstance(value, bool):
                    raise self.bad(f"{where}/{flag}", f"must be true or false, got {value!r:.80}")
                flags[flag] = value
            if flags["requires_grad"] and array.dtype.kind not in "fc":
                raise self.bad(f"{where}/requires_grad", f"a {array.dtype} tensor cannot require grad")
            if flags["parameter"]:
                from .nn.module import Parameter

                return Parameter(Tensor(array, device=self.device), requires_grad=flags["requires_grad"])
            return Tensor(array, device=self.device, requires_grad=flags["requires_grad"])
        if "ndarray" in node:
            return self.array(node["ndarray"], f"{where}/ndarray")
        if "npscalar" in node:
            array = self.array(node["npscalar"], f"{where}/npscalar")
            if array.ndim != 0:
                raise self.bad(f"{where}/npscalar", f"a numpy scalar must be 0-d, got shape {array.shape}")
            return array[()]
        if "dict" in node or "odict" in node:
            kind = "dict" if "dict" in node else "odict"
            items = node[kind]
            if not isinstance(items, list):
                raise self.bad(f"{where}/{kind}", f"expected a list of [key, value] pairs, got {items!r:.80}")
            out = OrderedDict() if kind == "odict" else {}
            for i, item in enumerate(items):
                here = f"{where}/{kind}/{i}"
                if not isinstance(item, list) or len(item) != 2:
                    raise self.bad(here, f"expected a [key, value] pair, got {item!r:.80}")
                key = item[0]
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise self.bad(here, f"a key must be a string or an int, got {key!r:.80}")
                out[key] = self.decode(item[1], here)
            return out
        for kind in ("list", "tuple"):
            if kind in node:
                values = node[kind]
                if not isinstance(values, list):
                    raise self.bad(f"{where}/{kind}", f"expected a list, got {values!r:.80}")
                out = [self.decode(v, f"{where}/{kind}/{i}") for i, v in enumerate(values)]
                return out if kind == "list" else tuple(out)
        if "module" in node:
            return decode_module(node["module"], lambda sub: self.decode(sub, f"{where}/module"), self.name,
                                 self.device, f"{where}/module")  # fmt: skip
        raise self.bad(where, f"unknown entry {sorted(node)}")
