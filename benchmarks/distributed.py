"""Data-parallel training cost: DistributedDataParallel over MPI (and NCCL on a GPU machine).

    python benchmarks/distributed.py [--sizes 1,2] [--steps 20] [--ordering] [--json out.json]
    mpiexec -n 2 python benchmarks/distributed.py --worker       # one world size, by hand
    python benchmarks/distributed.py --device cuda --sizes 1     # the NCCL path (one rank per GPU)

Without --worker the script launches itself under ``mpiexec -n N`` for each
size and prints one table. The workload is a character LSTM (embedding 96x32,
2-layer LSTM of --hidden units, linear head) trained with Adam on random ids,
--batch streams of --seq steps *per rank* (weak scaling: ideal samples/s grows
with N). Per world size it reports:

- time per step and samples per second (rank 0's median over --steps steps);
- ``comm alone``: the same buckets all-reduced with nothing else running, i.e.
  what communication costs when backward hides none of it;
- ``exposed``: time the last gradient hook waits for the reductions at the end
  of backward, on the rank that got there last (the others also wait for it:
  that is ``skew``, load imbalance, not communication); ``hidden`` =
  1 - exposed / comm alone;
- bytes handed to all-reduce per rank per step, against 2(N-1)/N x parameter
  bytes, what a bandwidth-optimal (ring or reduce-scatter + all-gather)
  all-reduce sends and receives per rank;
- whether every rank started the same reductions in the same order.

--ordering adds 4 ranks, oversubscribed on small machines: it checks the
order of reductions; its timings mean nothing there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402

set_threads(1)  # one BLAS thread per rank: ranks are the parallelism

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1,2", help="world sizes to run (default 1,2)")
    p.add_argument("--ordering", action="store_true", help="also run 4 ranks (oversubscribed: order check only)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per size (default 20)")
    p.add_argument("--batch", type=int, default=16, help="streams per rank (default 16)")
    p.add_argument("--seq", type=int, default=32, help="steps per chunk (default 32)")
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (default 256)")
    p.add_argument("--bucket-cap-mb", type=float, default=25.0, help="DDP bucket size (default 25, PyTorch's)")
    p.add_argument("--device", default="cpu", help="cpu (mpi backend) or cuda (nccl backend)")
    p.add_argument("--worker", action="store_true", help="measure the world mpiexec started (rank 0 prints)")
    p.add_argument("--json", help="write the results here")
    return p.parse_args(argv)


def worker(args) -> dict:
    import numpy as np

    import tinyseq as ts
    import tinyseq.distributed as dist
    import tinyseq.nn.functional as F

    group = dist.init_process_group("nccl" if args.device.startswith("cuda") else "mpi")
    rank, size, device = group.rank, group.size, group.device
    V = 96

    class CharLSTM(ts.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = ts.nn.Embedding(V, 32)
            self.lstm = ts.nn.LSTM(32, args.hidden, num_layers=2)
            self.head = ts.nn.Linear(args.hidden, V)

        def forward(self, ids):
            out, _ = self.lstm(self.embed(ids))
            return self.head(out)

    ts.manual_seed(rank)
    model = CharLSTM().to(device)
    ddp = ts.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
    opt = ts.optim.Adam(ddp.parameters(), lr=1e-3)
    rng = np.random.default_rng(rank)
    x = ts.tensor(rng.integers(0, V, (args.seq, args.batch)), device=device)
    y = ts.tensor(rng.integers(0, V, (args.seq, args.batch)), device=device)
    launches = []
    start = group.comm.start_all_reduce

    def launch(array, op="sum"):
        launches.append(int(array.size))
        return start(array, op)

    group.comm.start_all_reduce = launch
    be = ts.get_backend(device)

    def step():
        opt.zero_grad()
        F.cross_entropy(ddp(x).reshape(-1, V), y.reshape(-1)).backward()
        opt.step()
        be.synchronize()

    for _ in range(3):  # warm-up; the first backward also rebuilds the buckets
        step()
    del launches[:]
    times, exposed = [], []
    for _ in range(args.steps):
        dist.barrier()  # ranks start together, so waits measure communication, not skew
        w0 = ddp.comm_stats["wait_seconds"]
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        exposed.append(ddp.comm_stats["wait_seconds"] - w0)
    group.comm.start_all_reduce = start
    per_step = launches[: len(launches) // args.steps]

    # Communication alone: the same buckets, one after another, nothing else running.
    alone = []
    for _ in range(max(5, args.steps // 2)):
        dist.barrier()
        t0 = time.perf_counter()
        works = [group.comm.start_all_reduce(b.flat, "mean") for b in ddp._buckets]
        for w in works:
            w.wait()
        be.synchronize()
        alone.append(time.perf_counter() - t0)

    param_bytes = sum(p._data.nbytes for p in model.parameters())
    everyone = group.mpi.gather({"times": times, "exposed": exposed, "alone": alone, "launches": per_step}, root=0)
    result = None
    if rank == 0:
        med = statistics.median
        t_step = med(everyone[0]["times"])
        comm_alone = med(everyone[0]["alone"])
        # per step: the last rank to finish backward waits only for communication; the others, also for it
        waits = list(zip(*(r["exposed"] for r in everyone)))
        t_exposed = med(min(w) for w in waits)
        t_skew = med(max(w) - min(w) for w in waits)
        result = {
            "ranks": size, "backend": group.backend, "device": device, "batch_per_rank": args.batch,
            "seq": args.seq, "hidden": args.hidden, "parameters": sum(p.numel() for p in model.parameters()),
            "buckets": len(ddp._buckets), "step_ms": t_step * 1e3,
            "slowest_rank_step_ms": max(med(r["times"]) for r in everyone) * 1e3,
            "samples_per_s": size * args.batch * args.seq / t_step, "comm_alone_ms": comm_alone * 1e3,
            "exposed_ms": t_exposed * 1e3, "skew_ms": t_skew * 1e3, "comm_share_of_step": comm_alone / t_step,
            "hidden_fraction": (max(0.0, 1 - t_exposed / comm_alone) if comm_alone > 0 else None),
            "bytes_to_allreduce_per_rank": ddp.comm_stats["bytes"] / max(1, ddp.comm_stats["steps"]),
            "param_bytes": param_bytes, "ring_bytes_per_rank": 2 * (size - 1) / size * param_bytes,
            "same_order_on_all_ranks": all(r["launches"] == everyone[0]["launches"] for r in everyone),
            "reductions_per_step": len(per_step),
        }  # fmt: skip
    dist.destroy_process_group()
    return result


def _mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def table(rows) -> str:
    base = next((r for r in rows if r["ranks"] == 1), None)
    header = ["ranks", "step ms", "samples/s", "scaling eff.", "comm alone ms", "exposed ms", "skew ms", "hidden",
              "comm share", "bytes to all-reduce / rank", "2(N-1)/N x params", "same order"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        eff = "" if base is None else f"{r['samples_per_s'] / (r['ranks'] * base['samples_per_s']):.0%}"
        hidden = "n/a" if r["ranks"] == 1 or r["hidden_fraction"] is None else f"{r['hidden_fraction']:.0%}"
        cells = [r["ranks"], f"{r['step_ms']:.1f}", f"{r['samples_per_s']:.0f}", eff, f"{r['comm_alone_ms']:.2f}",
                 f"{r['exposed_ms']:.2f}", f"{r['skew_ms']:.2f}", hidden, f"{r['comm_share_of_step']:.1%}",
                 f"{r['bytes_to_allreduce_per_rank'] / 1e6:.2f} MB", f"{r['ring_bytes_per_rank'] / 1e6:.2f} MB",
                 "yes" if r["same_order_on_all_ranks"] else "NO"]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        result = worker(args)
        if result is not None:
            print(json.dumps(result))
        return
    sizes = [int(s) for s in args.sizes.split(",")] + ([4] if args.ordering else [])
    cores = os.cpu_count()
    print(f"load average before: {os.getloadavg()[0]:.2f}; {cores} cores; device {args.device}")
    rows = []
    passthrough = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                   if k in ("steps", "batch", "seq", "hidden", "bucket_cap_mb", "device")]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    for n in sizes:
        cmd = [_mpiexec(), "-n", str(n), sys.executable, __file__, "--worker"] + passthrough
        with tempfile.TemporaryDirectory() as scratch:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=scratch, timeout=600)
        if proc.returncode != 0:
            print(f"{n} ranks failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
            sys.exit(1)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["oversubscribed"] = n > cores
        rows.append(row)
    print(f"char LSTM, {rows[0]['parameters']:,} parameters ({rows[0]['param_bytes'] / 1e6:.2f} MB), "
          f"{args.batch} streams x {args.seq} steps per rank, bucket cap {args.bucket_cap_mb:g} MB, "
          f"backend {rows[0]['backend']}, {rows[-1]['buckets']} buckets, {rows[-1]['reductions_per_step']} "
          "reductions per step")  # fmt: skip
    print(table(rows))
    for r in rows:
        if r["oversubscribed"]:
            print(f"{r['ranks']} ranks on {cores} cores: oversubscribed; only its order check means anything")
    two = next((r for r in rows if r["ranks"] == 2), None)
    one = next((r for r in rows if r["ranks"] == 1), None)
    if one and two:
        # Ranks with cores (or GPUs) of their own would each take about one rank's compute time, plus
        # whatever communication backward did not hide.
        projected = one["step_ms"] / (one["step_ms"] + two["exposed_ms"])
        print(f"with a core per rank, 2-rank efficiency would be about {projected:.0%} "
              f"(1-rank step {one['step_ms']:.1f} ms + exposed communication {two['exposed_ms']:.2f} ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
