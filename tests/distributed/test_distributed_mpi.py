"""ts.distributed and DistributedDataParallel across real processes: ``mpiexec -n 2`` runs
tests/distributed/distributed_worker.py, which reports what each scenario measured; the checks are here."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "distributed" / "distributed_worker.py"


def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"  # the launcher of the MPI that mpi4py uses
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                       reason='mpi4py is not installed (pip install "tinyseq[distributed]")'),
    pytest.mark.skipif(MPIEXEC is None, reason='no mpiexec found (pip install "tinyseq[distributed]" brings MPICH\'s)'),
]  # fmt: skip


def _run(args, n=None, timeout=60):
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", OPENBLAS_NUM_THREADS="1")
    env.pop("PMI_SIZE", None)
    cmd = ([MPIEXEC, "-n", str(n)] if n else []) + [sys.executable, str(WORKER)] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """Every scenario, once, on 2 ranks."""
    path = tmp_path_factory.mktemp("ddp") / "results.json"
    proc = _run(["checks", str(path)], n=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(path.read_text())


def test_collectives(two):
    r = two["collectives"]
    assert r["sum"] == [3.0, 6.0] and r["mean"] == [1.5, 3.0] and r["max"] == [1.0, 0.0]
    assert r["broadcast"] == [1.0, 1.0, 1.0]  # rank 1's
    assert r["gather"] == [[0.0, 0.5], [1.0, 1.5]]


def test_replicas_seeded_differently_are_equal_after_construction(two):
    assert two["construction_and_grads"]["equal_after_construction"]


def test_gradients_of_2_ranks_with_half_batches_equal_one_process_with_the_whole_batch(two):
    r = two["construction_and_grads"]
    assert r["buckets"] > 1  # the test covers several buckets
    assert r["max_grad_diff_vs_one_process"] < 1e-12
    assert r["max_grad_diff_between_ranks"] == 0.0


def test_replicas_stay_bitwise_equal_after_optimizer_steps(two):
    r = two["steps"]
    assert r["bitwise_equal_after_steps"]
    assert r["comm_stats"]["steps"] == r["steps"] and r["comm_stats"]["bytes"] > 0


def test_no_sync_accumulates_locally_then_averages_the_sum(two):
    r = two["no_sync"]
    assert r["ranks_differ_inside_no_sync"]
    assert r["max_grad_diff_vs_one_process"] < 1e-12


def test_unused_parameters(two):
    r = two["unused"]
    assert r["never_grad_is_none"]
    assert r["b_bias_grad"] == pytest.approx(r["b_bias_expected"], abs=1e-12)
    assert r["b_equal_on_ranks"]
    message = r["error_without_find_unused"]
    assert "expected to have finished reduction in the prior iteration" in message
    assert "b.weight" in message and "find_unused_parameters=True" in message


def test_a_bucket_reduction_starts_before_backward_ends(two):
    events = two["overlap_and_order"]["events"]
    first = next(i for i, e in enumerate(events) if e.startswith("reduce"))
    assert first < events.index("backward reaches l1's output") < events.index("backward returned"), events


def test_every_rank_starts_the_same_reductions_in_the_same_order(two):
    r = two["overlap_and_order"]
    assert r["hook_orders"][0] != r["hook_orders"][1]  # the ranks' gradients became ready in different orders
    assert r["launches"][0] == r["launches"][1] and len(r["launches"][0]) >= 5


def test_sampler_covers_every_index_once_per_epoch(two):
    r = two["sampler"]
    for epoch in ("epoch0", "epoch1"):
        assert sorted(i for part in r[epoch] for i in part) == list(range(12))
    assert r["epoch0"] != r["epoch1"]  # set_epoch reshuffles
    loader = [x for part in r["loader"] for b in part for x in b]
    assert sorted(loader) == [float(i) for i in range(10)]


def test_shard_streams_splits_batchify_columns(two):
    r = two["streams"]
    assert [c for part in r["columns"] for c in part] == r["full"]


def test_a_rank_that_raises_ends_the_job_quickly_with_an_error():
    start = time.perf_counter()
    proc = _run(["crash"], n=2, timeout=60)
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr
    assert time.perf_counter() - start < 20


def test_a_world_of_one_without_a_launcher(tmp_path):
    path = tmp_path / "single.json"
    proc = _run(["single", str(path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(path.read_text())
    assert (r["rank"], r["size"], r["backend"]) == (0, 1, "mpi")
    assert r["max_grad_diff"] == 0.0
    assert r["hooked_with_wrapper"] > 0 and r["hooked_after_wrapper_dropped"] == 0
    assert "world_size=2 was asked for" in r["world_size_error"]
    assert "not started by mpiexec" in r["world_size_error"] and "mpiexec -n N" in r["world_size_error"]
    assert "PMI_SIZE=3" in r["launcher_mismatch_error"] and "different MPI" in r["launcher_mismatch_error"]
    assert "twice" in r["twice_error"]
    assert not r["initialized_after_destroy"]


def _example(name, args, tmp_path, n=None):
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env.pop("PMI_SIZE", None)
    launch = [MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py"] if n else [sys.executable]
    cmd = launch + [str(ROOT / "examples" / f"{name}.py"), "--smoke", "--out", str(tmp_path)] + args
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc, json.loads((tmp_path / "results.json").read_text())


def test_char_lstm_on_2_processes_matches_one_process(tmp_path):
    proc, two_ranks = _example("char_lstm", ["--distributed"], tmp_path / "two", n=2)
    assert proc.stdout.count("char_lstm: device cpu, 2 processes") == 1  # rank 1 prints nothing
    assert two_ranks["processes"] == 2 and (tmp_path / "two" / "checkpoint.npz").exists()
    _, one = _example("char_lstm", [], tmp_path / "one")
    # the same global batch, split 2 + 2 streams: the same training, up to float32 rounding
    assert two_ranks["validation_bpc"] == pytest.approx(one["validation_bpc"], rel=1e-4)
    assert two_ranks["final_loss"] == pytest.approx(one["final_loss"], rel=1e-4)


def test_forecast_example_with_a_distributed_sampler(tmp_path):
    proc, results = _example("forecast_sliding_window", ["--distributed"], tmp_path, n=2)
    assert proc.stdout.count("kept the model of epoch") == 1
    assert (tmp_path / "forecast.png").exists() and results["final_loss"] > 0
