"""NCCL collectives on CuPy arrays: the "nccl" backend of ``ts.distributed``.

The one place tinyseq calls NCCL (through CuPy's ``cupy.cuda.nccl``). Rank 0
makes the NCCL unique id and MPI broadcasts it, so MPI does the rendezvous and
NCCL moves the data, GPU to GPU. Every call is enqueued on the current CuPy
stream: later work on that stream sees its result, and the host is not
blocked. Arrays must be contiguous; every method is a collective.
"""

from __future__ import annotations

from .backend import INSTALL


def import_nccl(cupy=None):
    """(cupy, cupy.cuda.nccl), or a RuntimeError saying what is missing."""
    try:
        if cupy is None:
            import cupy
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError(
            f"ts.distributed: the nccl backend needs CuPy built with NCCL ({INSTALL}; CuPy's wheels load NCCL "
            f"from the nvidia-nccl-cu12 package: pip install nvidia-nccl-cu12) ({type(e).__name__}: {e})"
        ) from None
    if not getattr(nccl, "available", True):
        raise RuntimeError("ts.distributed: CuPy cannot find the NCCL library (pip install nvidia-nccl-cu12)")
    return cupy, nccl


class _Enqueued:
    """The Work of a call already ordered on the stream: waiting has nothing left to do on the host."""

    def wait(self) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    test = is_completed


class NcclComm:
    """In-place collectives on contiguous CuPy arrays of one GPU per rank.

    mpi_comm: an mpi4py communicator over the same ranks (carries the unique id);
    device: the index of this rank's GPU. ``cupy``/``nccl`` are the modules to use
    (tests pass stand-ins)."""

    name = "nccl"

    def __init__(self, mpi_comm, device: int, cupy=None, nccl=None):
        if nccl is None:
            cupy, nccl = import_nccl(cupy)
        self.mpi, self._cupy, self._nccl = mpi_comm, cupy, nccl
        self.rank, self.size = mpi_comm.Get_rank(), mpi_comm.Get_size()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_comm.bcast(uid, root=0)
        self.device = device
        with cupy.cuda.Device(device):
            self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._types = {
            "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64,
            "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64, "int8": nccl.NCCL_INT8, "uint8": nccl.NCCL_UINT8,
        }  # fmt: skip
        self._ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}

    def _type(self, array, what: str) -> int:
        code = self._types.get(str(array.dtype))
        if code is None:
            raise TypeError(f"{what}: NCCL has no type for {array.dtype} (shape {tuple(array.shape)})")
        return code

    def _stream(self) -> int:
        return self._cupy.cuda.get_current_stream().ptr

    def start_all_reduce(self, array, op: str = "sum"):
        ptr = array.data.ptr
        self.comm.allReduce(ptr, ptr, array.size, self._type(array, "all_reduce"), self._ops[op], self._stream())
        if op == "mean":
            array /= self.size  # on the same stream, after the sum
        return _Enqueued()

    def all_reduce(self, array, op: str = "sum") -> None:
        self.start_all_reduce(array, op)

    def broadcast(self, array, root: int = 0) -> None:
        self.comm.bcast(array.data.ptr, array.size, self._type(array, "broadcast"), root, self._stream())

    def all_gather(self, array):
        """-> a CuPy array ``(size, *array.shape)`` whose row r is rank r's ``array``."""
        out = self._cupy.empty((self.size,) + tuple(array.shape), dtype=array.dtype)
        code = self._type(array, "all_gather")
        self.comm.allGather(array.data.ptr, out.data.ptr, array.size, code, self._stream())
        return out

    def barrier(self) -> None:
        self._cupy.cuda.get_current_stream().synchronize()
        self.mpi.Barrier()

    def close(self) -> None:
        self.comm.destroy()
