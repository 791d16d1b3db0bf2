"""Collectives on arrays over MPI (mpi4py): the "mpi" backend.

Arrays are host (NumPy) arrays; callers stage other devices' arrays through
the host, so the "mpi" backend also serves GPU tensors without a CUDA-aware
MPI (slower than "nccl"). Every method is a collective: all ranks call it in
the same order.
"""

from __future__ import annotations

import numpy as np

OPS = ("sum", "mean", "max", "min")
INSTALL = 'pip install "tinyseq[distributed]"  (mpi4py and MPICH)'


def import_mpi():
    """mpi4py's MPI module (importing it starts MPI), or a RuntimeError saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            f"ts.distributed: the mpi backend needs mpi4py and an MPI library: {INSTALL}; then launch with "
            f"`mpiexec -n 2 python -m mpi4py script.py` ({type(e).__name__}: {e})"
        ) from None
    return MPI


class Work:
    """A started reduction: ``wait()`` blocks until the array holds the result."""

    def __init__(self, request, finish=None):
        self._request, self._finish = request, finish

    def is_completed(self) -> bool:
        done = self._request is None or self._request.Test()
        if done:
            self._complete()
        return done

    def test(self) -> bool:
        """Let MPI progress this reduction without blocking (MPI moves data only inside calls)."""
        return self.is_completed()

    def wait(self) -> bool:
        if self._request is not None:
            self._request.Wait()
        self._complete()
        return True

    def _complete(self):
        self._request = None
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()


class MpiComm:
    """In-place collectives on contiguous NumPy arrays over an mpi4py communicator."""

    name = "mpi"

    def __init__(self, comm, MPI):
        self.mpi, self._MPI = comm, MPI
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def start_all_reduce(self, array, op: str = "sum") -> Work:
        """Start reducing ``array`` across ranks in place; ``mean`` divides by the world size."""
        request = self.mpi.Iallreduce(self._MPI.IN_PLACE, array, op=self._ops[op])
        if op != "mean":
            return Work(request)

        def finish():
            array[...] /= self.size

        return Work(request, finish)

    def all_reduce(self, array, op: str = "sum") -> None:
        self.start_all_reduce(array, op).wait()

    def broadcast(self, array, root: int = 0) -> None:
        self.mpi.Bcast(array, root=root)

    def all_gather(self, array):
        """-> an array ``(size, *array.shape)`` whose row r is rank r's ``array``."""
        out = np.empty((self.size,) + array.shape, dtype=array.dtype)
        self.mpi.Allgather(array, out)
        return out

    def barrier(self) -> None:
        self.mpi.Barrier()

    def close(self) -> None:
        pass

