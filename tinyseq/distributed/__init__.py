"""Data-parallel training over several processes: ``ts.distributed`` (PyTorch's names).

    # mpiexec -n 2 python -m mpi4py train.py
    import tinyseq as ts
    import tinyseq.distributed as dist
    dist.init_process_group()                 # "mpi" on the CPU, "nccl" when the default device is CUDA
    model = ts.nn.parallel.DistributedDataParallel(Net())
    sampler = dist.DistributedSampler(dataset)
    loader = ts.data.DataLoader(dataset, batch_size=32, sampler=sampler)

MPI (mpi4py; ``pip install "tinyseq[distributed]"``) starts the processes and
does the rendezvous; it also reduces host arrays. NCCL, through CuPy, reduces
GPU arrays (``tinyseq_gpu.nccl``). Importing this package imports neither:
``init_process_group`` does.
"""

from .group import (
    ProcessGroup,
    ReduceOp,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_default_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)
from .sampler import DistributedSampler, shard_streams

__all__ = [
    "init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
    "get_world_size", "get_backend", "get_default_group", "barrier", "all_reduce", "broadcast", "all_gather",
    "ReduceOp", "ProcessGroup", "DistributedSampler", "shard_streams",
]  # fmt: skip
