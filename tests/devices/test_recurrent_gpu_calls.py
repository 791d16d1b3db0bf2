"""How many CuPy calls one time step of a recurrent layer makes, counted on the fake CuPy.

On a GPU a small recurrent layer is bound by the fixed cost of each CuPy call
(Python dispatch, a kernel launch), not by arithmetic, so the per-step count
is what sets its speed: forward, one matrix product and one fused cell kernel;
backward, one fused kernel, one matrix product and the sum of the step's two
incoming gradients. No step may wait for the device (``.item()``, ``bool``,
a copy to the host). The layer runs the real ``tinyseq_gpu`` code on the fake
CuPy in a subprocess (so that this process keeps its own view of CuPy), for
two sequence lengths; the difference is the per-step count.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_GPU = ROOT / "tests" / "support" / "fakegpu"

COUNTER = r"""
import collections, json, sys
import cupy  # the fake one: PYTHONPATH puts it first
import tinyseq as ts
import kernel_emulator  # beside the fake cupy, which put it on the path
from tinyseq.devices import strict as sd

calls = collections.Counter()
on = [False]

def counted(owner, name, label):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if on[0]:
            calls[label] += 1
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)

real_call = sd._call
def call(fn, args, kwargs, where):  # every xp.* function and ufunc, every array method
    if on[0] and not where.endswith((".reshape", ".transpose")):  # views, no launch
        calls[where] += 1
    return real_call(fn, args, kwargs, where)
sd._call = call
for op in ("add", "sub", "mul", "truediv", "matmul"):
    for form in ("__%s__", "__r%s__", "__i%s__"):
        counted(sd.StrictArray, form % op, "operator " + form % op)
counted(sd.StrictArray, "__array_ufunc__", "np ufunc")
counted(sd.StrictArray, "__setitem__", "setitem")
for sync in ("__bool__", "__float__", "__int__"):
    counted(sd.StrictArray, sync, "SYNC " + sync)
counted(cupy, "asnumpy", "SYNC asnumpy")
counted(kernel_emulator.ElementwiseEmulator, "__call__", "ElementwiseKernel")

def count(kind, T, kw):
    model = getattr(ts.nn, kind)(8, 8, **kw).to("cuda")
    x = ts.randn(T, 2, 8, device="cuda")
    out = []
    for warm in (True, False):
        calls.clear(); on[0] = not warm
        loss = model(x)[0].sum()
        forward = dict(calls); calls.clear()
        loss.backward()
        on[0] = False
    return forward, dict(calls)

kind, kw = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({T: count(kind, T, kw) for T in (8, 16)}))
"""


def per_step(kind, **kw):
    env = dict(os.environ, PYTHONPATH=f"{FAKE_GPU}{os.pathsep}{ROOT}")
    r = subprocess.run([sys.executable, "-c", COUNTER, kind, json.dumps(kw)], capture_output=True, text=True,
                       env=env, timeout=300, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    runs = json.loads(r.stdout)
    short, long = runs["8"], runs["16"]
    steps = []
    for phase in (0, 1):
        names = set(short[phase]) | set(long[phase])
        diff = {n: (long[phase].get(n, 0) - short[phase].get(n, 0)) / 8 for n in names}
        steps.append({n: v for n, v in diff.items() if v})
    return steps, long


@pytest.mark.parametrize(
    "kind, kw, forward, backward",
    [("LSTM", {}, 2, 4), ("GRU", {}, 2, 5), ("RNN", {}, 2, 3), ("RNN", {"nonlinearity": "relu"}, 2, 3)],
)  # fmt: skip
def test_calls_per_step(kind, kw, forward, backward):
    (fwd, bwd), totals = per_step(kind, **kw)
    assert sum(fwd.values()) == forward, fwd
    assert fwd.get("ElementwiseKernel") == 1 and fwd.get("xp.dot") == 1, fwd
    assert sum(bwd.values()) == backward, bwd
    assert bwd.get("ElementwiseKernel") == 1 and bwd.get("xp.dot") == 1, bwd
    syncs = [n for phase in totals for n in phase if n.startswith("SYNC")]
    assert not syncs, syncs  # nothing in a training step waits for the device


def test_lengths_and_projection_cost_a_few_more():
    (fwd, bwd), totals = per_step("LSTM", proj_size=4)
    assert sum(fwd.values()) == 3 and fwd.get("xp.dot") == 2, fwd  # + h = hf W_hr^T
    assert not [n for phase in totals for n in phase if n.startswith("SYNC")]
