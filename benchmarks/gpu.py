"""Recurrent training steps on a GPU: tinyseq (CuPy + fused kernels) vs PyTorch CUDA (cuDNN).

    python benchmarks/gpu.py [--problems A,C,E,ConvLSTM] [--runs 10] [--json out.json] [--quick]
    python benchmarks/gpu.py --summary DIR      # the table of a finished gpu_check.sh run

A step: clear the gradients, run the layer on a fixed input (which needs no
gradient), take out.sum() (ConvLSTM: out.mean()) and backpropagate into every
parameter. Both libraries run float32 with TF32 off (plain fp32 matrix
products on both sides: CuPy's default; PyTorch's allow_tf32 flags set False),
on the same weights (tinyseq loads PyTorch's) and the same input. Every timed
step is synchronized before and after; each number is the median of --runs
steps after two warm-up steps, the libraries alternating step by step.
ratio = tinyseq / PyTorch (lower is better).

Problems:
  A         LSTM, batch 32, seq 50, input 64, hidden 256
  C         LSTM, batch 64, seq 100, input 512, hidden 512
  E         LSTM, batch 128, seq 200, input 1024, hidden 1024      target: ratio <= 2
  ConvLSTM  batch 8, 1 -> 16 channels, 64x64 frames, T = 10, 3x3 kernel
            (PyTorch has no ConvLSTM: its side is the textbook loop of conv2d + gates)
Also timed: tinyseq on the GPU with its fused CUDA kernels switched off
(``backend.kernels = {}``: the same graph, CuPy array code) on A and C; tinyseq
on the CPU on C (2 steps), for the speed-up the GPU buys (target >= 10x); and
the fixed cost of a step (E's 200 steps at batch 1, width 8), where Python
and kernel launches are all there is.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinyseq as ts  # noqa: E402

PROBLEMS = {  # name: (T, B, I, H)
    "A": (50, 32, 64, 256),
    "C": (100, 64, 512, 512),
    "E": (200, 128, 1024, 1024),
}
QUICK = {"A": (5, 2, 3, 4), "C": (6, 3, 5, 6), "E": (7, 2, 4, 5)}
CONV = {"T": 10, "B": 8, "C": 1, "hidden": 16, "size": 64, "k": 3}
CONV_QUICK = {"T": 3, "B": 2, "C": 1, "hidden": 3, "size": 6, "k": 3}
TARGETS = {"E": 2.0}  # tinyseq / PyTorch at most
CPU_SPEEDUP_TARGET = 10.0


class _Ref:
    """PyTorch on its CUDA device (on the CPU only for --quick dry runs of this script)."""

    def __init__(self, torch, device):
        self.torch, self.device = torch, device
        self.sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _reference(quick):
    try:
        import torch
    except ImportError:
        return None
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return _Ref(torch, "cuda")
    return _Ref(torch, "cpu") if quick else None


def _timer(sync):
    def run(fn):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return (time.perf_counter() - t0) * 1e3

    return run


def _time(fns, syncs, runs, warmup=2):
    """Median ms per call of each fn, interleaved step by step."""
    timers = [_timer(s) for s in syncs]
    for fn, timer in zip(fns, timers):
        for _ in range(warmup):
            timer(fn)
    samples = [[] for _ in fns]
    for _ in range(runs):
        for fn, timer, out in zip(fns, timers, samples):
            out.append(timer(fn))
    return [statistics.median(s) for s in samples]


def _rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _lstm_problem(name, dims, ref_lib, runs, cpu_runs):
    T, B, I, H = dims
    gpu = ts.get_backend("cuda")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    ours = ts.nn.LSTM(I, H)
    ref = None
    if ref_lib is not None:
        torch = ref_lib.torch
        torch.manual_seed(0)
        ref = torch.nn.LSTM(I, H).to(ref_lib.device)
        ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    cpu_model = ts.nn.LSTM(I, H)
    cpu_model.load_state_dict(ours.state_dict())
    ours.to("cuda")
    xs = ts.tensor(x, device="cuda")

    def step_ts():
        ours.zero_grad()
        out, _ = ours(xs)
        out.sum().backward()

    row = {"problem": name, "shape": f"T={T} B={B} I={I} H={H}"}
    fns, syncs = [step_ts], [gpu.synchronize]
    if ref is not None:
        xt = torch.from_numpy(x).to(ref_lib.device)

        def step_torch():
            ref.zero_grad(set_to_none=True)
            out, _ = ref(xt)
            out.sum().backward()

        fns.append(step_torch)
        syncs.append(ref_lib.sync)
        step_ts()
        step_torch()
        # the same computation on both sides, or the ratio means nothing
        row["grad_rel_diff"] = _rel_diff(ours.weight_hh_l0.grad.numpy(), ref.weight_hh_l0.grad.cpu().numpy())
    if ref is not None and ref_lib.device == "cuda" and name == "E":
        torch.cuda.reset_peak_memory_stats()
    times = _time(fns, syncs, runs)
    row["tinyseq_ms"] = times[0]
    if ref is not None:
        row["torch_ms"] = times[1]
        row["ratio"] = times[0] / times[1]
        if ref_lib.device == "cuda" and name == "E":
            row["torch_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    row["cupy_pool_mb"] = gpu.cupy.get_default_memory_pool().total_bytes() / 2**20
    if name in ("A", "C"):
        kept = gpu.kernels
        gpu.kernels = {}
        try:
            row["tinyseq_unfused_ms"] = _time([step_ts], [gpu.synchronize], max(3, runs // 2))[0]
        finally:
            gpu.kernels = kept
    if name == "C" and cpu_runs:
        xc = ts.tensor(x)

        def step_cpu():
            cpu_model.zero_grad()
            out, _ = cpu_model(xc)
            out.sum().backward()

        row["tinyseq_cpu_ms"] = _time([step_cpu], [lambda: None], cpu_runs, warmup=1)[0]
        row["cpu_over_gpu"] = row["tinyseq_cpu_ms"] / row["tinyseq_ms"]
    return row


def _conv_problem(dims, ref_lib, runs):
    T, B, C, hid, S, k = (dims[n] for n in ("T", "B", "C", "hidden", "size", "k"))
    gpu = ts.get_backend("cuda")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, C, S, S)).astype(np.float32)
    bound = 1 / np.sqrt((C + hid) * k * k)
    weight = rng.uniform(-bound, bound, (4 * hid, C + hid, k, k)).astype(np.float32)
    bias = rng.uniform(-bound, bound, (4 * hid,)).astype(np.float32)
    model = ts.nn.ConvLSTM(C, hid, k)
    model.load_state_dict({"weight_l0": weight, "bias_l0": bias})
    model.to("cuda")
    xs = ts.tensor(x, device="cuda")

    def step_ts():
        model.zero_grad()
        out, _ = model(xs)
        out.mean().backward()

    row = {"problem": "ConvLSTM", "shape": f"T={T} B={B} {C}->{hid}ch {S}x{S} k={k}"}
    fns, syncs = [step_ts], [gpu.synchronize]
    if ref_lib is not None:
        torch = ref_lib.torch
        F = torch.nn.functional
        w = torch.tensor(weight, device=ref_lib.device, requires_grad=True)
        b = torch.tensor(bias, device=ref_lib.device, requires_grad=True)
        xt = torch.tensor(x, device=ref_lib.device)

        def step_torch():
            w.grad = b.grad = None
            h = c = xt.new_zeros(B, hid, S, S)
            outs = []
            for t in range(T):
                i, f, g, o = F.conv2d(torch.cat([xt[t], h], 1), w, b, padding=k // 2).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                outs.append(h)
            torch.stack(outs).mean().backward()

        fns.append(step_torch)
        syncs.append(ref_lib.sync)
        step_ts()
        step_torch()
        row["grad_rel_diff"] = _rel_diff(model.weight_l0.grad.numpy(), w.grad.cpu().numpy())
    times = _time(fns, syncs, runs)
    row["tinyseq_ms"] = times[0]
    if ref_lib is not None:
        row["torch_ms"] = times[1]
        row["ratio"] = times[0] / times[1]
    return row


def _overhead_step(T):
    """A training step of an LSTM of length T at batch 1, width 8 on the GPU: all
    fixed cost (Python, CuPy's dispatch, launches), no arithmetic to speak of."""
    model = ts.nn.LSTM(8, 8).to("cuda")
    xs = ts.randn(T, 1, 8, device="cuda")

    def step():
        model.zero_grad()
        out, _ = model(xs)
        out.sum().backward()

    return step


def _overhead(T, runs):
    """A step of E's length at batch 1, width 8: what Python and launches cost."""
    ms = _time([_overhead_step(T)], [ts.get_backend("cuda").synchronize], runs)[0]
    return {"problem": "overhead", "shape": f"T={T} B=1 I=8 H=8", "tinyseq_ms": ms, "per_step_us": ms * 1e3 / T}


def profile_overhead(T, path, runs=5):
    """Write where the host time of the overhead step goes (cProfile, by own time) to
    ``path``: the functions to make cheaper when the fixed cost per step is too high."""
    import cProfile
    import io
    import pstats

    step, sync = _overhead_step(T), ts.get_backend("cuda").synchronize
    step()
    sync()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        step()
    sync()
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(25)
    path.write_text(f"{runs} training steps, LSTM T={T} B=1 I=8 H=8 on the GPU (host time)\n" + text.getvalue())


def _card():
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception as e:  # the fake CuPy of dry runs, or an odd driver
        return f"unknown ({type(e).__name__})"


def _fmt(v, spec=".1f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def table(result) -> str:
    """The benchmark as a text table (printed last by the runs and by --summary)."""
    lines = [f"card: {result.get('card')}   tinyseq {result.get('tinyseq')}   cupy {result.get('cupy')}   "
             f"torch {result.get('torch')}   float32, TF32 off"]  # fmt: skip
    header = (f"{'problem':<9} {'shape':<28} {'tinyseq ms':>11} {'torch ms':>9} {'ratio':>7} "
              f"{'target':>7} {'unfused ms':>11} {'grad diff':>10}")  # fmt: skip
    lines += [header, "-" * len(header)]
    for r in result["rows"]:
        target = TARGETS.get(r["problem"])
        verdict = ""
        if target is not None and r.get("ratio") is not None:
            verdict = "ok" if r["ratio"] <= target else "MISSED"
        lines.append(
            f"{r['problem']:<9} {r['shape']:<28} {_fmt(r.get('tinyseq_ms')):>11} {_fmt(r.get('torch_ms')):>9} "
            f"{_fmt(r.get('ratio'), '.2f', 'x'):>7} {(f'<={target:g} ' + verdict) if target else '':>7} "
            f"{_fmt(r.get('tinyseq_unfused_ms')):>11} {_fmt(r.get('grad_rel_diff'), '.1e'):>10}"
        )
    for r in result["rows"]:
        if "tinyseq_cpu_ms" in r:
            ok = "ok" if r["cpu_over_gpu"] >= CPU_SPEEDUP_TARGET else "MISSED"
            lines.append(f"tinyseq CPU vs GPU on {r['problem']}: {r['tinyseq_cpu_ms']:.0f} ms vs "
                         f"{r['tinyseq_ms']:.1f} ms = {r['cpu_over_gpu']:.1f}x faster on the GPU "
                         f"(target >= {CPU_SPEEDUP_TARGET:g}x: {ok})")  # fmt: skip
        if r["problem"] == "overhead":
            lines.append(f"fixed cost of a step (Python + launches): {r['per_step_us']:.0f} us per time step "
                         f"({r['shape']})")  # fmt: skip
        if r.get("torch_peak_mb") is not None:
            lines.append(f"memory on {r['problem']}: torch peak {r['torch_peak_mb']:.0f} MiB, "
                         f"CuPy pool {_fmt(r.get('cupy_pool_mb'), '.0f')} MiB")  # fmt: skip
    return "\n".join(lines)


def summary(folder: Path) -> str:
    """gpu_check.sh's final table: the card, the test verdict, the benchmark."""
    out = ["=" * 100, "GPU check summary", "=" * 100]
    env = folder / "env.txt"
    if env.exists():
        out += ["environment:"] + ["  " + ln for ln in env.read_text().strip().splitlines()]
    log = folder / "gpu_tests.log"
    if log.exists():
        lines = log.read_text().splitlines()
        verdicts = [ln for ln in lines if re.search(r"(passed|failed|error|skipped|no tests ran|GPU tests:)", ln)]
        failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR", "SKIPPED")) or " FAIL " in ln]
        out += ["tests/devices/test_gpu.py:"] + ["  " + ln for ln in failed[:20] + verdicts[-2:]]
    dist_log, dist_bench = folder / "distributed_tests.log", folder / "distributed_bench.log"
    if dist_log.exists():
        lines = dist_log.read_text().strip().splitlines()
        failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR", "SKIPPED"))]
        out += ["ts.distributed, nccl backend:"] + ["  " + ln for ln in failed[:10] + lines[-2:]]
        if dist_bench.exists():
            out += ["  " + ln for ln in dist_bench.read_text().splitlines() if ln.startswith("|")]
    examples = folder / "examples.log"
    if examples.exists() and examples.read_text().strip():
        out += ["examples (--device cuda --smoke):"] + ["  " + ln for ln in examples.read_text().strip().splitlines()]
    bench = folder / "gpu_bench.json"
    if bench.exists():
        out += ["benchmark (benchmarks/gpu.py):", table(json.loads(bench.read_text()))]
    else:
        out.append("benchmark: no results (see gpu_bench.log)")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="A,C,E,ConvLSTM")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpu-runs", type=int, default=2, help="tinyseq CPU steps on C (0: skip)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of the script itself")
    parser.add_argument("--summary", type=Path, help="print the summary of a gpu_check.sh results folder")
    parser.add_argument("--profile", type=Path, help="also write a host-time profile of the overhead step here")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    if not ts.cuda.is_available():
        print("no CUDA GPU (or no CuPy): nothing to benchmark")
        return 1
    ref_lib = _reference(args.quick)
    import cupy

    result = {
        "card": _card(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "tinyseq": ts.__version__, "cupy": cupy.__version__,
        "torch": None if ref_lib is None else f"{ref_lib.torch.__version__} on {ref_lib.device}",
        "quick": args.quick, "runs": args.runs, "rows": [],
    }  # fmt: skip
    for name in args.problems.split(","):
        t0 = time.perf_counter()
        if name == "ConvLSTM":
            if not hasattr(ts.nn, "ConvLSTM"):
                continue
            row = _conv_problem(CONV_QUICK if args.quick else CONV, ref_lib, args.runs)
        else:
            dims = (QUICK if args.quick else PROBLEMS)[name]
            row = _lstm_problem(name, dims, ref_lib, args.runs, args.cpu_runs)
        row["wall_s"] = time.perf_counter() - t0
        result["rows"].append(row)
        print(json.dumps(row), flush=True)
    T = (QUICK if args.quick else PROBLEMS)["E"][0]
    result["rows"].append(_overhead(T, args.runs))
    if args.profile:
        profile_overhead(T, args.profile)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
