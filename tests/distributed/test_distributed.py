"""ts.distributed in one process: errors, DistributedSampler against PyTorch's, shard_streams,
DataLoader's sampler, and the NCCL adapter (tinyseq_gpu.nccl) against a fake NCCL on the CPU.
The multi-process checks are in test_distributed_mpi.py."""

import contextlib
import ctypes
import sys
import threading
import types

import numpy as np
import pytest

import tinyseq as ts
import tinyseq.distributed as dist
from tinyseq.distributed import group as _group
from tinyseq_gpu.nccl import NcclComm


def test_missing_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(RuntimeError, match=r"needs mpi4py.*tinyseq\[distributed\].*mpiexec -n 2 python -m mpi4py"):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_functions_before_init_process_group_say_so():
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(RuntimeError, match=rf"{fn.__name__}: the default process group has not been initialized"):
            fn()
    with pytest.raises(RuntimeError, match="all_reduce: the default process group has not been initialized"):
        dist.all_reduce(ts.ones(2))
    with pytest.raises(RuntimeError, match="DistributedDataParallel: the default process group"):
        ts.nn.parallel.DistributedDataParallel(ts.nn.Linear(2, 2))


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'gloo'; tinyseq has mpi, nccl"):
        dist.init_process_group("gloo")


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (5, 2, True)])
def test_sampler_shares_match_pytorch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for rank in range(replicas):
        ours = dist.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


def test_sampler_shuffles_per_epoch_and_the_shares_are_disjoint():
    shares = [dist.DistributedSampler(range(9), num_replicas=3, rank=r, seed=5) for r in range(3)]
    first = [list(s) for s in shares]
    assert sorted(sum(first, [])) == list(range(9))
    assert [list(s) for s in shares] == first  # same epoch, same order
    for s in shares:
        s.set_epoch(1)
    second = [list(s) for s in shares]
    assert sorted(sum(second, [])) == list(range(9)) and second != first


def test_sampler_errors():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank, or call ts.distributed.init_process_group"):
        dist.DistributedSampler(range(4))


def test_dataloader_takes_a_sampler():
    data = np.arange(10.0)
    loader = ts.data.DataLoader(data, batch_size=2, sampler=dist.DistributedSampler(data, 2, 1, shuffle=False))
    assert len(loader) == 3
    assert [b.tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        ts.data.DataLoader(data, sampler=range(10), shuffle=True)


def test_shard_streams():
    data = ts.data.batchify(ts.arange(24), 6)  # (4, 6)
    parts = [dist.shard_streams(data, num_replicas=3, rank=r) for r in range(3)]
    assert [p.shape for p in parts] == [(4, 2)] * 3
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts], axis=1), data.numpy())
    with pytest.raises(ValueError, match=r"6 streams \(data of shape \(4, 6\)\) do not split evenly between 4 ranks"):
        dist.shard_streams(data, num_replicas=4, rank=0)
    with pytest.raises(ValueError, match=r"must be a \(T, B, \.\.\.\) tensor as batchify returns, got \(24,\)"):
        dist.shard_streams(ts.arange(24), num_replicas=2, rank=0)


# -- the NCCL adapter, against a fake NCCL: one thread per rank, data found through pointers ---------
class _World:
    """What the ranks' fakes share: every call is an exchange of one value per rank."""

    def __init__(self, n):
        self.n, self.slots, self.barrier = n, [None] * n, threading.Barrier(n, timeout=10)
        self.calls, self.ids_made = [], 0

    def exchange(self, rank, value):
        self.slots[rank] = value
        self.barrier.wait()
        out = list(self.slots)
        self.barrier.wait()
        return out


class _FakeMpi:
    def __init__(self, world, rank):
        self.world, self.rank = world, rank

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.world.n

    def bcast(self, obj, root=0):
        return self.world.exchange(self.rank, obj)[root]

    def Barrier(self):
        self.world.exchange(self.rank, None)


