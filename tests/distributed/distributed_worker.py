"""What tests/distributed/test_distributed_mpi.py runs under ``mpiexec``: one process per rank.

    mpiexec -n 2 python tests/distributed/distributed_worker.py checks RESULT.json
    mpiexec -n 2 python tests/distributed/distributed_worker.py crash
    python tests/distributed/distributed_worker.py single RESULT.json      (no launcher: a world of 1)
    mpiexec -n G python tests/distributed/distributed_worker.py nccl RESULT.json   (G GPUs: the nccl backend)

"checks" runs every scenario and rank 0 writes what each measured (numbers and
booleans the test then judges); "crash" makes rank 1 raise while rank 0 waits
in a barrier.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import os
import sys

import numpy as np

import tinyseq as ts
import tinyseq.distributed as dist
import tinyseq.nn.functional as F
from tinyseq.nn.parallel import DistributedDataParallel as DDP

B = 8  # the global batch; each of N ranks takes B / N rows


class Net(ts.nn.Module):
    """An LSTM and two linear heads, float64: x (T, batch, 3) -> (batch, 2)."""

    def __init__(self):
        super().__init__()
        self.lstm = ts.nn.LSTM(3, 5)
        self.mid = ts.nn.Linear(5, 4)
        self.head = ts.nn.Linear(4, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(ts.tanh(self.mid(out[-1])))


def make_net(seed):
    ts.manual_seed(seed)
    return Net().double().to(ts.default_device())


def batch(step=0):
    """The global batch of a step (the same on every rank): x (4, B, 3), y (B, 2), float64."""
    rng = np.random.default_rng(100 + step)
    dev = ts.default_device()
    return ts.tensor(rng.standard_normal((4, B, 3)), device=dev), ts.tensor(rng.standard_normal((B, 2)), device=dev)


def my_rows(x, y, rank, size):
    k = B // size
    return x[:, rank * k : (rank + 1) * k], y[rank * k : (rank + 1) * k]


def digest(module) -> str:
    h = hashlib.sha256()
    for _, p in module.named_parameters():
        h.update(p.numpy().tobytes())
    return h.hexdigest()


def grads_of(module):
    return {n: (None if p.grad is None else p.grad.numpy().copy()) for n, p in module.named_parameters()}


def max_diff(a, b) -> float:
    return max(float(np.abs(a[n] - b[n]).max()) for n in a)


# -- scenarios: each returns what rank 0 reports ----------------------------------------------------
def collectives(rank, size):
    t = ts.tensor([1.0, 2.0], dtype=ts.float64) * (rank + 1)
    dist.all_reduce(t)
    m = ts.tensor([1.0, 2.0], dtype=ts.float64) * (rank + 1)
    dist.all_reduce(m, op=dist.ReduceOp.AVG)
    x = ts.tensor([float(rank), -float(rank)])
    dist.all_reduce(x, op="max")
    b = ts.full((3,), float(rank))
    dist.broadcast(b, src=size - 1)
    out = [ts.zeros(2) for _ in range(size)]
    dist.all_gather(out, ts.tensor([rank, rank + 0.5]))
    return {"sum": t.tolist(), "mean": m.tolist(), "max": x.tolist(), "broadcast": b.tolist(),
            "gather": [o.tolist() for o in out]}  # fmt: skip


def construction_and_grads(rank, size):
    model = DDP(make_net(seed=rank), bucket_cap_mb=1e-4)  # each rank seeds differently
    digests = dist.get_default_group().mpi.allgather(digest(model.module))
    reference = copy.deepcopy(model.module)  # one process, the whole batch
    x, y = batch()
    F.mse_loss(model(my_rows(x, y, rank, size)[0]), my_rows(x, y, rank, size)[1]).backward()
    F.mse_loss(reference(x), y).backward()
    grads = dist.get_default_group().mpi.allgather(grads_of(model.module))
    return {
        "equal_after_construction": len(set(digests)) == 1,
        "buckets": len(model._buckets),
        "max_grad_diff_vs_one_process": max_diff(grads_of(model.module), grads_of(reference)),
        "max_grad_diff_between_ranks": max(max_diff(grads[0], g) for g in grads),
    }


def steps(rank, size, k=3):
    model = DDP(make_net(seed=rank), bucket_cap_mb=1e-4)
    opt = ts.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(k):
        x, y = my_rows(*batch(step), rank, size)
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    digests = dist.get_default_group().mpi.allgather(digest(model.module))
    return {"bitwise_equal_after_steps": len(set(digests)) == 1, "steps": k, "comm_stats": model.comm_stats}


def no_sync(rank, size):
    model = DDP(make_net(seed=0))
    reference = copy.deepcopy(model.module)
    mpi = dist.get_default_group().mpi
    for step in range(3):
        x, y = batch(step)
        F.mse_loss(reference(x), y).backward()
        xs, ys = my_rows(x, y, rank, size)
        if step < 2:
            with model.no_sync():
                F.mse_loss(model(xs), ys).backward()
            if step == 1:
                local = mpi.allgather(grads_of(model.module))
        else:
            F.mse_loss(model(xs), ys).backward()
    return {
        "ranks_differ_inside_no_sync": max_diff(local[0], local[-1]) > 1e-6,
        "max_grad_diff_vs_one_process": max_diff(grads_of(model.module), grads_of(reference)),
    }


class Branchy(ts.nn.Module):
    """Two branches; ``use`` says which take part (per rank)."""

    def __init__(self):
        super().__init__()
        self.a = ts.nn.Linear(3, 2)
        self.b = ts.nn.Linear(3, 2)
        self.never = ts.nn.Linear(3, 2)

    def forward(self, x, use=("a", "b")):
        return sum(getattr(self, name)(x) for name in use)


def unused(rank, size):
    ts.manual_seed(0)
    model = DDP(Branchy().double(), find_unused_parameters=True, bucket_cap_mb=1e-4)
    x = ts.tensor(np.random.default_rng(rank).standard_normal((4, 3)))
    use = ("a", "b") if rank == 0 else ("a",)  # b: used on rank 0 only; never: on no rank
    model(x, use).sum().backward()
    grads = dist.get_default_group().mpi.allgather(
        {n: None if p.grad is None else p.grad.numpy() for n, p in model.module.named_parameters()}
    )
    b_expected = 4.0 / size  # rank 0's sum over 4 rows of d(sum)/d(bias) = 4, the others 0, averaged
    strict = DDP(Branchy().double(), bucket_cap_mb=1e-4)
    strict(x, ("a",)).sum().backward()
    try:
        strict(x, ("a",))
        message = None
    except RuntimeError as e:
        message = str(e)
    return {
        "never_grad_is_none": all(g["never.weight"] is None for g in grads),
        "b_bias_grad": grads[0]["b.bias"].tolist(),
        "b_bias_expected": [b_expected] * 2,
        "b_equal_on_ranks": all(np.array_equal(g["b.weight"], grads[0]["b.weight"]) for g in grads),
        "error_without_find_unused": message,
    }


def overlap_and_order(rank, size):
    """Record, in order, DDP's bucket launches and when backward reaches the first layer."""

    class Chain(ts.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3 = ts.nn.Linear(3, 4), ts.nn.Linear(4, 5), ts.nn.Linear(5, 6)
            self.side1, self.side2 = ts.nn.Linear(3, 7), ts.nn.Linear(3, 8)

        def forward(self, x, events):
            h1 = ts.tanh(self.l1(x))
            h1.register_hook(lambda g: events.append("backward reaches l1's output"))
            out = self.l3(ts.tanh(self.l2(h1))).sum()
            # two side branches at the same depth, built in a rank-dependent order: on the two ranks
            # backward visits them (and their hooks fire) in opposite orders
            sides = [self.side1, self.side2] if rank == 0 else [self.side2, self.side1]
            for layer in sides:
                out = out + layer(x).sum()
            return out

    ts.manual_seed(0)
    model = DDP(Chain().double(), bucket_cap_mb=1e-5)  # about one parameter per bucket
    comm = dist.get_default_group().comm
    events, hooks = [], []
    start = comm.start_all_reduce

    def launch(array, op="sum"):
        events.append(f"reduce {array.size}")
        return start(array, op)

    comm.start_all_reduce = launch
    for name, p in model.module.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: hooks.append(name))
    for _ in range(2):  # the first backward rebuilds the buckets in the order its gradients came
        del events[:], hooks[:]
        loss = model(ts.tensor(np.ones((2, 3))), events)
        loss.backward()
        events.append("backward returned")
    comm.start_all_reduce = start
    everyone = dist.get_default_group().mpi.allgather({"events": events, "hooks": hooks})
    return {"events": everyone[0]["events"],
            "launches": [[e for e in r["events"] if e.startswith("reduce")] for r in everyone],
            "hook_orders": [r["hooks"] for r in everyone]}  # fmt: skip


