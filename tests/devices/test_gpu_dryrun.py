"""The one-command GPU check, run end to end on the fake CuPy (no GPU needed).

The real run happens on a lent GPU machine with little time to spare, so the
script, the GPU tests' own code and the benchmark's code paths (PyTorch side
included, on the CPU) are exercised here on every run: a typo in them fails
this test instead of wasting the GPU run."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_GPU = ROOT / "tests" / "support" / "fakegpu"


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash and timeout")
def test_gpu_check_script_runs_end_to_end_on_the_fake_gpu(tmp_path):
    # (the examples' --device cuda runs are covered by test_device_switching.py)
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable, PYTHONPATH=str(FAKE_GPU), GPU_CHECK_EXAMPLES="0")
    r = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--quick", "--runs", "1", "--cpu-runs", "1"],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    tail = r.stdout[r.stdout.index("GPU check summary") :]
    assert "passed" in tail and "failed" not in tail
    for problem in ("A ", "C ", "E ", "ConvLSTM", "overhead", "tinyseq CPU vs GPU on C"):
        assert problem in tail, problem
    result = json.loads((tmp_path / "gpu_bench.json").read_text())
    rows = {row["problem"]: row for row in result["rows"]}
    if importlib.util.find_spec("torch") is not None:  # the PyTorch side ran too, and computed the same step
        assert rows["E"]["grad_rel_diff"] < 1e-4
    assert {"env.txt", "gpu_tests.log", "gpu_bench.log", "gpu_profile.txt"} <= {p.name for p in tmp_path.iterdir()}
    assert "steps.py" in (tmp_path / "gpu_profile.txt").read_text()  # the step nodes show up
    if (tmp_path / "distributed_bench.json").exists():  # mpi4py installed: the nccl stage ran, on the fake NCCL
        assert "distributed exit code: 0" in (tmp_path / "distributed_tests.log").read_text()
        assert json.loads((tmp_path / "distributed_bench.json").read_text())[0]["backend"] == "nccl"


def test_gpu_tests_run_as_a_script_without_pytest_on_the_fake_gpu():
    # gpu_check.sh falls back to this where pytest is missing (simulated: `import pytest` fails)
    code = (
        "import sys, runpy; sys.modules['pytest'] = None; sys.argv = ['test_gpu.py']\n"
        "runpy.run_path('tests/devices/test_gpu.py', run_name='__main__')\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{FAKE_GPU}{os.pathsep}{ROOT}")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "GPU tests: all passed" in r.stdout
    assert "device cases agree with the CPU on cuda" in r.stdout
