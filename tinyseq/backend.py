"""Devices and their array modules.

A *backend* couples a device name ("cpu", "cuda:0", ...) with the array module
(``xp``) that holds its data and a random generator seeded by
``tinyseq.manual_seed``. Ops never import numpy or cupy for array math; they
use ``tensor.xp`` (the backend's module).

"cpu" is numpy. Other device kinds are registered by their own packages
(``tinyseq_gpu`` registers "cuda") when first asked for, so importing tinyseq
never imports CuPy, reads the environment or prints.
"""

from __future__ import annotations

import importlib
import os
import threading
import zlib

import numpy as np

_DEFAULT_SEED = 0x5EED


class Backend:
    """One device: ``name`` (e.g. "cpu"), ``xp`` (its array module) and ``rng``.

    Subclasses override ``to_host``/``from_host`` for devices whose arrays live
    elsewhere, and ``make_rng`` for their own generators.
    """

    def __init__(self, name: str, xp):
        self.name = name
        self.xp = xp
        self.device_name = str.__new__(device, name)  # what a tensor's .device says
        self.rng = self.make_rng(_seed_for(name))
        # name -> device kernels that fused ops use instead of their array code
        self.kernels = {}

    def make_rng(self, seed: int):
        return np.random.default_rng(seed)

    def seed(self, seed: int) -> None:
        self.rng = self.make_rng(seed)

    def asarray(self, data, dtype=None):
        """Array on this device from host data or another of this device's arrays."""
        return self.xp.asarray(data, dtype=dtype)

    def from_host(self, array: np.ndarray):
        return self.xp.asarray(array)

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def owns(self, array) -> bool:
        """True when ``array`` is an array of this device (not e.g. a host array)."""
        return isinstance(array, np.ndarray)

    def synchronize(self) -> None:
        pass

    def activate(self) -> None:
        """Make this device the current one of its kind (a GPU index); called by set_default_device."""

    def scatter_add(self, target, index, values) -> None:
        """target[index] += values, accumulating repeated indices (in place)."""
        xp = self.xp
        if (getattr(index, "ndim", 0) == 1 and index.dtype.kind in "iu" and target.ndim == 2 and index.size > 32
                and values.shape == (index.size, target.shape[1])):  # fmt: skip
            # Rows by one index each (an embedding's backward): ufunc.at adds them one row at a
            # time, ~10x slower than sorting the indices and summing each run of equal ones.
            order = xp.argsort(index, kind="stable")
            idx = index[order]
            if idx[0] >= 0:  # a negative index may name the same row as a positive one
                starts = xp.flatnonzero(xp.concatenate((xp.ones(1, dtype=bool), idx[1:] != idx[:-1])))
                target[idx[starts]] += xp.add.reduceat(values[order], starts, axis=0)
                return
        xp.add.at(target, index, values)

    def transpose_into(self, out, a):
        """out[...] = a.T for a 2-D ``a`` (R, C) and a C-contiguous ``out`` (C, R); returns out.

        In blocks of 32 rows of ``a``: a plain transposed copy reads ``a`` a
        column at a time, a new page for every element once a row is a few KB,
        and runs ~10x slower on a (2048, 512) float32 matrix (0.8 vs 7.4 ms)."""
        rows = a.shape[0]
        if a.size < 1 << 16:
            out[...] = a.T
            return out
        for i in range(0, rows, 32):
            out[:, i : i + 32] = a[i : i + 32].T
        return out

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    def __deepcopy__(self, memo):
        # One Backend per device: a deep-copied tensor or module stays on the same device.
        return self


# kind -> (module to import lazily, or None once registered) and factory(index) -> Backend
_factories: dict = {"cpu": lambda index: Backend("cpu", np)}
_lazy_modules: dict = {"cuda": "tinyseq_gpu", "strict": "tinyseq.devices.strict"}
_backends: dict = {}
_seed = [None]  # the last manual_seed, None until one is given
_default = [None]  # the process's default device (TINYSEQ_DEVICE), resolved on first use


class _PerThreadDevice(threading.local):
    device = None  # set_default_device's choice in this thread; None: the process default


# Per thread, as PyTorch's set_default_device: a worker thread that picks a device for its
# own tensors does not move another thread's.
_chosen = _PerThreadDevice()


def register_device(kind: str, factory) -> None:
    """Register a device kind; ``factory(index) -> Backend`` builds one device."""
    _factories[kind] = factory
    _lazy_modules.pop(kind, None)


def _seed_for(name: str) -> int:
    base = _DEFAULT_SEED if _seed[0] is None else _seed[0]
    # Each device gets its own stream so seeding one does not depend on which
    # devices were touched before; the "cpu" stream equals the plain seed.
    return base if name == "cpu" else zlib.crc32(f"{base}:{name}".encode())


