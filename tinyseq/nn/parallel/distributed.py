"""DistributedDataParallel: one model replica per process, gradients averaged during backward.

What happens, as in PyTorch's DDP:

1. Construction checks that every rank has the same parameters (names, shapes,
   dtypes), then copies rank 0's parameters and buffers to every rank.
2. Parameters that require grad are packed, in *reverse* registration order
   (a guess at the order backward produces their gradients), into flat
   buckets of about ``bucket_cap_mb`` (the first one smaller, 1 MiB, so
   communication starts early). After the first synced backward the buckets
   are rebuilt once in the order rank 0's gradients actually became ready
   (unless ``find_unused_parameters``): the guess is often wrong, and a bucket
   can start only when all its gradients are in.
3. During backward, each parameter's post-accumulate-grad hook copies its
   finished ``.grad`` into its bucket. When a bucket is full it is handed to
   an all-reduce (mean) at once, while backward keeps computing the layers
   below. Buckets start strictly in index order, so every rank starts the
   same collectives in the same order whatever order its hooks fire in.
4. The last hook waits for all reductions and writes the averaged gradients
   back into ``.grad``; every replica then takes the same optimizer step.

``no_sync()`` skips steps 3-4 (gradients accumulate locally; the next synced
backward averages the accumulated sum). ``find_unused_parameters=True``
walks the output's graph after forward and marks parameters that did not
take part as ready (their bucket slots hold zeros); a parameter no rank used
keeps ``grad`` None. Without it, an unused parameter leaves the reduction
unfinished, and the next forward says so.
"""

from __future__ import annotations

import contextlib
import time
import weakref

import numpy as np

from ..._tensor import Tensor
from ...autograd import is_grad_enabled
from ...distributed import group as _group
from ..module import Module

_FIRST_BUCKET_BYTES = 1 << 20


class _Bucket:
    """A flat buffer holding the gradients of ``params`` back to back (same dtype and device)."""

    def __init__(self, index, params, host: bool):
        self.index, self.params, self.host = index, params, host
        self.offsets, n = [], 0
        for p in params:
            self.offsets.append(n)
            n += p._data.size
        be = params[0]._backend
        self.be = be
        xp = np if host else be.xp
        self.flat = xp.zeros(n, dtype=params[0]._data.dtype)
        self.nbytes = self.flat.nbytes

    def copy_in(self, k: int, p) -> None:
        o, n = self.offsets[k], p._data.size
        if p.grad is None:
            self.flat[o : o + n] = 0
        else:
            g = p.grad._data
            self.flat[o : o + n] = (self.be.to_host(g) if self.host else g).reshape(-1)

    def copy_out(self, k: int, p) -> None:
        o, n = self.offsets[k], p._data.size
        part = self.flat[o : o + n].reshape(p._data.shape)
        if self.host:
            part = self.be.from_host(part)
        if p.grad is None:
            p.grad = Tensor._make(self.be.xp.array(part, copy=True), self.be)
        else:
            p.grad._data[...] = part


def _tensors_in(value, out):
    """Every tensor in a (nested) output: tuples, lists, dicts, namedtuples."""
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _tensors_in(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, out)
    return out