def sampler(rank, size):
    n = 12
    out = {}
    for epoch in (0, 1):
        s = dist.DistributedSampler(list(range(n)), shuffle=True, seed=3)
        s.set_epoch(epoch)
        out[f"epoch{epoch}"] = dist.get_default_group().mpi.allgather(list(s))
    loader = ts.data.DataLoader(np.arange(10.0), batch_size=2, sampler=dist.DistributedSampler(np.arange(10.0)))
    out["loader"] = dist.get_default_group().mpi.allgather([b.tolist() for b in loader])
    return out


def streams(rank, size):
    data = ts.data.batchify(ts.arange(48), 4 * size)
    mine = dist.shard_streams(data)
    return {"columns": dist.get_default_group().mpi.allgather(mine[0].tolist()), "full": data[0].tolist()}


def checks(path):
    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    results = {"size": size}
    for scenario in (collectives, construction_and_grads, steps, no_sync, unused, overlap_and_order, sampler,
                     streams):  # fmt: skip
        results[scenario.__name__] = scenario(rank, size)
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        with open(path, "w") as f:
            json.dump(results, f)


def nccl(path):
    """The GPU path: each rank on cuda:<local rank>, gradients reduced by NCCL."""
    ts.set_default_device("cuda")
    dist.init_process_group()  # the default device is CUDA: "nccl"
    rank, size = dist.get_rank(), dist.get_world_size()
    results = {"size": size, "backend": dist.get_backend(), "device": dist.get_default_group().device}
    for scenario in (collectives, construction_and_grads, steps, no_sync):
        results[scenario.__name__] = scenario(rank, size)
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        with open(path, "w") as f:
            json.dump(results, f)