class _DeviceArray(np.ndarray):
    """A host array that names its memory as CuPy's arrays do: ``.data.ptr``."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)


_TYPES = {1: np.float16, 2: np.float32, 3: np.float64, 4: np.int32, 5: np.int64, 6: np.int8, 7: np.uint8}


def _fake_nccl(world):
    def at(ptr, count, code):
        dtype = np.dtype(_TYPES[code])
        return np.frombuffer((ctypes.c_char * (count * dtype.itemsize)).from_address(ptr), dtype=dtype)

    class NcclCommunicator:
        def __init__(self, ndev, uid, rank):
            assert ndev == world.n
            self.uid, self.rank = uid, rank
            world.exchange(rank, uid)

        def allReduce(self, send, recv, count, dtype, op, stream):
            world.calls.append(("allReduce", self.rank, count, dtype, op, stream))
            parts = world.exchange(self.rank, at(send, count, dtype).copy())
            reduce = {10: np.sum, 11: np.max, 12: np.min}[op]
            at(recv, count, dtype)[:] = reduce(np.stack(parts), axis=0)

        def bcast(self, buf, count, dtype, root, stream):
            world.calls.append(("bcast", self.rank, count, dtype, root, stream))
            at(buf, count, dtype)[:] = world.exchange(self.rank, at(buf, count, dtype).copy())[root]

        def allGather(self, send, recv, count, dtype, stream):
            parts = world.exchange(self.rank, at(send, count, dtype).copy())
            at(recv, count * world.n, dtype)[:] = np.concatenate(parts)

        def destroy(self):
            world.calls.append(("destroy", self.rank))

    def get_unique_id():
        world.ids_made += 1
        return tuple(range(world.ids_made, world.ids_made + 128))

    names = ["FLOAT16", "FLOAT32", "FLOAT64", "INT32", "INT64", "INT8", "UINT8"]
    consts = {f"NCCL_{k}": v for k, v in zip(names, _TYPES)}
    consts.update(NCCL_SUM=10, NCCL_MAX=11, NCCL_MIN=12)
    return types.SimpleNamespace(NcclCommunicator=NcclCommunicator, get_unique_id=get_unique_id, **consts)


_fake_cupy = types.SimpleNamespace(
    cuda=types.SimpleNamespace(
        Device=lambda i: contextlib.nullcontext(),
        get_current_stream=lambda: types.SimpleNamespace(ptr=4242, synchronize=lambda: None),
    ),
    empty=lambda shape, dtype: np.empty(shape, dtype).view(_DeviceArray),
)


def _on_ranks(n, body):
    """Run ``body(comm, rank)`` on n threads, each with its own NcclComm; -> results by rank."""
    world = _World(n)
    nccl = _fake_nccl(world)
    results, errors = [None] * n, []

    def run(rank):
        try:
            comm = NcclComm(_FakeMpi(world, rank), device=rank, cupy=_fake_cupy, nccl=nccl)
            results[rank] = body(comm, rank)
            comm.close()
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            world.barrier.abort()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    if errors:
        raise errors[0]
    return world, results


def _dev(values, dtype=np.float64):
    return np.array(values, dtype=dtype).view(_DeviceArray)


def test_nccl_adapter_collectives():
    def body(comm, rank):
        s = _dev([1.0, 2.0]) * (rank + 1)
        comm.all_reduce(s, "sum")
        m = _dev([1.0, 2.0], np.float32) * (rank + 1)
        comm.start_all_reduce(m, "mean").wait()
        x = _dev([rank, -rank], np.int64)
        comm.all_reduce(x, "max")
        b = _dev([rank] * 3, np.float32)
        comm.broadcast(b, root=2)
        g = comm.all_gather(_dev([rank, rank + 0.5]))
        return s.tolist(), m.tolist(), m.dtype, x.tolist(), b.tolist(), g.tolist()

    world, results = _on_ranks(3, body)
    for s, m, m_dtype, x, b, g in results:
        assert s == [6.0, 12.0] and m == [2.0, 4.0] and m_dtype == np.float32 and x == [2, 0]
        assert b == [2.0, 2.0, 2.0] and g == [[0, 0.5], [1, 1.5], [2, 2.5]]
    assert world.ids_made == 1  # rank 0 made the unique id; MPI carried it to the others
    calls = [c for c in world.calls if c[0] == "allReduce"]
    assert {c[5] for c in calls} == {4242}  # enqueued on the current stream
    assert {c[3] for c in calls} == {3, 2, 5}  # float64, float32, int64 as NCCL's types
    assert sum(c[0] == "destroy" for c in world.calls) == 3


def test_nccl_adapter_refuses_a_dtype_nccl_lacks():
    def body(comm, rank):
        with pytest.raises(TypeError, match=r"all_reduce: NCCL has no type for bool \(shape \(2,\)\)"):
            comm.all_reduce(_dev([True, False], bool), "max")

    _on_ranks(2, body)


def test_nccl_group_refuses_cpu_tensors(monkeypatch):
    comm = types.SimpleNamespace(close=lambda: None)
    world = _group.ProcessGroup("nccl", _FakeMpi(_World(1), 0), comm, 0, "cuda:0")
    monkeypatch.setattr(_group, "_world", [world])
    with pytest.raises(RuntimeError, match=r"nccl backend reduces CUDA tensors; this one \(shape \(2,\)\) is on cpu"):
        dist.all_reduce(ts.ones(2))