class device(str):
    """PyTorch's ``torch.device``: ``device("cuda:1")``, ``device("cuda", 1)``, ``device("cpu")``.

    ``.type`` is the kind ("cpu", "cuda"), ``.index`` the number or None. It is
    also the string it prints as ("cuda:1"), so it goes wherever a device string
    does (``.to``, ``device=``, ``Module.to``) and compares equal to that string.
    A tensor's ``.device`` is one of these."""

    __slots__ = ()

    def __new__(cls, type, index=None):  # noqa: A002  (PyTorch's argument name)
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool) and index is None:
            type, index = "cuda", type  # torch.device(1) is the GPU of that index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string or an int, got {type.__class__.__name__}")
        kind, colon, number = type.partition(":")
        if colon:
            if index is not None:
                raise RuntimeError(f"device: type {type!r} already has an index; do not also pass index={index}")
            if not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        known = set(_factories) | set(_lazy_modules)
        if kind not in known:
            raise RuntimeError(f"device: unknown device type {kind!r} in {type!r} (known: {', '.join(sorted(known))})")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RuntimeError(f"device: the index must be a non-negative int, got {index!r}")
            if kind == "cpu" and index != 0:
                raise RuntimeError(f"device: there is one cpu device, got index {index}")
        return super().__new__(cls, kind if index is None else f"{kind}:{index}")

    @property
    def type(self) -> str:
        return str.__str__(self).partition(":")[0]

    @property
    def index(self):
        number = str.__str__(self).partition(":")[2]
        return int(number) if number else None

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __reduce__(self):
        return device, (str(self),)


def canonical(device) -> str:
    """Normalise a device spec: "cuda" -> "cuda:0", "cpu" -> "cpu"."""
    if isinstance(device, Backend):
        return device.name
    if not isinstance(device, str):
        # an array library's device object: cupy.cuda.Device names its GPU by .id
        index = getattr(device, "id", None)
        device = f"cuda:{index}" if isinstance(index, int) else str(device)
    kind, _, index = device.partition(":")
    if kind == "cpu":
        if index not in ("", "0"):
            raise ValueError(f"device: unknown device {device!r}")
        return "cpu"
    if index and not index.isdigit():
        raise ValueError(f"device: bad device index in {device!r}")
    return f"{kind}:{int(index or 0)}"


def get_backend(device=None) -> Backend:
    """The backend for ``device`` (default: the default device)."""
    if device is None:
        device = default_device()
    if isinstance(device, Backend):
        return device
    name = canonical(device)
    be = _backends.get(name)
    if be is not None:
        return be
    kind, _, index = name.partition(":")
    if kind not in _factories and kind in _lazy_modules:
        module = _lazy_modules[kind]
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise RuntimeError(
                f"device {device!r} needs the {module} package and CuPy with a "
                f"working GPU ({e}); install them with: pip install 'tinyseq[gpu]'"
            ) from None
    if kind not in _factories:
        known = ", ".join(sorted(set(_factories) | set(_lazy_modules)))
        raise ValueError(f"device: unknown device {device!r} (known kinds: {known})")
    be = _factories[kind](int(index or 0))
    _backends[name] = be
    return be


def default_device() -> str:
    """This thread's default device: the last ``set_default_device`` of this thread, else
    TINYSEQ_DEVICE (read on first use, not at import), else "cpu"."""
    chosen = _chosen.device
    if chosen is not None:
        return chosen
    if _default[0] is None:
        spec = os.environ.get("TINYSEQ_DEVICE", "cpu") or "cpu"
        kinds = ", ".join(sorted(set(_factories) | set(_lazy_modules)))
        valid = f"valid values: cpu, cuda, cuda:<index> (device kinds: {kinds})"
        try:
            name = canonical(spec)
        except ValueError:
            raise ValueError(f"TINYSEQ_DEVICE={spec!r} is not a device; {valid}") from None
        kind = name.partition(":")[0]
        if kind not in _factories and kind not in _lazy_modules:
            raise ValueError(f"TINYSEQ_DEVICE={spec!r} names no known device; {valid}")
        try:
            get_backend(name)  # a device that cannot start says so here, naming the variable
        except (RuntimeError, ValueError) as e:
            raise type(e)(f"TINYSEQ_DEVICE={spec!r}: {e}") from None
        _default[0] = name
    return _default[0]


def get_default_device() -> device:
    """The default device as a ``ts.device`` (PyTorch's ``get_default_device``)."""
    return get_backend(default_device()).device_name


def set_default_device(device) -> None:
    """Make ``device`` the device new tensors go to when none is named, in this thread (as
    PyTorch's); None goes back to the process default (TINYSEQ_DEVICE, else "cpu")."""
    if device is None:
        _chosen.device = None
        return
    get_backend(device).activate()  # fail now, not at the first factory call
    _chosen.device = canonical(device)


def manual_seed(seed: int) -> None:
    """Seed every random draw tinyseq makes, on every device."""
    _seed[0] = int(seed)
    for be in _backends.values():
        be.seed(_seed_for(be.name))


def host_rng() -> np.random.Generator:
    """The host generator (shuffling, dropout masks on the CPU, initialisation)."""
    return get_backend("cpu").rng
