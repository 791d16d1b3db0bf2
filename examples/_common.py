"""What the examples share: command-line options, a progress bar, the output folder, plots.

Each example imports this module first, then numpy and tinyseq.
"""

from __future__ import annotations

import os

# The examples run many small matrix products (batch 32-64, hidden 32-256).
# OpenBLAS threads buy nothing at that size and, on a machine whose cores are
# busy with other work, their spin-waiting makes each product 10x slower.
# Only takes effect when this module is imported before numpy (as a script
# does); set OPENBLAS_NUM_THREADS yourself to choose otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tinyseq as ts  # noqa: E402


def parser(name: str, doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every example takes:
    --device, --seed, --out (default runs/<name>/) and --smoke."""
    p = argparse.ArgumentParser(
        prog=f"{name}.py",
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda (any device tinyseq knows; default cpu)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=f"runs/{name}", help=f"folder for pictures and results (default runs/{name}/)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: finishes in seconds (what the tests run)")
    p.set_defaults(name=name)
    return p


def add_distributed(p: argparse.ArgumentParser) -> None:
    """The --distributed option of the examples that can train on several processes."""
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training on the processes mpiexec started, e.g. "
                        f"`mpiexec -n 2 python -m mpi4py examples/{p.prog} --distributed` (one GPU each with "
                        "--device cuda); only rank 0 prints, draws and writes files")  # fmt: skip


def setup(args) -> Path:
    """Seed every generator, check the device, make the output folder; returns it.

    With ``args.distributed``: join the other processes first (``args.rank``,
    ``args.world``; on CUDA, ``args.device`` becomes this rank's GPU), and silence
    every rank but 0."""
    args.clock = (time.perf_counter(), time.process_time())
    args.rank, args.world = 0, 1
    if getattr(args, "distributed", False):
        group = ts.distributed.init_process_group("nccl" if args.device.startswith("cuda") else "mpi")
        args.rank, args.world, args.device = group.rank, group.size, group.device
        if args.rank != 0:
            _main_process[0] = False
            sys.stdout = open(os.devnull, "w")  # for the rest of the process
    # Each rank its own random stream (dropout masks); DistributedDataParallel copies rank 0's weights.
    ts.manual_seed(args.seed + args.rank)
    ts.get_backend(args.device)  # an unknown or unavailable device fails here, with a clear message
    out = Path(args.out)
    if args.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    size = "smoke" if args.smoke else "default"
    where = f", {args.world} processes" if args.world > 1 else ""
    print(f"{args.name}: device {args.device}{where}, seed {args.seed}, {size} size, output in {out}/")
    return out


_main_process = [True]  # False on ranks other than 0 of a --distributed run: no progress bar


def resume(path: Path, steps: int, device) -> dict:
    """The checkpoint that ``--resume`` continues, or a SystemExit that says what is wrong
    and what to do: no checkpoint yet, a damaged one, or one already at or past ``--steps``
    (which would train nothing and overwrite the outputs with empty ones)."""
    if not path.exists():
        raise SystemExit(
            f"--resume: no checkpoint at {path}. Run once without --resume (with the same --out) to make one, "
            "or point --out at the folder of the run to continue."
        )
    try:
        ckpt = ts.load(path, device=device)
    except (ts.CheckpointError, OSError, ValueError) as e:
        raise SystemExit(f"--resume: cannot read the checkpoint {path}: {e}") from None
    done = ckpt.get("step") if isinstance(ckpt, dict) else None
    if not isinstance(done, int):
        raise SystemExit(f"--resume: {path} is not a checkpoint of this example (it has no step count)")
    if steps <= done:
        raise SystemExit(
            f"--resume: the checkpoint {path} is already at step {done}, and --steps {steps} asks for no more "
            f"training. Pass --steps larger than {done} to continue."
        )
    return ckpt


def rng(args) -> np.random.Generator:
    """The generator for data made on the host (corpus splits, synthetic tasks)."""
    return np.random.default_rng(args.seed)


class Progress:
    """A progress bar showing the running loss: tqdm when installed, plain lines otherwise.

    bar.update(loss=2.31)          one step done; shows the latest values
    bar.write("sample: ...")       a line that does not break the bar
    """

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n = total, desc, 0
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self._next_print = 0.0
        self.quiet = not _main_process[0]
        try:
            if self.quiet:
                raise ImportError
            from tqdm.auto import tqdm
        except ImportError:
            self.bar = None
        else:
            # Outside a terminal (a log file) tqdm redraws on new lines: fewer redraws there.
            interval = 0.2 if sys.stderr.isatty() else 10.0
            self.bar = tqdm(total=total, desc=desc, dynamic_ncols=True, mininterval=interval, leave=True)

    def update(self, n: int = 1, **values) -> None:
        self.n += n
        if self.quiet:
            return
        text = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        if self.bar is not None:
            if values:
                self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(n)
            return
        # Without tqdm: a line every 10% of the run (and at the end).
        if self.n >= self._next_print or self.n == self.total:
            self._next_print = self.n + max(1, self.total // 10)
            elapsed = time.perf_counter() - self.start
            print(f"{self.desc}: {self.n}/{self.total} [{elapsed:.0f}s] {text}", flush=True)

    def write(self, message: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(message)
        else:
            print(message, flush=True)

    def close(self) -> float:
        """Close the bar; returns the seconds it ran (``self.cpu_seconds``: the CPU time this process used)."""
        if self.bar is not None:
            self.bar.close()
        self.cpu_seconds = time.process_time() - self.cpu_start
        return time.perf_counter() - self.start


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def pyplot():
    """matplotlib.pyplot drawing to files only (the Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> str:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    print(f"  wrote {path}")
    return str(path)


def save_results(out: Path, results: dict, args) -> dict:
    """Write results.json (the run's numbers, its options, and the wall-clock and CPU
    seconds since ``setup``) next to the pictures; returns results."""
    wall, cpu = args.clock
    results = dict(results, wall_seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu)
    results["options"] = {k: v for k, v in vars(args).items() if k != "clock"}
    print(f"{args.name}: done in {results['wall_seconds']:.0f} s ({results['cpu_seconds']:.0f} s of CPU time)")

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (np.floating, float)):
            return None if not math.isfinite(v) else float(f"{v:.7g}")  # 7 significant digits, tiny values kept
        if isinstance(v, np.integer):
            return int(v)
        return v

    (out / "results.json").write_text(json.dumps(plain(results), indent=2) + "\n")
    return results


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(c) for c in header]] + [[_fmt(c) if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
