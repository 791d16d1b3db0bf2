"""The nccl backend on real GPUs: ``mpiexec -n G`` (G = the GPUs here) runs
tests/distributed/distributed_worker.py's GPU scenarios. Skipped without CuPy, a GPU, CuPy's NCCL, mpi4py
or mpiexec."""

import importlib.util
import json

import pytest

import tinyseq as ts

pytest.importorskip("cupy")
if importlib.util.find_spec("mpi4py") is None:
    pytest.skip('mpi4py is not installed (pip install "tinyseq[distributed]")', allow_module_level=True)
if ts.cuda.device_count() == 0:
    pytest.skip("no CUDA GPU here", allow_module_level=True)
try:
    from tinyseq_gpu.nccl import import_nccl

    import_nccl()
except RuntimeError as e:
    pytest.skip(f"no NCCL for CuPy here: {e}", allow_module_level=True)

from test_distributed_mpi import MPIEXEC, _run  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec found")]


@pytest.mark.parametrize("ranks", sorted({1, min(2, ts.cuda.device_count())}))
def test_nccl_backend(ranks, tmp_path):
    path = tmp_path / "nccl.json"
    proc = _run(["nccl", str(path)], n=ranks, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(path.read_text())
    assert (r["size"], r["backend"], r["device"]) == (ranks, "nccl", "cuda:0")
    c = r["collectives"]
    assert c["sum"] == [n * (n + 1) / 2 * v for n in [ranks] for v in (1.0, 2.0)]
    assert c["gather"] == [[i, i + 0.5] for i in range(ranks)]
    assert r["construction_and_grads"]["equal_after_construction"]
    assert r["construction_and_grads"]["max_grad_diff_vs_one_process"] < 1e-12
    assert r["steps"]["bitwise_equal_after_steps"]
    assert r["no_sync"]["max_grad_diff_vs_one_process"] < 1e-12
