"""The default process group and the collectives on tensors (``ts.distributed.*``).

One process per CPU worker or GPU, started by ``mpiexec``; MPI (mpi4py) finds
the others. ``init_process_group`` picks the backend: "mpi" reduces host
arrays through MPI, "nccl" reduces GPU arrays through NCCL (its rendezvous
still over MPI) and puts each rank on ``cuda:<local rank>``. A single process
started without ``mpiexec`` is a world of size 1, so the same script runs
alone.
"""

from __future__ import annotations

import os
import sys

from .._tensor import Tensor
from ..backend import canonical, default_device, set_default_device
from .mpi import OPS, MpiComm, import_mpi

BACKENDS = ("mpi", "nccl")
# What launchers tell their processes about the world's size: MPICH/Hydra, Open MPI, MVAPICH, torchrun.
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "WORLD_SIZE")


class ReduceOp:
    """Reduction operations, as PyTorch names them; the strings "sum", "mean", "max", "min" also work."""

    SUM = "sum"
    AVG = "mean"
    MAX = "max"
    MIN = "min"


class ProcessGroup:
    """The ranks of one job: ``rank``, ``size``, ``local_rank`` (its index among the ranks
    on this host), ``backend`` ("mpi" or "nccl"), ``device`` (where its tensors live) and
    ``comm`` (the array collectives)."""

    def __init__(self, backend, mpi, comm, local_rank, device):
        self.backend, self.mpi, self.comm = backend, mpi, comm
        self.rank, self.size = mpi.Get_rank(), mpi.Get_size()
        self.local_rank, self.device = local_rank, device

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, rank={self.rank}, size={self.size}, device={self.device!r})"


_world: list = [None]  # the default group
_hook: list = [None]  # the sys.excepthook that init_process_group replaced


def is_available() -> bool:
    """Whether mpi4py is installed (``ts.distributed`` works only with it)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _world[0] is not None


def init_process_group(backend: str | None = None, *, world_size: int = -1, rank: int = -1) -> ProcessGroup:
    """Join the job's other processes; returns the default group (also kept for the functions here).

    backend: "mpi" (CPU tensors; GPU ones through host memory), "nccl" (GPU tensors,
    one GPU per rank), or None: "nccl" when the default device is CUDA, else "mpi".
    With "nccl", each rank takes ``cuda:<local rank>`` as its default device.
    world_size, rank: optional checks of what ``mpiexec`` started (-1: take what it is).

    Launch: ``mpiexec -n 2 python -m mpi4py train.py``. With more than one rank, an
    uncaught exception in any rank aborts the whole job (``MPI_Abort``) instead of
    leaving the others waiting in a collective.
    """
    if _world[0] is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group twice")
    if backend is None:
        backend = "nccl" if canonical(default_device()).startswith("cuda") else "mpi"
    backend = str(backend).lower()
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; tinyseq has {', '.join(BACKENDS)}")
    MPI = import_mpi()
    size, me = MPI.COMM_WORLD.Get_size(), MPI.COMM_WORLD.Get_rank()
    _check_launch(size, me, world_size, rank)
    mpi = MPI.COMM_WORLD.Dup()  # our own communicator: the user's own MPI calls cannot interleave with ours
    local = mpi.Split_type(MPI.COMM_TYPE_SHARED, key=me)
    local_rank = local.Get_rank()
    local.Free()
    if backend == "nccl":
        from tinyseq_gpu import device_count
        from tinyseq_gpu.nccl import NcclComm

        count = device_count()
        if local_rank >= count:
            raise RuntimeError(
                f"init_process_group: rank {me} is process {local_rank} on its host, which has {count} GPU(s); "
                "start at most one process per GPU on each host"
            )
        device = f"cuda:{local_rank}"
        set_default_device(device)
        comm = NcclComm(mpi, local_rank)
    else:
        device = canonical(default_device())
        comm = MpiComm(mpi, MPI)
    group = ProcessGroup(backend, mpi, comm, local_rank, device)
    _world[0] = group
    if size > 1 and _hook[0] is None:
        _hook[0] = sys.excepthook
        sys.excepthook = _abort_on_uncaught(MPI)
    return group


def _check_launch(size, me, world_size, rank) -> None:
    launch = "launch the script with `mpiexec -n N python -m mpi4py script.py`"
    for var in _LAUNCHER_SIZES:
        told = os.environ.get(var, "")
        if told.isdigit() and int(told) > 1 and size == 1:
            raise RuntimeError(
                f"init_process_group: the launcher started {told} processes ({var}={told}), but MPI sees a world "
                "of 1: this mpi4py uses a different MPI than the mpiexec that started it. Use the mpiexec "
                f"installed beside this Python ({os.path.join(sys.prefix, 'bin', 'mpiexec')})"
            )
    if world_size not in (-1, None) and world_size != size:
        not_launched = " (this process was not started by mpiexec)" if size == 1 else ""
        raise RuntimeError(
            f"init_process_group: world_size={world_size} was asked for, but MPI started {size} "
            f"process(es){not_launched}; {launch}, N={world_size}"
        )
    if rank not in (-1, None) and rank != me:
        raise RuntimeError(f"init_process_group: rank={rank} was asked for, but MPI made this process rank {me}")


def _abort_on_uncaught(MPI):
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)  # the traceback first, then take the other ranks down with us
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)

    return hook


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default group (MPI itself stays up until the process exits)."""
    world = _group(group, "destroy_process_group")
    world.comm.close()
    world.mpi.Free()
    _world[0] = None
    if _hook[0] is not None:
        sys.excepthook, _hook[0] = _hook[0], None


