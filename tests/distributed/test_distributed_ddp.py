"""DistributedDataParallel's bookkeeping in one process, on a stand-in world (no MPI):
bucket layout and its rebuild, and the errors. The real multi-process runs are in
test_distributed_mpi.py."""

import copy

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.distributed import group as _group
from tinyseq.distributed.mpi import Work
from tinyseq.nn.parallel import DistributedDataParallel as DDP


class _Comm:
    """One rank's collectives: nothing to exchange; records the reductions started."""

    name = "mpi"

    def __init__(self):
        self.started = []

    def start_all_reduce(self, array, op="sum"):
        self.started.append(array.size)
        return Work(None)

    def broadcast(self, array, root=0):
        pass


class _Mpi:
    def __init__(self, others=()):
        self.others = list(others)  # what the other ranks would report to allgather

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1 + len(self.others)

    def allgather(self, obj):
        return [obj] + self.others

    def bcast(self, obj, root=0):
        return obj


@pytest.fixture
def world(monkeypatch):
    w = _group.ProcessGroup("mpi", _Mpi(), _Comm(), 0, "cpu")
    monkeypatch.setattr(_group, "_world", [w])
    return w


def _mlp():
    return ts.nn.Sequential(ts.nn.Linear(3, 4), ts.nn.Tanh(), ts.nn.Linear(4, 2))


def test_buckets_fill_in_reverse_registration_order_and_split_by_dtype(world):
    model = _mlp()
    model[0].double()  # a float64 layer and a float32 layer cannot share a flat buffer
    ddp = DDP(model, bucket_cap_mb=1e-6)  # 1 byte: every parameter closes its bucket
    names = {id(p): n for n, p in model.named_parameters()}
    layout = [[names[id(p)] for p in b.params] for b in ddp._buckets]
    assert layout == [["2.bias"], ["2.weight"], ["0.bias"], ["0.weight"]]
    assert [b.flat.dtype for b in ddp._buckets] == [np.float32, np.float32, np.float64, np.float64]
    some = DDP(_mlp(), bucket_cap_mb=40 / 2**20)  # 40 bytes: 2.bias (8 bytes) and 2.weight (32) share one
    assert [[p.shape for p in b.params] for b in some._buckets] == [[(2,), (2, 4)], [(4,), (4, 3)]]
    assert [[p.shape for p in b.params] for b in DDP(_mlp())._buckets] == [[(2,), (2, 4), (4,), (4, 3)]]


class _UsedOutOfOrder(ts.nn.Module):
    """Layers registered in one order and used in the other: their gradients arrive
    in neither the reverse registration order that the first buckets guess."""

    def __init__(self):
        super().__init__()
        self.out = ts.nn.Linear(4, 2)
        self.inp = ts.nn.Linear(3, 4)

    def forward(self, x):
        return self.out(ts.tanh(self.inp(x)))


def test_buckets_are_rebuilt_once_in_the_order_gradients_arrived(world):
    model = _UsedOutOfOrder()
    ddp = DDP(model, bucket_cap_mb=1e-6)
    before = [b.params[0].shape for b in ddp._buckets]
    arrived = []
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda p: arrived.append(p.shape))
    ddp(ts.ones(5, 3)).sum().backward()
    after = [b.params[0].shape for b in ddp._buckets]
    assert before == [(4,), (4, 3), (2,), (2, 4)]
    assert after == arrived == [(2,), (2, 4), (4,), (4, 3)]
    world.comm.started.clear()
    ddp(ts.ones(5, 3)).sum().backward()
    assert world.comm.started == [int(np.prod(s)) for s in after]  # started in the new order


def test_the_reduced_gradients_land_in_grad_and_no_sync_skips_the_reduction(world):
    model = _mlp()
    reference = copy.deepcopy(model)
    ddp = DDP(model)
    x = ts.randn(2, 3)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert world.comm.started == []
    ddp(x * 2).sum().backward()
    assert len(world.comm.started) == 1 and ddp.comm_stats["steps"] == 1
    reference(x).sum().backward()
    reference(x * 2).sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())  # one rank: the mean is the sum itself


def test_a_second_backward_through_one_forward_is_not_reduced_twice(world):
    ddp = DDP(_mlp())
    loss = ddp(ts.ones(2, 3)).sum()
    loss.backward(retain_graph=True)
    loss.backward()  # the reduction of this forward is done: gradients only accumulate locally
    assert ddp.comm_stats["steps"] == 1


def test_error_when_ranks_build_different_models(monkeypatch):
    model = _mlp()
    theirs = [(n, p.shape, str(p.dtype)) for n, p in model.named_parameters()]
    theirs[1] = ("0.bias", (5,), "float32")
    w = _group.ProcessGroup("mpi", _Mpi(others=[theirs]), _Comm(), 0, "cpu")
    monkeypatch.setattr(_group, "_world", [w])
    with pytest.raises(RuntimeError, match=r"rank 1's model differs from rank 0's: rank 0 has \('0.bias', \(4,\), "
                                           r"'float32'\), rank 1 has \('0.bias', \(5,\), 'float32'\)"):  # fmt: skip
        DDP(model)


def test_bad_arguments(world):
    with pytest.raises(TypeError, match="DistributedDataParallel: expected a Module, got Tensor"):
        DDP(ts.ones(2))
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive, got 0"):
        DDP(_mlp(), bucket_cap_mb=0)
    with pytest.raises(ValueError, match="device_ids/output_device name cuda:1, but the module is on cpu"):
        DDP(_mlp(), device_ids=[1])


def test_nccl_needs_the_module_on_the_ranks_gpu(monkeypatch):
    w = _group.ProcessGroup("nccl", _Mpi(), _Comm(), 0, "cuda:0")
    monkeypatch.setattr(_group, "_world", [w])
    with pytest.raises(RuntimeError, match=r"uses cuda:0, but parameter '0.weight' \(shape \(4, 3\)\) is on cpu"):
        DDP(_mlp())