def _reachable_leaves(outputs) -> set:
    """ids of the leaf tensors that the outputs' graph reaches (one walk, no recursion)."""
    leaves, seen, stack = set(), set(), []
    for t in outputs:
        if t._ctx is None:
            leaves.add(id(t))
        elif id(t._ctx) not in seen:
            seen.add(id(t._ctx))
            stack.append(t._ctx)
    while stack:
        for parent, idx in stack.pop().parents:
            if parent is None:
                continue
            if idx < 0:
                leaves.add(id(parent))
            elif id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return leaves


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients over all ranks.

    module: the model (the same architecture on every rank; its device is where
    the group's tensors live). bucket_cap_mb: bucket size in MiB (default 25).
    find_unused_parameters: look for parameters a forward did not use (costs a
    graph walk per forward). broadcast_buffers: copy rank 0's buffers before each
    forward. process_group: the default group (the only one). ``device_ids`` and
    ``output_device`` are accepted for PyTorch compatibility and must name, if
    given, the module's own device.

    ``ddp.module`` is the wrapped model (save its ``state_dict()`` to get keys
    without the ``module.`` prefix). ``comm_stats`` counts what the reductions
    cost: bytes handed to all-reduce, seconds spent waiting at the end of backward.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False):  # fmt: skip
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        world = _group._group(process_group, "DistributedDataParallel")
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.world, self.bucket_cap_mb = world, cap
        self.find_unused_parameters, self.broadcast_buffers = bool(find_unused_parameters), bool(broadcast_buffers)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._check_devices(named, device_ids, output_device)
        self._check_same_everywhere(module)
        self._broadcast([p for _, p in module.named_parameters()] + [b for _, b in module.named_buffers()])
        self._params = [p for _, p in named]
        self._names = [n for n, _ in named]
        self._buckets, self._where = self._make_buckets(list(reversed(range(len(self._params)))))
        self._rebuild = not self.find_unused_parameters  # once, from the first backward's order
        self._order = []
        self._sync = True
        self._armed = False  # a synced forward ran: this backward reduces
        self._started = False  # a hook of this backward has fired
        self._reset()
        self.comm_stats = {"steps": 0, "bytes": 0, "wait_seconds": 0.0, "buckets": len(self._buckets)}
        me = weakref.ref(self)  # hooks must not keep the wrapper (and through it the module) alive
        handles = [
            p.register_post_accumulate_grad_hook(lambda _p, i=i: _ready_hook(me, i)) for i, p in enumerate(self._params)
        ]
        # A dropped wrapper takes its hooks with it: the bare model's backward then counts nothing.
        weakref.finalize(self, _remove_all, handles)

    # -- construction --------------------------------------------------------------------------------
    def _check_devices(self, named, device_ids, output_device) -> None:
        world = self.world
        for n, p in named:
            kind = p._backend.name
            if world.backend == "nccl" and kind != world.device:
                raise RuntimeError(
                    f"DistributedDataParallel: the nccl backend of this rank uses {world.device}, but parameter "
                    f"{n!r} (shape {p.shape}) is on {kind}; move the model first: model.to({world.device!r})"
                )
        for ids in (device_ids or []), ([] if output_device is None else [output_device]):
            for d in ids:
                name = f"cuda:{d}" if isinstance(d, int) else str(d)
                if named and name != named[0][1]._backend.name:
                    raise ValueError(
                        f"DistributedDataParallel: device_ids/output_device name {name}, but the module is on "
                        f"{named[0][1]._backend.name}; one process drives one device"
                    )

    def _check_same_everywhere(self, module) -> None:
        mine = [(n, p.shape, str(p.dtype)) for n, p in module.named_parameters()]
        mine += [(n, b.shape, str(b.dtype)) for n, b in module.named_buffers()]
        everyone = self.world.mpi.allgather(mine)
        for rank, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next((a, b) for a, b in zip(everyone[0] + [None], theirs + [None]) if a != b)
                raise RuntimeError(
                    f"DistributedDataParallel: rank {rank}'s model differs from rank 0's: rank 0 has {diff[0]}, "
                    f"rank {rank} has {diff[1]} (name, shape, dtype); every rank must build the same model"
                )

    def _broadcast(self, tensors) -> None:
        """Overwrite ``tensors`` with rank 0's, one collective per dtype and device."""
        groups: dict = {}
        for t in tensors:
            groups.setdefault((t._backend.name, t._data.dtype.str), []).append(t)
        host = self.world.backend == "mpi"
        for ts_ in groups.values():
            be = ts_[0]._backend
            xp = np if host else be.xp
            flat = xp.concatenate([(be.to_host(t._data) if host else t._data).reshape(-1) for t in ts_])
            self.world.comm.broadcast(flat, 0)
            o = 0
            for t in ts_:
                n = t._data.size
                part = flat[o : o + n].reshape(t._data.shape)
                t._data[...] = be.from_host(part) if host else part
                t._bump_version()
                o += n

    def _make_buckets(self, order):
        """Buckets filled with the parameters in ``order`` (indices), split by dtype and device;
        -> (buckets, {parameter index: (bucket, slot)})."""
        params = self._params
        cap = int(self.bucket_cap_mb * (1 << 20))
        host = self.world.backend == "mpi"
        closed, open_, where = [], {}, {}
        for i in order:
            p = params[i]
            key = (p._backend.name, p._data.dtype.str)
            members = open_.setdefault(key, [])
            members.append(i)
            limit = min(cap, _FIRST_BUCKET_BYTES) if not closed else cap
            if sum(params[j]._data.nbytes for j in members) >= limit:
                closed.append(open_.pop(key))
        closed += [m for m in open_.values() if m]
        buckets = []
        for b, members in enumerate(closed):
            buckets.append(_Bucket(b, [params[i] for i in members], host))
            for k, i in enumerate(members):
                where[i] = (b, k)
        return buckets, where

    # -- each step -----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._pending = [len(b.params) for b in self._buckets]
        self._marked = [False] * len(self._params)
        self._next = 0
        self._works = []
        self._unused = []
        self._used_flags = None

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forward/backward accumulate gradients locally, with no communication;
        the first synced backward after it averages the accumulated gradients."""
        before, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = before

    def forward(self, *args, **kwargs):
        if self._armed and self._started:
            missing = [self._names[i] for i, m in enumerate(self._marked) if not m]
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior iteration before "
                "starting a new one: some parameters were not used in producing the loss, so their gradients "
                f"never became ready ({', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}). Pass "
                "find_unused_parameters=True, or make sure every forward output takes part in the loss"
            )
        if self.broadcast_buffers and self._sync and self.world.size > 1:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers:
                self._broadcast(buffers)
        out = self.module(*args, **kwargs)
        self._reset()
        self._started = False
        self._armed = self._sync and is_grad_enabled()
        if self._armed and self.find_unused_parameters:
            reached = _reachable_leaves(_tensors_in(out, []))
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        return out

    def _on_ready(self, i: int) -> None:
        if not self._armed:
            return  # no_sync, or a backward through the wrapped module without this wrapper's forward
        if not self._started:
            self._started = True
            if self.find_unused_parameters:
                # which parameters some rank used: one small reduction, started before any bucket's
                flags = np.ones(len(self._params), dtype=np.uint8)
                flags[self._unused] = 0
                if self.world.backend != "mpi":
                    flags = self._buckets[0].be.from_host(flags)
                self._used_flags = (flags, self.world.comm.start_all_reduce(flags, "max"))
                for j in self._unused:
                    self._mark(j)
        self._mark(i)

    def _mark(self, i: int) -> None:
        if self._marked[i]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[i]!r} was marked ready twice in one backward "
                "(a second backward through the same forward, with retain_graph?); call forward again"
            )
        self._marked[i] = True
        if self._rebuild:
            self._order.append(i)
        b, k = self._where[i]
        bucket = self._buckets[b]
        bucket.copy_in(k, self._params[i])
        self._pending[b] -= 1
        if self._pending[b]:
            for w in self._works:  # MPI moves data only inside its calls: let the started ones progress
                w.test()
            return
        while self._next < len(self._buckets) and self._pending[self._next] == 0:
            nxt = self._buckets[self._next]
            self._works.append(self.world.comm.start_all_reduce(nxt.flat, "mean"))
            self.comm_stats["bytes"] += nxt.nbytes
            self._next += 1
        if self._next == len(self._buckets):
            self._finish()

    def _finish(self) -> None:
        t0 = time.perf_counter()
        for w in self._works:
            w.wait()
        unused_everywhere = set()
        if self._used_flags is not None:
            flags, work = self._used_flags
            work.wait()
            flags = flags if isinstance(flags, np.ndarray) else self._buckets[0].be.to_host(flags)
            unused_everywhere = {i for i in self._unused if not flags[i]}
        self.comm_stats["wait_seconds"] += time.perf_counter() - t0
        self.comm_stats["steps"] += 1
        for i, p in enumerate(self._params):
            if i in unused_everywhere:
                continue  # no rank used it: its grad stays as it was (None), as in PyTorch
            b, k = self._where[i]
            self._buckets[b].copy_out(k, p)
        self._armed = False
        self._started = False
        if self._rebuild:
            # every rank takes rank 0's order, so all build the same buckets
            self._rebuild, order = False, self.world.mpi.bcast(self._order, root=0)
            self._buckets, self._where = self._make_buckets(order)
            self.comm_stats["buckets"] = len(self._buckets)
            self._reset()

    def extra_repr(self) -> str:
        return f"world_size={self.world.size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}"


def _remove_all(handles) -> None:
    for h in handles:
        h.remove()


def _ready_hook(ref, i: int) -> None:
    ddp = ref()
    if ddp is not None:
        ddp._on_ready(i)