def _group(group, name) -> ProcessGroup:
    world = _world[0]
    if world is None:
        raise RuntimeError(
            f"{name}: the default process group has not been initialized; call "
            "ts.distributed.init_process_group() first"
        )
    if group is not None and group is not world:
        raise ValueError(f"{name}: tinyseq has one process group, the default one; got {group!r}")
    return world


def get_default_group() -> ProcessGroup:
    return _group(None, "get_default_group")


def get_rank(group: ProcessGroup | None = None) -> int:
    return _group(group, "get_rank").rank


def get_world_size(group: ProcessGroup | None = None) -> int:
    return _group(group, "get_world_size").size


def get_backend(group: ProcessGroup | None = None) -> str:
    return _group(group, "get_backend").backend


def barrier(group: ProcessGroup | None = None) -> None:
    _group(group, "barrier").comm.barrier()


# -- collectives on tensors ------------------------------------------------------------------
class _Staged:
    """A tensor's array as the communicator wants it (contiguous, and on the host for "mpi"),
    written back into the tensor by ``done()``."""

    def __init__(self, world, tensor, name):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name}: expected a tensor, got {type(tensor).__name__}")
        be = tensor._backend
        if world.backend == "nccl" and not be.name.startswith("cuda"):
            raise RuntimeError(
                f"{name}: the nccl backend reduces CUDA tensors; this one (shape {tensor.shape}) is on {be.name}. "
                f"Move it with .to('{world.device}')"
            )
        self.tensor, self.be = tensor, be
        a = tensor._data
        self.host = world.backend == "mpi" and be.name != "cpu"
        if self.host:
            a = be.to_host(a)
        self.array = a if a.flags.c_contiguous else a.copy()
        self.copied = self.host or self.array is not tensor._data

    def done(self):
        if self.copied:
            self.tensor._data[...] = self.be.from_host(self.array) if self.host else self.array
        self.tensor._bump_version()


def _op(op, name, tensor) -> str:
    key = str(getattr(op, "value", op)).lower()
    key = {"avg": "mean"}.get(key, key)
    if key not in OPS:
        raise ValueError(f"{name}: unknown op {op!r}; use one of {', '.join(OPS)} (or ReduceOp.SUM, AVG, MAX, MIN)")
    if key == "mean" and tensor._data.dtype.kind not in "fc":
        raise TypeError(f"{name}: op='mean' needs a floating-point tensor, got {tensor.dtype} (shape {tensor.shape})")
    return key


class _Work:
    def __init__(self, work, staged):
        self._work, self._staged = work, staged

    def wait(self) -> bool:
        if self._staged is not None:
            self._work.wait()
            staged, self._staged = self._staged, None
            staged.done()
        return True

    def is_completed(self) -> bool:
        return self._staged is None or self._work.is_completed()


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across ranks, in place: every rank ends with the sum (mean, max, min).
    With ``async_op=True`` returns a work whose ``wait()`` finishes it; else None."""
    world = _group(group, "all_reduce")
    key = _op(op, "all_reduce", tensor)
    staged = _Staged(world, tensor, "all_reduce")
    work = _Work(world.comm.start_all_reduce(staged.array, key), staged)
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s (same shape and dtype everywhere)."""
    world = _group(group, "broadcast")
    if not 0 <= src < world.size:
        raise ValueError(f"broadcast: src={src} is not a rank of this world of size {world.size}")
    staged = _Staged(world, tensor, "broadcast")
    world.comm.broadcast(staged.array, src)
    staged.done()
    return _Work(None, None) if async_op else None


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every rank; the list holds
    ``world_size`` tensors of ``tensor``'s shape and dtype."""
    world = _group(group, "all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != world.size:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of {world.size} tensors (the world size), got {got}")
    for t in tensor_list:
        if not isinstance(t, Tensor) or t.shape != tensor.shape or t.dtype != tensor.dtype:
            desc = f"{t.shape} {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"all_gather: every output must match the input tensor's shape {tensor.shape} and dtype "
                f"{tensor.dtype}, got {desc}"
            )
    staged = _Staged(world, tensor, "all_gather")
    rows = world.comm.all_gather(staged.array)
    for t, row in zip(tensor_list, rows):
        be = t._backend
        t._data[...] = be.from_host(row) if world.backend == "mpi" else row
        t._bump_version()
    return _Work(None, None) if async_op else None