def crash():
    dist.init_process_group()
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.barrier()  # rank 0 would wait here forever if nothing aborted the job


def single(path):
    """No launcher: a world of 1, the launch checks, DDP that averages over one rank."""
    out = {}
    try:
        dist.init_process_group(world_size=2)
    except RuntimeError as e:
        out["world_size_error"] = str(e)
    os.environ["PMI_SIZE"] = "3"
    try:
        dist.init_process_group()
    except RuntimeError as e:
        out["launcher_mismatch_error"] = str(e)
    del os.environ["PMI_SIZE"]
    group = dist.init_process_group()
    out["rank"], out["size"], out["backend"] = dist.get_rank(), dist.get_world_size(), dist.get_backend()
    model = DDP(make_net(seed=1))
    reference = copy.deepcopy(model.module)
    x, y = batch()
    F.mse_loss(model(x), y).backward()
    F.mse_loss(reference(x), y).backward()
    out["max_grad_diff"] = max_diff(grads_of(model.module), grads_of(reference))
    from tinyseq import autograd

    out["hooked_with_wrapper"] = len(autograd._post_hooked)
    del model
    gc.collect()
    out["hooked_after_wrapper_dropped"] = len(autograd._post_hooked)
    try:
        dist.init_process_group()
    except RuntimeError as e:
        out["twice_error"] = str(e)
    out["repr"] = repr(group)
    dist.destroy_process_group()
    out["initialized_after_destroy"] = dist.is_initialized()
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "checks":
        checks(sys.argv[2])
    elif mode == "crash":
        crash()
    elif mode == "nccl":
        nccl(sys.argv[2])
    else:
        single(sys.argv[2])
